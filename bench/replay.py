"""replay: the seed's ten days compressed, driven through the forms over HTTP (issue #17 goal 0).

The district's ten days (2,200 calls, 166 complaints, 12 emergencies) at their arrival times,
random but fixed (seed 17), squeezed into BENCH_REPLAY_MINUTES (default 18; --quick: the first
sixth of them, 3 minutes at the same pace). Operators log the calls at the call desk (POST /calls)
and file the complaints and the emergencies; each complaint's people act as soon as their mail
arrives: the DM assigns, the officer resolves, an operator rings the caller back (satisfied), the
Collector confirms. Seven people at once, each doing one thing at a time: four operators, the DM,
the officer, the Collector.

Printed: for each hand-off, submit -> the next party's mail, p50/p95/max (goal p95 <= 30 s);
emergency -> duty officer's mail (goal <= 10 s); CPU per complete complaint by process (the calls'
and emergencies' work included); the dispatcher's attempts per outbox row (1.0: no row handed over
before its run could take it); complaints not carried through, and any mail sent twice.
"""

from __future__ import annotations

import asyncio
import os
import random
import secrets
import time
from collections import defaultdict
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import TypeVar

import sqlalchemy as sa

from bench.burst import DUTY_OFFICER
from bench.harness import BenchStack, Options
from bench.procs import snapshot
from bench.report import Report, percentile
from bench.web import MAIL_AFTER, STEPS, MailWatcher, Timed, WebUser, hidden
from models.demo import VILLAGES as DEMO_VILLAGES

NAME = "replay"
DAYS = {"call": 2200, "complaint": 166, "emergency": 12}  # arrivals in the ten days, by kind
OPERATORS = 4
GOAL_P95 = "<= 30"
VILLAGES = [v["village"] for v in DEMO_VILLAGES]
T = TypeVar("T")


@dataclass
class Case:
    number: str
    step: int = 0  # STEPS done so far (0: opened)
    posted: float = 0.0  # when the step that is awaited was submitted
    done: bool = False


@dataclass
class Tally:
    waits: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    emergency: list[float] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    calls: int = 0
    twice: int = 0  # complaints whose someone got a hand-off mail more often than the steps say


def plan(minutes: float, quick: bool) -> list[tuple[float, str]]:
    """(second, kind) of every arrival, in order."""
    rng = random.Random(17)
    span = minutes * 60
    share = 1 / 6 if quick else 1.0
    arrivals = [(rng.uniform(0, span), kind) for kind, n in DAYS.items() for _ in range(n)]
    return sorted((at, kind) for at, kind in arrivals if at < span * share)


def run(options: Options, report: Report) -> None:
    minutes = float(os.environ.get("BENCH_REPLAY_MINUTES", "18"))
    arrivals = plan(minutes, options.quick)
    with BenchStack(NAME, options) as stack:
        pids = stack.pids()
        with sa.create_engine(stack.stack.database_url).connect() as db:
            first_row = int(db.scalar(sa.text("SELECT coalesce(max(id), 0) FROM outbox")) or 0)
        before = snapshot(pids)
        tally, cases, wall = asyncio.run(_replay(stack, arrivals))
        cpu = snapshot(pids) - before
        with sa.create_engine(stack.stack.database_url).connect() as db:
            rows, attempts = db.execute(
                sa.text("SELECT count(*), coalesce(sum(attempts), 0) FROM outbox WHERE id > :first"),
                {"first": first_row},
            ).one()

    counts = {kind: sum(1 for _, k in arrivals if k == kind) for kind in DAYS}
    tag = (
        f"[{counts['call']}/{counts['complaint']}/{counts['emergency']} calls/complaints/emergencies, "
        f"10 days in {minutes:g} min, {options.db}]"
    )
    for action in ("opened", *(a for _, a, _ in STEPS)):
        waits = tally.waits[action]
        label = f"{action} -> {MAIL_AFTER[action]}"
        report.add(NAME, f"{label} p50 {tag}", percentile(waits, 50), "s")
        report.add(NAME, f"{label} p95 {tag}", percentile(waits, 95), "s", goal=GOAL_P95)
        report.add(NAME, f"{label} max {tag}", max(waits, default=float("nan")), "s")
    report.add(NAME, f"emergency -> duty officer p50 {tag}", percentile(tally.emergency, 50), "s")
    report.add(
        NAME, f"emergency -> duty officer p95 {tag}", percentile(tally.emergency, 95), "s", goal="<= 10"
    )
    complete = sum(1 for c in cases if c.done)
    for name, seconds in sorted(cpu.cpu.items()):
        report.add(NAME, f"  {name} CPU per complete complaint {tag}", seconds / max(complete, 1), "CPU-s")
    report.add(
        NAME, f"CPU per complete complaint, whole stack {tag}", cpu.total_cpu() / max(complete, 1), "CPU-s"
    )
    report.add(
        NAME, f"dispatcher attempts per outbox row {tag}", attempts / max(rows, 1), "attempts", goal="<= 1.1"
    )
    report.add(NAME, f"complaints not carried through {tag}", len(cases) - complete, "cases", goal="== 0")
    report.add(NAME, f"complaints with a hand-off mailed twice {tag}", tally.twice, "cases", goal="== 0")
    report.add(NAME, f"failed requests {tag}", len(tally.failed), "requests", goal="== 0")
    report.add(NAME, f"calls logged {tag}", tally.calls, "calls")
    report.add(NAME, f"the last mail after the last arrival {tag}", wall, "s")
    for failure in tally.failed[:10]:
        report.note(f"{NAME}: {failure}")


