"""The outbox: work for Prefect (start or resume a case's run, send an advisory), with its decision.

Any number of dispatchers share it. Each claims the rows it works on (a lease: `claimed_until`)
before it acts, so a row is handed over by one dispatcher at a time, and one that dies mid-row
frees it when the lease runs out. A case's rows go in order: a row waits while an earlier row of
its case is undone. A row that can never go (its attempts ran out, or Prefect says its run will
not continue) is parked: it stays in view with its reason until a person tries it again.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    ForeignKey,
    Index,
    String,
    Text,
    and_,
    case,
    event,
    func,
    make_url,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Mapped, Session, aliased, mapped_column

from models.cases.tables import Case, Priority
from models.db import Base
from models.times import aware, utcnow

LEASE = timedelta(seconds=60)  # longer than any one hand-off to Prefect takes
MAX_ATTEMPTS = 200  # tries while the run is not where the row expects it (about 15 minutes)
CHANNEL = "control_room_outbox"  # PostgreSQL's NOTIFY channel: a new row wakes the dispatchers


class Outbox(Base):
    """A hand-off to Prefect (start or resume a run) written with the decision."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "done_at", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)  # None: not a case's
    kind: Mapped[str] = mapped_column(String(16))  # "start" | "resume" | "advisory" | "follow-up-list" ...
    pause_key: Mapped[str] = mapped_column(String(64), default="")
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column()
    claimed_until: Mapped[datetime | None] = mapped_column()  # a dispatcher works on it until then
    claimed_by: Mapped[str] = mapped_column(String(64), default="")
    parked_at: Mapped[datetime | None] = mapped_column(index=True)  # given up: last_error says why
    # A hand-off a person may ask for twice (two clicks, two desks) is written once: the second
    # insert finds this key and adds nothing (None: no such rule, as for a case's rows).
    idempotency_key: Mapped[str | None] = mapped_column(String(64), unique=True, index=True)


class Lease(Base):
    """A duty only one process does at a time (the crash watch of the dispatchers), held until `until`."""

    __tablename__ = "leases"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(64))
    until: Mapped[datetime] = mapped_column()


def take_lease(session: Session, name: str, holder: str, now: datetime, hold: timedelta) -> bool:
    """Hold the duty `name` until now + hold if nobody else holds it; the caller commits.

    :raise IntegrityError: two processes made the first row at once (the loser rolls back).
    """
    taken = session.execute(
        update(Lease)
        .where(Lease.name == name, or_(Lease.until < now, Lease.holder == holder))
        .values(holder=holder, until=now + hold)
    )
    if taken.rowcount == 1:  # type: ignore[attr-defined]
        return True
    if session.get(Lease, name) is not None:
        return False
    session.add(Lease(name=name, holder=holder, until=now + hold))
    session.flush()
    return True


def undone_cases(session: Session, case_ids: list[int]) -> set[int]:
    """Those of case_ids that have an outbox row not yet done (waiting, claimed or parked)."""
    if not case_ids:
        return set()
    rows = session.scalars(
        select(Outbox.case_id).where(Outbox.case_id.in_(case_ids), Outbox.done_at.is_(None)).distinct()
    )
    return {case_id for case_id in rows if case_id is not None}


def _claimable(now: datetime) -> Any:
    earlier = aliased(Outbox)
    blocked = (
        select(earlier.id)
        .where(earlier.case_id == Outbox.case_id, earlier.id < Outbox.id, earlier.done_at.is_(None))
        .exists()
    )
    return and_(
        Outbox.done_at.is_(None),
        Outbox.parked_at.is_(None),
        Outbox.next_attempt_at <= now,
        or_(Outbox.claimed_until.is_(None), Outbox.claimed_until < now),
        or_(Outbox.case_id.is_(None), ~blocked),
    )


def urgent_first(priority: ColumnElement[str]) -> ColumnElement[int]:
    """An order that puts an urgent case's work (and an emergency's, which is urgent) before the rest."""
    return case((priority == Priority.urgent.value, 0), else_=1)


