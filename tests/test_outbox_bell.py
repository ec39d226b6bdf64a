"""The outbox's bell: on PostgreSQL a committed row wakes a waiting dispatcher at once; on SQLite the
dispatcher polls (DISPATCH_INTERVAL)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

from models.config import Settings
from models.outbox import Bell, Outbox


def on_postgresql(settings: Settings) -> bool:
    return settings.database_url.startswith("postgresql")


@pytest.fixture
def bell(settings: Settings) -> Iterator[Bell]:
    """A bell that has waited once: nothing to hand over yet, and listening now on PostgreSQL."""
    made = Bell(settings.database_url, interval=0.05)
    try:
        assert made.wait() is False
        yield made
    finally:
        made.close()


def add_row(session: Session) -> None:
    session.add(Outbox(kind="retries", case_id=None, payload={}))
    session.flush()


def test_a_committed_row_wakes_the_dispatcher(settings: Settings, session: Session, bell: Bell) -> None:
    add_row(session)
    session.commit()
    bell.interval = 10.0 if on_postgresql(settings) else 0.2
    started = time.monotonic()
    rang = bell.wait()
    took = time.monotonic() - started
    if on_postgresql(settings):
        assert rang and took < 2.0
    else:
        assert not rang and took >= 0.2


def test_a_row_rolled_back_rings_nothing(session: Session, bell: Bell) -> None:
    add_row(session)
    session.rollback()
    bell.interval = 0.3
    started = time.monotonic()
    assert bell.wait() is False
    assert time.monotonic() - started >= 0.3


def test_a_lost_connection_is_made_again(settings: Settings, session: Session, bell: Bell) -> None:
    if bell.connection is not None:
        bell.connection.close()  # as a restarted PostgreSQL would leave it
    assert bell.wait() is False  # the interval, then listening again
    add_row(session)
    session.commit()
    bell.interval = 10.0 if on_postgresql(settings) else 0.05
    assert bell.wait() is on_postgresql(settings)
