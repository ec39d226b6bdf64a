"""Time is stored as UTC whatever time zone a PostgreSQL session or database is set to.

A moment written through our columns reads back as the same moment, and the column holds its
UTC wall time, from a session in India time and in a database whose default is India time.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import psycopg
import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from models.config import Settings
from models.db import get_engine
from models.outbox import Outbox
from models.times import INDIA
from tests.pg import postgres_url

pytestmark = pytest.mark.skipif(
    postgres_url() is None, reason="PostgreSQL only: SQLite has no time zones (TEST_DATABASE_URL)"
)

MOMENT = datetime(2026, 3, 1, 20, 15, 30, tzinfo=UTC)  # 01:45:30 on 2 March in India
STORED = "2026-03-01 20:15:30"  # its UTC wall time


def plain(url: str) -> psycopg.Connection:  # type: ignore[type-arg]
    """A connection of our own, with the database's default settings (no time zone pinned)."""
    parts = make_url(url)
    host, port = parts.host or "127.0.0.1", parts.port or 5432
    return psycopg.connect(host=host, port=port, user=parts.username, dbname=parts.database, autocommit=True)


def write_and_read(engine: Engine) -> int:
    """Write an outbox row at MOMENT (given in UTC and in India time) and check it reads back the same."""
    with Session(engine) as db:
        row = Outbox(kind="start", payload={}, created_at=MOMENT, next_attempt_at=MOMENT.astimezone(INDIA))
        db.add(row)
        db.commit()
        row_id = row.id
    with Session(engine) as db:
        read = db.get_one(Outbox, row_id)
        assert (read.created_at, read.next_attempt_at) == (MOMENT, MOMENT)
        assert read.created_at.utcoffset() is not None
    return row_id


def stored(url: str, row_id: int) -> tuple[str, str]:
    with plain(url) as conn:
        row = conn.execute(
            "SELECT created_at::text, next_attempt_at::text FROM outbox WHERE id = %s", (row_id,)
        ).fetchone()
    assert row is not None
    return row[0], row[1]


@contextmanager
def disposing(engine: Engine) -> Iterator[Engine]:
    try:
        yield engine
    finally:
        engine.dispose()


def test_it_stores_utc_from_a_session_in_india_time(settings: Settings) -> None:
    url = settings.database_url
    options = {"options": "-c timezone=Asia/Kolkata"}
    with disposing(create_engine(url, connect_args=options)) as india:
        with india.connect() as conn:
            assert conn.scalar(text("SHOW timezone")) == "Asia/Kolkata"
        row_id = write_and_read(india)
    assert stored(url, row_id) == (STORED, STORED)
    with Session(get_engine(url)) as db:  # and through our own connections, pinned to UTC
        assert db.get_one(Outbox, row_id).created_at == MOMENT


def test_it_pins_its_connections_to_utc_in_a_database_set_to_india_time(settings: Settings) -> None:
    url = settings.database_url
    name = make_url(url).database
    with plain(url) as conn:
        conn.execute(f"ALTER DATABASE \"{name}\" SET timezone TO 'Asia/Kolkata'")
    try:
        with plain(url) as conn:
            assert conn.execute("SHOW timezone").fetchone() == ("Asia/Kolkata",)
        # A new engine made as models/db.py makes ours (the cached one may hold older connections).
        with disposing(get_engine.__wrapped__(url)) as ours:
            with ours.connect() as conn:
                assert conn.scalar(text("SHOW timezone")) == "UTC"
                # What the server itself makes a time of (now(), casts) is UTC's wall time too.
                assert conn.scalar(text("SELECT now()::timestamp = (now() AT TIME ZONE 'UTC')")) is True
            row_id = write_and_read(ours)
        assert stored(url, row_id) == (STORED, STORED)
    finally:
        with plain(url) as conn:
            conn.execute(f'ALTER DATABASE "{name}" RESET timezone')