def claim_due(session: Session, worker: str, now: datetime, limit: int = 20) -> list[Outbox]:
    """Claim up to `limit` due rows for `worker`: an urgent case's (an emergency's too) first, then the
    longest due first; the caller commits at once.

    PostgreSQL skips rows another dispatcher has locked; on either database the conditional
    UPDATE is what makes a row one dispatcher's: of two that read it, one gets rowcount 1.
    """
    query = (
        select(Outbox.id)
        .outerjoin(Case, Case.id == Outbox.case_id)
        .where(_claimable(now))
        .order_by(urgent_first(Case.priority), Outbox.next_attempt_at, Outbox.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=Outbox)
    claimed = []
    for row_id in session.scalars(query).all():
        result = session.execute(
            update(Outbox)
            .where(Outbox.id == row_id, _claimable(now))
            .values(claimed_until=now + LEASE, claimed_by=worker)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            claimed.append(row_id)
    if not claimed:
        return []
    rows = {row.id: row for row in session.scalars(select(Outbox).where(Outbox.id.in_(claimed)))}
    return [rows[i] for i in claimed]  # in the order they were chosen: the urgent first


def _mine(row: Outbox, worker: str) -> Any:
    return and_(Outbox.id == row.id, Outbox.claimed_by == worker, Outbox.done_at.is_(None))


def mark_done(session: Session, row: Outbox, worker: str, now: datetime) -> bool:
    """The row was handed over; false if this worker's lease had run out and another took it."""
    result = session.execute(
        update(Outbox)
        .where(_mine(row, worker))
        .values(done_at=now, attempts=Outbox.attempts + 1, last_error="", claimed_until=None)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


def retry_later(
    session: Session,
    row: Outbox,
    worker: str,
    error: str,
    wait: timedelta,
    now: datetime,
    counted: bool = True,
) -> None:
    """Not this time: try again after `wait`; parked once the row's attempts run out.

    An attempt that could not reach Prefect at all is not `counted`: a server that is down for
    hours parks nothing, and every row goes once it is back.
    """
    attempts = row.attempts + int(counted)
    if attempts >= MAX_ATTEMPTS:
        park(session, row, worker, f"gave up after {attempts} attempts: {error}", now)
        return
    session.execute(
        update(Outbox)
        .where(_mine(row, worker))
        .values(attempts=attempts, last_error=error[:2000], next_attempt_at=now + wait, claimed_until=None)
    )


def park(session: Session, row: Outbox, worker: str, reason: str, now: datetime) -> None:
    """Give the row up: it stays undone, shown with `reason` to the DM, the Collector and the admin."""
    session.execute(
        update(Outbox)
        .where(_mine(row, worker))
        .values(parked_at=now, last_error=reason[:2000], attempts=Outbox.attempts + 1, claimed_until=None)
    )


def parked(session: Session, case_id: int | None = None) -> list[Outbox]:
    """Parked rows, oldest first; those of one case when case_id is given."""
    query = select(Outbox).where(Outbox.parked_at.is_not(None), Outbox.done_at.is_(None))
    if case_id is not None:
        query = query.where(Outbox.case_id == case_id)
    return list(session.scalars(query.order_by(Outbox.parked_at, Outbox.id)))


def parked_count(session: Session) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(Outbox)
            .where(Outbox.parked_at.is_not(None), Outbox.done_at.is_(None))
        )
        or 0
    )


def lag(session: Session, now: datetime) -> float:
    """Seconds the longest-waiting claimable row has been due: 0 when the dispatchers keep up.

    Only rows a dispatcher could take now count (due, unclaimed, not done, not parked, not behind
    an earlier row of their case): a row waiting out its retry while Prefect is down is not late.
    """
    oldest = session.scalar(select(func.min(Outbox.next_attempt_at)).where(_claimable(now)))
    if oldest is None:
        return 0.0
    return max(0.0, (now - aware(oldest)).total_seconds())


def try_again(session: Session, row_id: int, now: datetime) -> bool:
    """A person's *Try again* on a parked row: due now, attempts counted afresh."""
    result = session.execute(
        update(Outbox)
        .where(Outbox.id == row_id, Outbox.parked_at.is_not(None), Outbox.done_at.is_(None))
        .values(parked_at=None, attempts=0, next_attempt_at=now, last_error="", claimed_until=None)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


def supersede(session: Session, case_id: int, now: datetime, reason: str) -> int:
    """Close every undone row of a case (a new run replaces its old one); return how many."""
    result = session.execute(
        update(Outbox)
        .where(Outbox.case_id == case_id, Outbox.done_at.is_(None))
        .values(done_at=now, last_error=reason[:2000], claimed_until=None)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


@event.listens_for(Session, "after_flush")
def _ring(session: Session, _context: Any) -> None:
    """On PostgreSQL, a new row wakes the dispatchers when its transaction commits (a NOTIFY goes at
    commit, and not at all on a rollback); they also poll, which is all they do on SQLite."""
    if any(isinstance(row, Outbox) for row in session.new):
        connection = session.connection()
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(f"NOTIFY {CHANNEL}")


class Bell:
    """A dispatcher's wait between polls: `interval` seconds, cut short on PostgreSQL when a row is
    committed (LISTEN on the connection of its own). A lost connection is made again at the next wait;
    meanwhile the wait is the plain interval."""

    def __init__(self, database_url: str, interval: float) -> None:
        url = make_url(database_url)
        self.conninfo = (
            url.set(drivername="postgresql").render_as_string(hide_password=False)
            if url.get_backend_name() == "postgresql"
            else None
        )
        self.interval = interval
        self.connection: Any = None  # psycopg's, imported only where PostgreSQL is used

    def wait(self) -> bool:
        """Wait for a new row or the interval; true if a row rang."""
        if self.conninfo is not None:
            import psycopg

            try:
                if self.connection is None or self.connection.closed:
                    self.connection = psycopg.connect(self.conninfo, autocommit=True, connect_timeout=5)
                    self.connection.execute(f"LISTEN {CHANNEL}")
                return any(True for _ in self.connection.notifies(timeout=self.interval, stop_after=1))
            except psycopg.Error:
                self.close()
        time.sleep(self.interval)
        return False

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None
