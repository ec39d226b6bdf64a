"""The dispatch loop: claim due outbox rows, hand each to Prefect, record the outcome; watch for crashes.

Each row is claimed in the database before it is acted on (models/outbox.py), so any number of
dispatchers, on any number of machines, share the outbox; a dispatcher killed mid-row loses
nothing: its lease runs out and another takes the row. Prefect's idempotency keys and pause keys
make the one hand-off that may then happen twice (started, but not yet marked done) harmless.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from datetime import datetime, timedelta

import httpx
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from dispatch import engine
from dispatch.engine import NeverContinues, NotReady
from models.cases.tables import Case, Priority
from models.config import Settings
from models.db import get_sessionmaker
from models.outbox import Bell, Outbox, claim_due, mark_done, park, retry_later, take_lease, undone_cases
from models.processes import BEAT, beat
from models.times import utcnow

log = logging.getLogger("control_room.dispatch")
BATCH = 10  # rows claimed at once: few enough to hand over well within one lease
WATCH_EVERY = 15.0  # seconds between looks for crashed runs (by one dispatcher at a time)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:64]


def record_beat(factory: sessionmaker, worker: str, started_at: datetime, handed: int) -> None:  # type: ignore[type-arg]
    """Say in the app database that this dispatcher is alive (the admin's health page, /healthz)."""
    with factory() as session:
        beat(session, worker, "dispatcher", socket.gethostname(), os.getpid(), started_at, utcnow(), handed)
        session.commit()


def unreachable(exc: Exception) -> bool:
    """Prefect could not be reached or answered with a server error: nothing about the row itself."""
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code >= 500
    return isinstance(exc, httpx.TransportError | ConnectionError | TimeoutError)


def hand_over(session: Session, row: Outbox, settings: Settings) -> str:
    """Do what the row asks of Prefect; return what was done. Raises as engine's calls do."""
    if row.kind in ("start", "restart"):
        urgent = session.get_one(Case, row.case_id).priority == Priority.urgent
        run_id = engine.start_case(row, settings, urgent)
        session.execute(update(Case).where(Case.id == row.case_id).values(flow_run_id=run_id))
        return f"started {run_id}"
    if row.kind == "resume":
        return engine.resume(session.get_one(Case, row.case_id).flow_run_id, row)
    if row.kind == "revive":  # a person's Try again on a run the crash watch gave up on
        return engine.revive_run(row.payload["flow_run_id"], force=True)
    return engine.start_other(row, settings)


def dispatch_once(factory: sessionmaker, settings: Settings, worker: str) -> int:  # type: ignore[type-arg]
    """Claim due rows and hand each to Prefect; return how many went. Stops at a Prefect that is down."""
    with factory() as session:
        rows = claim_due(session, worker, utcnow(), BATCH)
        session.commit()
    handed = 0
    for index, row in enumerate(rows):
        with factory() as session:
            try:
                outcome = hand_over(session, row, settings)
            except NotReady as exc:
                wait = timedelta(seconds=min(5.0, 0.25 * (row.attempts + 1)))
                retry_later(session, row, worker, str(exc), wait, utcnow())
            except NeverContinues as exc:
                park(session, row, worker, str(exc), utcnow())
                log.error("outbox %s (%s, case %s) parked: %s", row.id, row.kind, row.case_id, exc)
            except Exception as exc:  # noqa: BLE001 - whatever Prefect or the network raised
                down = unreachable(exc)
                error = f"{type(exc).__name__}: {exc}"
                wait = timedelta(seconds=min(30.0, 2.0 ** min(row.attempts, 5)))
                retry_later(session, row, worker, error, wait, utcnow(), counted=not down)
                log.warning("outbox %s for case %s: %s", row.id, row.case_id, error)
                if down:  # do not hammer a server that is down with every row: free the rest
                    for rest in rows[index + 1 :]:
                        retry_later(session, rest, worker, error, wait, utcnow(), counted=False)
                    session.commit()
                    return handed
            else:
                if mark_done(session, row, worker, utcnow()):
                    handed += 1
                    log.info("outbox %s (%s, case %s): %s", row.id, row.kind, row.case_id, outcome)
            session.commit()
    return handed


def watch_crashes(factory: sessionmaker, settings: Settings, worker: str) -> int:  # type: ignore[type-arg]
    """Bring back crashed case runs that no outbox row is about to deal with; return how many.

    A run crashes when its worker cannot submit it, when its worker dies mid-step, or falsely
    while it waits (flows/automations.py). One dispatcher at a time does this (a lease), and
    it leaves a case with an undone row to that row's dispatcher: never two revivals of a run.
    A run that crashed too often gets a parked "revive" row, shown on the case.
    """
    with factory() as session:
        try:
            mine = take_lease(session, "crash-watch", worker, utcnow(), timedelta(seconds=WATCH_EVERY * 2))
            session.commit()
        except IntegrityError:
            return 0
        if not mine:
            return 0
    crashed = engine.crashed_runs(settings)
    if not crashed:
        return 0
    with factory() as session:
        cases = dict(
            session.execute(select(Case.flow_run_id, Case.id).where(Case.flow_run_id.in_(crashed))).all()
        )
        busy = undone_cases(session, list(cases.values()))
    revived = 0
    for run_id, case_id in cases.items():
        if case_id in busy:
            continue
        try:
            engine.revive_run(str(run_id))
            revived += 1
        except NeverContinues as exc:
            with factory() as session:
                now = utcnow()
                session.add(
                    Outbox(
                        case_id=case_id,
                        kind="revive",
                        payload={"flow_run_id": run_id},
                        parked_at=now,
                        last_error=str(exc),
                        created_at=now,
                        next_attempt_at=now,
                    )
                )
                session.commit()
            log.error("case %s: run %s %s; parked", case_id, run_id, exc)
    return revived


def run(settings: Settings, stop_after: float | None = None) -> None:
    """Dispatch until interrupted (or for stop_after seconds); look for crashed runs now and then."""
    with engine.failing_fast():
        _run(settings, stop_after)


def _run(settings: Settings, stop_after: float | None) -> None:
    factory = get_sessionmaker(settings.database_url)
    bell = Bell(settings.database_url, settings.dispatch_interval)
    worker = worker_name()
    deadline = time.monotonic() + stop_after if stop_after else None
    log.info("dispatcher %s started (every %.2fs)", worker, settings.dispatch_interval)
    next_watch = time.monotonic() + WATCH_EVERY
    started_at, handed_total, next_beat = utcnow(), 0, time.monotonic()
    while deadline is None or time.monotonic() < deadline:
        if time.monotonic() >= next_beat:
            next_beat = time.monotonic() + BEAT.total_seconds()
            try:
                record_beat(factory, worker, started_at, handed_total)
            except Exception as exc:  # noqa: BLE001 - the app database is unreachable: the outbox waits too
                log.warning("could not record this dispatcher's beat: %s", exc)
        if time.monotonic() >= next_watch:
            next_watch = time.monotonic() + WATCH_EVERY
            try:
                watch_crashes(factory, settings, worker)
            except Exception as exc:  # noqa: BLE001 - Prefect down: look again later
                log.warning("could not look for crashed runs: %s", exc)
        try:
            handed = dispatch_once(factory, settings, worker)
        except Exception as exc:  # noqa: BLE001 - the app database is unreachable: wait, try again
            log.warning("could not read the outbox: %s", exc)
            handed = 0
        handed_total += handed
        if handed == 0:
            bell.wait()
    bell.close()
