"""The processes of the system say they are alive: each records a beat (a row) in the app database.

A dispatcher (dispatch/loop.py) writes its row every BEAT; the admin's health page lists the rows, and
`/healthz` counts the dispatchers seen lately. One row per process, updated in place, so the table
holds as many rows as processes ever ran, not one per beat.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import String, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.db import Base
from models.times import aware

BEAT = timedelta(seconds=10)  # how often a process records that it is alive
STALE = 3 * BEAT  # not seen for three beats: dead, hung or cut off from the database
FORGOTTEN = timedelta(days=1)  # a process not seen this long is left off the list


class ProcessBeat(Base):
    """One process's last sign of life."""

    __tablename__ = "process_beats"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)  # host:pid, the dispatcher's worker name
    kind: Mapped[str] = mapped_column(String(16))  # "dispatcher"
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column()
    started_at: Mapped[datetime] = mapped_column()
    seen_at: Mapped[datetime] = mapped_column(index=True)
    handed: Mapped[int] = mapped_column(default=0)  # outbox rows handed to Prefect since it started


def beat(
    session: Session,
    name: str,
    kind: str,
    host: str,
    pid: int,
    started_at: datetime,
    now: datetime,
    handed: int = 0,
) -> None:
    """Record that the process `name` is alive at `now` (one row per process); the caller commits.

    `INSERT ... ON CONFLICT (name) DO UPDATE`, on PostgreSQL and SQLite alike: no read first, so two
    beats of one name never race into an IntegrityError.
    """
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    table = ProcessBeat.__table__
    values = {
        "kind": kind,
        "host": host,
        "pid": pid,
        "started_at": started_at,
        "seen_at": now,
        "handed": handed,
    }
    session.execute(
        dialect.insert(table)
        .values(name=name, **values)
        .on_conflict_do_update(index_elements=[table.c.name], set_=values)
    )


def recent(session: Session, kind: str, now: datetime) -> list[ProcessBeat]:
    """The processes of `kind` seen within FORGOTTEN, the most recently started first."""
    return list(
        session.scalars(
            select(ProcessBeat)
            .where(ProcessBeat.kind == kind, ProcessBeat.seen_at >= now - FORGOTTEN)
            .order_by(ProcessBeat.started_at.desc(), ProcessBeat.name)
        )
    )


def alive(process: ProcessBeat, now: datetime) -> bool:
    """Seen within the last three beats."""
    return now - aware(process.seen_at) <= STALE


def seen_count(session: Session, kind: str, since: datetime) -> int:
    """How many processes of `kind` recorded a beat at or after `since`."""
    query = select(func.count()).select_from(ProcessBeat).where(ProcessBeat.kind == kind)
    return int(session.scalar(query.where(ProcessBeat.seen_at >= since)) or 0)
