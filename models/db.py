"""Engine and session factory, one of each per database URL."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from models.times import UTCDateTime


class Base(DeclarativeBase):
    """Plain declarative base: usable from Flask, Prefect tasks and scripts alike."""

    # Every `Mapped[datetime]` column stores naive UTC and reads back aware (models/times.py).
    type_annotation_map = {datetime: UTCDateTime}


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the web app read while a flow task writes; the busy timeout makes
    # concurrent writers (web, dispatcher, flow runs) wait instead of failing.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.close()


@lru_cache(maxsize=8)
def get_engine(url: str) -> Engine:
    """Return the process-wide engine for url."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 15})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # Pinned to UTC, so nothing the server or a session reads depends on the server's time zone.
    # Planned for what the app runs: short queries (JIT compiling them cost 70 ms of a 300 ms
    # dashboard query at a million cases) on SSD storage (PostgreSQL's default random_page_cost
    # of 4 assumes spinning disks and chose a scan of every case over 27,000 index lookups).
    options = "-c timezone=UTC -c jit=off -c random_page_cost=1.1"
    return create_engine(
        url, pool_pre_ping=True, pool_size=10, max_overflow=20, connect_args={"options": options}
    )


@lru_cache(maxsize=8)
def get_sessionmaker(url: str) -> sessionmaker:  # type: ignore[type-arg]
    """Return the session factory bound to url's engine."""
    return sessionmaker(get_engine(url), expire_on_commit=False)


def insert_unless_exists(session: Session, model: type[Base], unique: list[Any], **values: Any) -> Any:
    """`INSERT ... ON CONFLICT (unique) DO NOTHING` for the session's database (PostgreSQL or SQLite).

    Of two sessions inserting one key at once, the second waits for the first to commit, then adds
    nothing: no error, so its transaction keeps what else it holds, and no savepoint (pysqlite
    mishandles those). Add `.returning(model)`: None then means the row was there already.
    """
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(model).values(**values).on_conflict_do_nothing(index_elements=unique)
