"""a case merged into another: the one that carries the problem now

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30 05:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


COLUMNS = ("number", "caller_name", "phone", "description")
NEW = ", ".join("new." + c for c in COLUMNS)
OLD = ", ".join("old." + c for c in COLUMNS)
LISTED = ", ".join(COLUMNS)


def search_triggers() -> None:
    """SQLite: the search index's triggers (0006), which the batch copy of `cases` dropped, and the
    index rebuilt from the table."""
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute(
        "CREATE TRIGGER IF NOT EXISTS cases_search_insert AFTER INSERT ON cases BEGIN "
        f"INSERT INTO cases_search(rowid, {LISTED}) VALUES (new.id, {NEW}); END"
    )
    op.execute(
        "CREATE TRIGGER IF NOT EXISTS cases_search_delete AFTER DELETE ON cases BEGIN "
        f"INSERT INTO cases_search(cases_search, rowid, {LISTED}) VALUES ('delete', old.id, {OLD}); END"
    )
    op.execute(
        f"CREATE TRIGGER IF NOT EXISTS cases_search_update AFTER UPDATE OF {LISTED} ON cases BEGIN "
        f"INSERT INTO cases_search(cases_search, rowid, {LISTED}) VALUES ('delete', old.id, {OLD}); "
        f"INSERT INTO cases_search(rowid, {LISTED}) VALUES (new.id, {NEW}); END"
    )
    op.execute("INSERT INTO cases_search(cases_search) VALUES ('rebuild')")


def upgrade() -> None:
    # On SQLite the foreign key makes this a copy of `cases` (batch mode), which drops its triggers.
    with op.batch_alter_table("cases") as batch_op:
        batch_op.add_column(sa.Column("merged_into_id", sa.Integer(), nullable=True))
        batch_op.create_index("ix_cases_merged_into_id", ["merged_into_id"], unique=False)
        batch_op.create_foreign_key("fk_cases_merged_into_id_cases", "cases", ["merged_into_id"], ["id"])
    search_triggers()


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch_op:
        batch_op.drop_constraint("fk_cases_merged_into_id_cases", type_="foreignkey")
        batch_op.drop_index("ix_cases_merged_into_id")
        batch_op.drop_column("merged_into_id")
    search_triggers()
