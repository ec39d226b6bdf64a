"""The dispatcher's share of the outbox: claims, leases, due order, a case's order, parking, and a Prefect
that is down. Real databases (SQLite and PostgreSQL); no Prefect server: none is needed to claim."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dispatch.loop import dispatch_once
from models.cases.tables import Case, Priority
from models.config import Settings
from models.db import get_sessionmaker
from models.outbox import (
    LEASE,
    MAX_ATTEMPTS,
    Outbox,
    claim_due,
    mark_done,
    park,
    parked,
    parked_count,
    retry_later,
    take_lease,
    try_again,
)
from models.reference.tables import User
from tests.casedata import make_case

NOW = datetime(2027, 3, 10, 6, 0, tzinfo=UTC)


def add_row(session: Session, case_id: int | None, due: datetime, kind: str = "resume") -> int:
    payload = {"case_number": f"SRJ-{case_id}", "event_id": 1} if kind == "start" else {}
    row = Outbox(case_id=case_id, kind=kind, payload=payload, next_attempt_at=due, created_at=due)
    session.add(row)
    session.flush()
    return row.id


def claimed_ids(session: Session, worker: str, now: datetime = NOW, limit: int = 20) -> list[int]:
    rows = [row.id for row in claim_due(session, worker, now, limit)]
    session.commit()
    return rows


@pytest.fixture
def cases(session: Session, district: dict[str, User]) -> list[int]:
    """Three cases, their start rows done: the tests add the rows they need."""
    made = [make_case(session, district["operator"], NOW - timedelta(hours=1)) for _ in range(3)]
    session.flush()
    session.execute(update(Outbox).values(done_at=NOW - timedelta(hours=1)))
    session.commit()
    return [case.id for case in made]


def test_it_claims_a_row_for_one_dispatcher_until_its_lease_runs_out(
    session: Session, cases: list[int]
) -> None:
    row = add_row(session, cases[0], NOW)
    session.commit()
    assert claimed_ids(session, "a") == [row]
    assert claimed_ids(session, "b") == []  # a holds it
    # a was killed mid-row: once the lease is over, b takes it; a can no longer mark it done.
    later = NOW + LEASE + timedelta(seconds=1)
    assert claimed_ids(session, "b", later) == [row]
    stale = session.get_one(Outbox, row)
    assert not mark_done(session, Outbox(id=row, attempts=0), "a", later)
    assert mark_done(session, stale, "b", later)
    session.commit()
    assert claimed_ids(session, "c", later + LEASE * 2) == []  # done for good


def test_it_reads_only_due_rows_the_longest_due_first(session: Session, cases: list[int]) -> None:
    # Sixty rows that keep failing (due later, again and again) must not hide a newer due row.
    for _ in range(60):
        add_row(session, None, NOW + timedelta(minutes=5), kind="advisory")
    second = add_row(session, cases[1], NOW - timedelta(seconds=5))
    first = add_row(session, cases[0], NOW - timedelta(seconds=30))
    session.commit()
    assert claimed_ids(session, "a", limit=50) == [first, second]


def test_it_keeps_a_cases_rows_in_order(session: Session, cases: list[int]) -> None:
    first = add_row(session, cases[0], NOW)
    second = add_row(session, cases[0], NOW - timedelta(seconds=1))  # due earlier, written later
    other = add_row(session, cases[1], NOW)
    session.commit()
    assert sorted(claimed_ids(session, "a")) == [first, other]
    assert mark_done(session, session.get_one(Outbox, other), "a", NOW)
    # The first row parked: the case's later row waits behind it, in view, not resumed out of order.
    park(session, session.get_one(Outbox, first), "a", "the run was cancelled in Prefect", NOW)
    session.commit()
    assert claimed_ids(session, "b", NOW + LEASE * 2) == []
    assert try_again(session, first, NOW)
    session.commit()
    assert claimed_ids(session, "b", NOW + LEASE * 2) == [first]
    assert mark_done(session, session.get_one(Outbox, first), "b", NOW)
    session.commit()
    assert claimed_ids(session, "b", NOW + LEASE * 2) == [second]


def test_it_parks_a_row_whose_attempts_ran_out(session: Session, cases: list[int]) -> None:
    row_id = add_row(session, cases[0], NOW)
    session.execute(update(Outbox).where(Outbox.id == row_id).values(attempts=MAX_ATTEMPTS - 2))
    session.commit()
    [row] = claim_due(session, "a", NOW)
    session.commit()
    retry_later(session, row, "a", "run is Running, not yet waiting at decision-1", timedelta(seconds=1), NOW)
    session.commit()
    assert parked_count(session) == 0
    [row] = claim_due(session, "a", NOW + timedelta(seconds=2))
    session.commit()
    retry_later(session, row, "a", "run is Running, not yet waiting at decision-1", timedelta(seconds=1), NOW)
    session.commit()
    [shown] = parked(session, cases[0])
    assert shown.id == row_id and shown.last_error.startswith(f"gave up after {MAX_ATTEMPTS} attempts")
    assert parked_count(session) == 1
    assert claimed_ids(session, "a", NOW + timedelta(hours=1)) == []
    # Attempts that never reached Prefect do not count: a long outage parks nothing.
    other = add_row(session, cases[1], NOW)
    session.execute(update(Outbox).where(Outbox.id == other).values(attempts=MAX_ATTEMPTS - 1))
    session.commit()
    [row] = claim_due(session, "a", NOW)
    session.commit()
    retry_later(session, row, "a", "ConnectError", timedelta(seconds=1), NOW, counted=False)
    session.commit()
    assert parked_count(session) == 1


def test_it_backs_off_without_counting_when_prefect_is_down(
    session: Session, settings: Settings, cases: list[int]
) -> None:
    # settings.prefect_api_url points at a port where nothing listens.
    now = datetime.now(UTC)
    rows = [add_row(session, case_id, now - timedelta(seconds=1), kind="start") for case_id in cases]
    session.commit()
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: settings.prefect_api_url}):
        assert dispatch_once(get_sessionmaker(settings.database_url), settings, "a") == 0
    session.expire_all()
    after = session.scalars(select(Outbox).where(Outbox.id.in_(rows))).all()
    assert [(r.done_at, r.parked_at, r.attempts) for r in after] == [(None, None, 0)] * 3, [
        r.last_error for r in after
    ]
    assert all(r.claimed_until is None and r.next_attempt_at > now for r in after)
    assert any("Connect" in r.last_error for r in after)


def test_it_gives_each_row_to_one_of_many_racing_dispatchers(
    settings: Settings, session: Session, cases: list[int]
) -> None:
    for case_id in cases:
        add_row(session, case_id, NOW)
    for _ in range(30):
        add_row(session, None, NOW, kind="advisory")
    session.commit()
    factory = get_sessionmaker(settings.database_url)
    start = threading.Barrier(4)
    got: dict[str, list[int]] = {}

    def dispatcher(name: str) -> None:
        with factory() as own:
            start.wait()
            mine: list[int] = []
            while batch := claimed_ids(own, name, limit=5):
                mine += batch
            got[name] = mine

    threads = [threading.Thread(target=dispatcher, args=(f"d{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [row for rows in got.values() for row in rows]
    assert len(every) == 33 and len(set(every)) == 33  # all claimed, none twice


def test_it_lets_one_process_hold_a_duty(session: Session, district: dict[str, User]) -> None:
    assert take_lease(session, "crash-watch", "a", NOW, timedelta(seconds=30))
    session.commit()
    assert not take_lease(session, "crash-watch", "b", NOW + timedelta(seconds=10), timedelta(seconds=30))
    assert take_lease(session, "crash-watch", "a", NOW + timedelta(seconds=10), timedelta(seconds=30))
    session.commit()
    assert take_lease(session, "crash-watch", "b", NOW + timedelta(seconds=41), timedelta(seconds=30))


def test_it_knows_a_run_whose_process_died() -> None:
    from prefect.states import Pending, Running, Scheduled

    from dispatch.engine import STUCK_PENDING, STUCK_RUNNING, stuck

    def aged(state: Any, age: timedelta) -> Any:
        state.timestamp = NOW - age
        return state

    assert not stuck(aged(Pending(), STUCK_PENDING - timedelta(seconds=1)), NOW)
    assert stuck(aged(Pending(), STUCK_PENDING + timedelta(seconds=1)), NOW)
    # Running: a step with its retries takes about a minute; minutes more and its process is gone.
    assert not stuck(aged(Running(), timedelta(minutes=2)), NOW)
    assert stuck(aged(Running(), STUCK_RUNNING + timedelta(seconds=1)), NOW)
    assert not stuck(aged(Scheduled(), timedelta(hours=1)), NOW)  # waits for a worker: not lost


def test_it_hands_over_an_urgent_cases_rows_first(session: Session, cases: list[int]) -> None:
    """An urgent case (an emergency is one) does not queue behind routine hand-offs due before it."""
    routine = [add_row(session, cases[0], NOW - timedelta(minutes=5)), add_row(session, cases[1], NOW)]
    session.execute(update(Case).where(Case.id == cases[2]).values(priority=Priority.urgent))
    urgent = add_row(session, cases[2], NOW)
    advisory = add_row(session, None, NOW - timedelta(minutes=10), kind="advisory")  # no case: routine
    session.commit()
    assert claimed_ids(session, "a", limit=2) == [urgent, advisory]
    assert claimed_ids(session, "b", limit=5) == routine
