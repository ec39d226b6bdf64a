"""Two dispatchers, two workers (each with its launch server) and two web processes on one app database
and one Prefect server: cases whose runs were cancelled are parked and shown, new complaints go through
every step while a dispatcher and a worker are killed, and nothing is lost, stuck or sent twice.

On PostgreSQL 20 cancelled runs and 40 new complaints, on SQLite 8 and 16; FULL_TWO=1 on PostgreSQL
runs 60 and 100 (some ten minutes on two cores, a quarter of CI's time: the fault drill,
tests/e2e/cluster, now carries a burst through every step while parts die).
"""

from __future__ import annotations

import os
import re
import signal
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import func, select

from models.cases.tables import Case
from models.db import get_sessionmaker
from models.messages import Delivery
from models.outbox import Outbox
from notifications.mailsink import read_messages
from scripts.stack import BIN, Stack, wait_for
from tests.e2e.web import HAND_OFFS, PrefectApi, WebUser, wait_until
from tests.helpers import free_port
from tests.pg import postgres_url

pytestmark = pytest.mark.e2e

ON_POSTGRES = postgres_url() is not None
FULL = ON_POSTGRES and os.environ.get("FULL_TWO") == "1"
CANCELLED = 60 if FULL else 20 if ON_POSTGRES else 8
NEW = 100 if FULL else 40 if ON_POSTGRES else 16


def kill(stack: Stack, name: str) -> None:
    """SIGKILL a part and everything it started: no goodbye, no lease handed back."""
    proc = stack.procs.pop(name)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def runs(prefect: PrefectApi, ids: list[str]) -> list[dict[str, Any]]:
    response = prefect.http.post("/flow_runs/filter", json={"flow_runs": {"id": {"any_": ids}}, "limit": 200})
    response.raise_for_status()
    return list(response.json())


def mails_by_case(stack: Stack) -> dict[str, list[str]]:
    """Recipients of the mails to the office about each case number, in arrival order (not the
    caller's texts, which the demo's SMS gateway delivers to sms<number>@demo.local)."""
    found: dict[str, list[str]] = {}
    for message in read_messages(stack.instance / "mail"):
        match = re.search(r"SRJ-\d{4}-\d+", message["Subject"] or "")
        if match and not (message["X-Envelope-To"] or "").startswith("sms"):
            found.setdefault(match.group(0), []).append(message["X-Envelope-To"])
    return found


def stuck(factory: Any, stack: Stack, fresh: list[str], doomed: list[str], prefect: PrefectApi) -> str:
    """What kept the cases from settling: their undone rows, mails and runs, for the failure's message."""
    lines = []
    mails = mails_by_case(stack)
    with factory() as session:
        rows = session.execute(
            select(
                Case.number,
                Case.state,
                Case.flow_run_id,
                Outbox.kind,
                Outbox.pause_key,
                Outbox.attempts,
                Outbox.parked_at,
                Outbox.last_error,
            )
            .join(Case, Case.id == Outbox.case_id)
            .where(Case.number.in_(fresh + doomed), Outbox.done_at.is_(None))
        ).all()
        short = session.execute(
            select(Case.number, Case.state, Case.flow_run_id).where(Case.number.in_(fresh))
        ).all()
        unsent = session.execute(
            select(Case.number, Delivery.event_id, Delivery.status, Delivery.attempts, Delivery.last_error)
            .join(Case, Case.id == Delivery.case_id)
            .where(Case.number.in_(fresh), Delivery.status != "sent")
        ).all()

    def run_of(run_id: str | None) -> list[tuple[str, str, str]]:
        found = runs(prefect, [run_id]) if run_id else []
        return [(r["state_name"], r["state"]["timestamp"], r["id"]) for r in found]

    for row in rows:
        if row.number in fresh or row.parked_at is None:
            lines.append(f"undone: {tuple(row)} run {run_of(row.flow_run_id)}")
    for number, state, run_id in short:
        if len(mails.get(number, [])) < len(HAND_OFFS):
            lines.append(f"unmailed: {number} {state} {mails.get(number)} run {run_of(run_id)}")
    lines += [f"not sent: {tuple(row)}" for row in unsent]
    return "\n".join(lines[:80])


