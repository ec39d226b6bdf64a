"""Alembic migrations build exactly the schema the models declare."""

from __future__ import annotations

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
