"""case text search: trigram indexes (SQLite FTS5, PostgreSQL pg_trgm)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 02:45:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("number", "caller_name", "phone", "description")
NEW = ", ".join("new." + c for c in COLUMNS)
OLD = ", ".join("old." + c for c in COLUMNS)
LISTED = ", ".join(COLUMNS)


def upgrade() -> None:
    # The same objects as models/search.py creates with the tables, frozen here. A later SQLite
    # batch migration of `cases` (copy and rename) drops the triggers: it must create them again.
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            f"CREATE VIRTUAL TABLE cases_search USING fts5({LISTED}, content='cases', content_rowid='id', "
            "tokenize='trigram')"
        )
        op.execute(
            "CREATE TRIGGER cases_search_insert AFTER INSERT ON cases BEGIN "
            f"INSERT INTO cases_search(rowid, {LISTED}) VALUES (new.id, {NEW}); END"
        )
        op.execute(
            "CREATE TRIGGER cases_search_delete AFTER DELETE ON cases BEGIN "
            f"INSERT INTO cases_search(cases_search, rowid, {LISTED}) VALUES ('delete', old.id, {OLD}); END"
        )
        op.execute(
            f"CREATE TRIGGER cases_search_update AFTER UPDATE OF {LISTED} ON cases BEGIN "
            f"INSERT INTO cases_search(cases_search, rowid, {LISTED}) VALUES ('delete', old.id, {OLD}); "
            f"INSERT INTO cases_search(rowid, {LISTED}) VALUES (new.id, {NEW}); END"
        )
        op.execute("INSERT INTO cases_search(cases_search) VALUES ('rebuild')")
    elif op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for column in COLUMNS:
            op.execute(
                f"CREATE INDEX ix_cases_{column}_trgm ON cases USING gin (lower({column}) gin_trgm_ops)"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER cases_search_{trigger}")
        op.execute("DROP TABLE cases_search")
    elif op.get_bind().dialect.name == "postgresql":
        for column in COLUMNS:
            op.execute(f"DROP INDEX ix_cases_{column}_trgm")