@pytest.fixture
def second_copies(stack: Stack) -> Any:
    """A second web process (its own port), launch server, worker and dispatcher beside the first."""
    port = free_port()
    stack.spawn(
        "web-2",
        str(BIN / "gunicorn"),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "1",
        "--threads",
        "16",
        "webapp:create_app()",
    )
    if stack.launcher_apart:
        stack.start_launcher(2)
    stack.start_worker(2)
    stack.start_dispatcher(2)
    wait_for(f"http://127.0.0.1:{port}/status", 60, stack.procs["web-2"])
    yield f"http://127.0.0.1:{port}"
    for name in ("web-2", "dispatcher-2", "worker-2", "launcher-2"):
        stack.stop(name)


# At full size the engine makes about 460 flow steps on two cores, half of them with one worker:
# some ten minutes under CI's load, past the suite's 600 s per test.
@pytest.mark.timeout(1800)
def test_it_loses_nothing_with_two_of_everything(
    stack: Stack, password: str, cmho_id: str, second_copies: str
) -> None:
    webs = [stack.web_url, second_copies]
    people = {
        (who, i): WebUser(url, who, password)
        for who in ("operator", "dm", "cmho", "collector", "admin")
        for i, url in enumerate(webs)
    }
    factory = get_sessionmaker(stack.database_url)
    prefect = PrefectApi(stack.api_url)
    pool = ThreadPoolExecutor(max_workers=8)
    try:
        # 1. Cases whose runs someone cancelled in the Prefect UI, after which the DM decided on them.
        doomed = list(pool.map(lambda i: people["operator", i % 2].open_case(), range(CANCELLED)))

        def started() -> list[str] | None:
            with factory() as session:
                ids = session.scalars(select(Case.flow_run_id).where(Case.number.in_(doomed))).all()
            if not all(ids):
                return None
            waiting = [r for r in runs(prefect, list(ids)) if r["state_name"] == "Suspended"]
            return list(ids) if len(waiting) == len(ids) else None

        doomed_runs = wait_until(started, timeout=600, every=2, what=f"{CANCELLED} runs waiting on the DM")
        for run_id in doomed_runs:
            cancelled = {"state": {"type": "CANCELLED", "name": "Cancelled"}, "force": True}
            prefect.http.post(f"/flow_runs/{run_id}/set_state", json=cancelled).raise_for_status()
        list(
            pool.map(
                lambda x: people["dm", x[0] % 2].decide(x[1], "assign", officer=cmho_id), enumerate(doomed)
            )
        )

        # 2. Meanwhile new complaints, every step decided as soon as it can be, on both web processes.
        def carry(i: int, number: str) -> None:
            people["dm", i % 2].decide(number, "assign", officer=cmho_id, text="देखें")
            people["cmho", (i + 1) % 2].decide(number, "resolve", text="Bed arranged")
            people["operator", i % 2].decide(number, "satisfied", rating="4", text="")
            people["collector", i % 2].decide(number, "confirm", text="Confirmed")

        fresh = list(pool.map(lambda i: people["operator", i % 2].open_case(), range(NEW)))
        half = NEW // 2
        list(pool.map(lambda x: carry(*x), enumerate(fresh[:half])))
        # 3. Half-way, one dispatcher and one worker die without a word.
        time.sleep(5)
        kill(stack, "dispatcher")
        kill(stack, "worker")
        list(pool.map(lambda x: carry(*x), enumerate(fresh[half:], start=half)))

        # 4. Every new case closes, each hand-off mailed once; the cancelled ones are parked.
        ours = select(Case.id).where(Case.number.in_(fresh + doomed))

        def settled() -> bool:
            with factory() as session:
                undone = session.scalars(
                    select(Outbox.parked_at).where(Outbox.case_id.in_(ours), Outbox.done_at.is_(None))
                ).all()
            mails = mails_by_case(stack)
            left = [at for at in undone if at is None]
            mailed = all(len(mails.get(n, [])) >= len(HAND_OFFS) for n in fresh)
            return not left and len(undone) == CANCELLED and mailed

        try:
            wait_until(settled, timeout=1500, every=3, what="every case settled")
        except AssertionError as timed_out:
            raise AssertionError(f"{timed_out}\n{stuck(factory, stack, fresh, doomed, prefect)}") from None
        time.sleep(3)  # anything sent twice would arrive now
    finally:
        pool.shutdown()
        for person in people.values():
            person.close()

    mails = mails_by_case(stack)
    assert {n: mails.get(n) for n in fresh} == {n: HAND_OFFS for n in fresh}
    assert {n: mails.get(n) for n in doomed} == {n: ["dm@demo.local"] for n in doomed}
    with factory() as session:
        states = Counter(session.scalars(select(Case.state).where(Case.number.in_(fresh + doomed))))
        assert states == Counter({"closed": NEW, "assigned": CANCELLED})
        rows = session.scalars(
            select(Outbox).join(Case, Case.id == Outbox.case_id).where(Case.number.in_(doomed))
        )
        parked = [r for r in rows if r.parked_at is not None]
        assert len(parked) == CANCELLED
        assert all(r.kind == "resume" and "cancelled" in r.last_error for r in parked)
        assert (
            session.scalar(select(func.count()).select_from(Outbox).where(Outbox.claimed_until.is_not(None)))
            == 0
        )
        unsent = session.scalars(
            select(Delivery.status).join(Case, Case.id == Delivery.case_id).where(Case.number.in_(fresh))
        ).all()
        assert set(unsent) == {"sent"}
    # One run per case, all completed; the cancelled stay cancelled.
    with factory() as session:
        fresh_runs = session.scalars(select(Case.flow_run_id).where(Case.number.in_(fresh))).all()
    assert Counter(r["state_type"] for r in runs(prefect, list(fresh_runs))) == Counter({"COMPLETED": NEW})
    for number in fresh[:3]:
        assert len(prefect.runs_named(number)) == 1

    # What people see: the DM the red line on the case, the admin every parked row, the dashboard the count.
    dm = WebUser(stack.web_url, "dm", password)
    admin = WebUser(second_copies, "admin", password)
    try:
        page = dm.http.get(f"/cases/{doomed[0]}").text
        assert "The engine could not continue this case" in page and "cancelled" in page
        listing = admin.http.get("/admin/outbox").text

        # The admin's view of the parts: the killed dispatcher stale beside the live one, and Prefect's
        # own word on the workers of the pool (at least the live one online).
        def parts() -> str | None:
            page = admin.http.get("/admin/health").text
            return page if "The Prefect server answers." in page else None  # a busy server: look again

        health = wait_until(parts, 60, every=2, what="Prefect's answer on the admin's health page")
        rows = re.findall(r'<tr class="(alive|stale)">', health)
        # Alive: dispatcher-2, and worker-2's own dispatcher where the workers run one (scripts/start's
        # layout); the killed ones and earlier tests' dispatchers are stale.
        alive = 2 if stack.dispatch_in_worker else 1
        assert rows.count("alive") == alive and "stale" in rows, rows
        assert ">online<" in health
        assert all(number in listing for number in doomed)
        assert f"{CANCELLED} hand-offs the engine gave up on" in admin.http.get("/dashboard").text
        # The admin starts a new run for one of them: it rejoins the case at the officer's step and
        # sends the officer's message the cancelled run never sent; the officer's decision resumes it.
        with factory() as session:
            row_id = session.scalar(
                select(Outbox.id)
                .join(Case, Case.id == Outbox.case_id)
                .where(Case.number == doomed[0], Outbox.parked_at.is_not(None))
            )
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', listing)
        assert token and row_id
        restarted = admin.http.post(f"/admin/outbox/{row_id}/restart", data={"csrf_token": token.group(1)})
        assert restarted.status_code == 302
        wait_until(lambda: mails_by_case(stack).get(doomed[0]) == ["dm@demo.local", "cmho@demo.local"], 300)
        cmho = WebUser(stack.web_url, "cmho", password)
        cmho.decide(doomed[0], "resolve", text="Done after the restart")
        cmho.close()
        wait_until(lambda: len(mails_by_case(stack).get(doomed[0], [])) == 3, 300, what="the operators' mail")
        assert mails_by_case(stack)[doomed[0]][-1] == "operator@demo.local"  # a call back is due
        assert "The engine could not continue" not in dm.http.get(f"/cases/{doomed[0]}").text
    finally:
        dm.close()
        admin.close()
    print(f"two of everything: {NEW} closed, {CANCELLED} parked", file=sys.stderr)
