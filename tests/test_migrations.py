"""Alembic migrations build exactly the schema the models declare."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from models.cases.search import mapped_only
from models.db import Base, get_engine
from models.migrate import upgrade
from tests.pg import create_database, postgres_url


def test_it_migrates_to_the_models(tmp_path) -> None:  # type: ignore[no-untyped-def]
    base = postgres_url()
    url = create_database(base, "control_room_migrations") if base else f"sqlite:///{tmp_path / 'm.sqlite'}"
    upgrade(url)
    engine = get_engine(url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": mapped_only})
        diff = compare_metadata(context, Base.metadata)
        tables = set(inspect(conn).get_table_names())
    assert diff == []
    assert {"cases", "case_events", "outbox", "deliveries", "users"} <= tables
    engine.dispose()


def test_the_case_search_still_finds_new_cases_after_every_migration(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A migration that copies `cases` (SQLite's batch mode) drops the search index's triggers unless it
    makes them again: a case opened after it must still be found by its number and its words."""
    from sqlalchemy import select

    from models.cases.search import matches_text
    from models.cases.tables import Case
    from models.db import get_sessionmaker
    from models.demo import seed
    from tests.casedata import make_case
    from tests.conftest import PASSWORD_HASH

    base = postgres_url()
    url = create_database(base, "control_room_migrations") if base else f"sqlite:///{tmp_path / 's.sqlite'}"
    upgrade(url)
    with get_sessionmaker(url)() as session:
        users = {u.username: u for u in seed(session, PASSWORD_HASH, mail_sink="127.0.0.1:9")}
        case = make_case(session, users["operator"], datetime.now(UTC), description="Oxygen plant broken")
        session.commit()
        for needle in (case.number, "oxygen plant", "98765"):
            assert session.scalars(select(Case.id).where(matches_text(needle))).all() == [case.id], needle
    get_engine(url).dispose()