async def _replay(stack: BenchStack, arrivals: list[tuple[float, str]]) -> tuple[Tally, list[Case], float]:
    password = stack.password
    operators = [await WebUser(stack.stack.web_url, "operator").login(password) for _ in range(OPERATORS)]
    people = {
        who: await WebUser(stack.stack.web_url, who).login(password) for who in ("dm", "cmho", "collector")
    }
    busy = {id(u): asyncio.Lock() for u in [*operators, *people.values()]}
    watcher = MailWatcher(stack.maildir)
    tally = Tally()
    cases: list[Case] = []
    alarms: list[Timed] = []
    turn = 0

    def operator() -> WebUser:
        nonlocal turn
        turn += 1
        return operators[turn % OPERATORS]

    async def act(user: WebUser, what: str, call: Awaitable[T]) -> T | None:
        async with busy[id(user)]:
            try:
                return await call
            except Exception as exc:  # noqa: BLE001 - counted and shown, the replay goes on
                tally.failed.append(f"{user.username} {what}: {exc}")
                return None

    async def arrive(at: float, kind: str, start: float) -> None:
        await asyncio.sleep(max(0.0, start + at - time.time()))
        user = operator()
        if kind == "call":
            if await act(user, "call", log_call(user)):
                tally.calls += 1
            return
        form = user.open_case if kind == "complaint" else user.open_emergency
        opened = await act(user, kind, form(f"replay {at:.0f}"))
        if opened is None:
            return
        if opened.status != 302:
            tally.failed.append(f"{kind}: {opened.status}")
        elif kind == "complaint":
            cases.append(Case(opened.number, posted=opened.sent_at))
        else:
            alarms.append(opened)

    async def next_step(case: Case) -> None:
        who, action, fields = STEPS[case.step]
        user = operator() if who == "operator" else people[who]
        posted = await act(user, f"{action} {case.number}", user.decide(case.number, action, **fields))
        if posted is None:
            case.done = True  # given up: counted as not carried through
            case.step = -1
            return
        case.posted = posted.sent_at
        case.step += 1

    async def follow(stop: asyncio.Event) -> float:
        last = time.time()
        moving: set[str] = set()
        while not stop.is_set():
            watcher.poll()
            for case in cases:
                if case.done or case.number in moving or case.step < 0:
                    continue
                action = "opened" if case.step == 0 else STEPS[case.step - 1][1]
                arrived = watcher.first(case.number, MAIL_AFTER[action], after=case.posted - 1)
                if arrived is None:
                    continue
                last = max(last, arrived)
                tally.waits[action].append(arrived - case.posted)
                if case.step == len(STEPS):
                    case.done = True
                    continue
                moving.add(case.number)
                task = asyncio.create_task(next_step(case))
                task.add_done_callback(lambda _t, n=case.number: moving.discard(n))
            for alarm in list(alarms):
                arrived = watcher.first(alarm.number, DUTY_OFFICER, after=alarm.sent_at - 1)
                if arrived is not None:
                    tally.emergency.append(arrived - alarm.sent_at)
                    alarms.remove(alarm)
                    last = max(last, arrived)
            await asyncio.sleep(0.2)
        return last

    try:
        start = time.time()
        stop = asyncio.Event()
        follower = asyncio.create_task(follow(stop))
        await asyncio.gather(*(arrive(at, kind, start) for at, kind in arrivals))
        end = time.time()
        deadline = end + 900
        while time.time() < deadline and (alarms or not all(c.done for c in cases)):
            await asyncio.sleep(1)
        stop.set()
        last = await follower
    finally:
        for user in [*operators, *people.values()]:
            await user.close()
    watcher.poll()
    once = {"dm": 1, "cmho": 1, "operator": 2, "collector": 1}
    tally.twice = sum(
        1 for c in cases if any(len(watcher.arrived.get((c.number, who), [])) > n for who, n in once.items())
    )
    return tally, cases, max(0.0, last - end)


async def log_call(user: WebUser) -> bool:
    """An information call logged at the call desk."""
    page = (await user.http.get("/calls")).text
    data = {
        "csrf_token": hidden(page, "csrf_token"),
        "phone": f"9{secrets.randbelow(10**9):09d}",
        "caller_name": "Replay caller",
        "village": random.choice(VILLAGES),
        "kind": "information",
        "note": "Asked where to get tested",
        "duration": "1:30",
    }
    response = await user.http.post("/calls", data=data)
    if response.status_code != 302:
        raise RuntimeError(f"call log answered {response.status_code}")
    return True
