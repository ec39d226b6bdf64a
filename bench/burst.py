"""burst: 300 complaints in 60 seconds (quick: 30 in 6), and how long until every DM mail is out.

Five emergencies are opened during it (at seconds 10 to 50; quick: 1 to 5): how long each takes to
reach the duty officer's inbox while hundreds of routine runs queue (goal: p95 <= 10 s).

Submitted at an even pace by ten operator sessions. Checked after the burst: every case
has its DM mail (none lost, none twice), every case has exactly one flow run, and how
many submissions got a 5xx. Floor, first and on the same stack: as many floor-flow runs
created over the REST API at the same pace, and how long until all are suspended.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import httpx

from bench.harness import BenchStack, Options, epoch
from bench.procs import MB, Sampler, snapshot
from bench.report import Report, percentile
from bench.web import MailWatcher, Timed, WebUser

NAME = "burst"
OPERATORS = 10
GOAL_ALL_OUT = "<= 600"
EMERGENCIES = 5
DUTY_OFFICER = "cmho"  # the demo roster's admission officer


def run(options: Options, report: Report) -> None:
    count, seconds = (30, 6.0) if options.quick else (300, 60.0)
    deadline = 300.0 if options.quick else 1200.0  # stop waiting for mail after this (goal: 600)
    with BenchStack(NAME, options) as stack:
        floor, floor_all_out = floor_burst(stack, count, seconds, deadline)
        floor_503 = stack.prefect.retried
        report.add(
            NAME,
            f"floor: Prefect API 503/429 answers retried [{count} in {seconds:.0f} s]",
            floor_503,
            "answers",
        )
        report.note(f"floor burst: {len(floor)}/{count} suspended, all after {floor_all_out:.0f} s")
        _settle(stack)
        asyncio.run(app_burst(stack, count, seconds, deadline, (floor, floor_all_out), report))


def floor_burst(stack: BenchStack, count: int, seconds: float, deadline: float) -> tuple[list[float], float]:
    """Create `count` floor runs evenly over `seconds`.

    Return the seconds from each creation to its suspend, and from the first creation
    to the last suspend (NaN unless all suspended).
    """
    api = stack.prefect
    deployment = api.deployment_id(stack.floor_deployment)
    created: dict[str, float] = {}
    start = time.time()
    for i in range(count):
        time.sleep(max(0.0, start + i * seconds / count - time.time()))
        name = f"floor-burst-{i}"
        asked = time.time()  # latency counts from the first attempt, as a case's from its submission
        while True:  # as the dispatcher's outbox: a server that refuses now is asked again later
            try:
                run_id = api.create_run(deployment, {"case_id": i, "case_number": name, "event_id": 0}, name)
                break
            except httpx.HTTPStatusError as exc:
                if exc.response.status_code < 500 or time.time() - start > deadline:
                    raise
                time.sleep(2)
        created[run_id] = asked
    ids = list(created)
    reached: dict[str, float] = {}
    while len(reached) < len(ids) and time.time() - start < deadline:
        time.sleep(1)
        try:
            reached.update(api.at_step([i for i in ids if i not in reached], 0))
        except httpx.HTTPStatusError as exc:  # a locked database, past the client's retries: ask again
            if exc.response.status_code < 500:
                raise
    all_out = max(reached.values()) - start if len(reached) == len(ids) else float("nan")
    stragglers(stack, [i for i in ids if i not in reached])
    return [reached[i] - created[i] for i in reached], all_out


def stragglers(stack: BenchStack, run_ids: list[str]) -> None:
    """Print where runs that never got there stand, and keep the stack's logs."""
    if not run_ids:
        return
    stack.keep = True
    for run in stack.prefect.runs({"id": {"any_": run_ids[:50]}}):
        state = run["state"] or {}
        print(f"# straggler {run['name']}: {state.get('name')} {state.get('message') or ''}", flush=True)


def emergency_stages(stack: BenchStack, urgent: list[Timed], watcher: MailWatcher) -> dict[str, list[float]]:
    """Where each emergency's time went, from Prefect's state history: the POST to its run created
    (the dispatcher), to a worker taking it (Pending: the queue and its slots), to its process
    running (the launch), to the duty officer's mail (the step)."""
    stages: dict[str, list[float]] = {
        "POST -> run created (dispatcher)": [],
        "created -> taken by a worker (queue, slots)": [],
        "taken -> running (launch)": [],
        "running -> duty officer's mail (step)": [],
    }
    for t in urgent:
        mail = watcher.first(t.number, DUTY_OFFICER) if t.number else None
        run = stack.prefect.run_named(t.number) if mail else None
        if run is None:
            continue
        states = stack.prefect.states(str(run["id"]))
        pending = next((at for kind, at in states if kind == "PENDING"), None)
        running = next((at for kind, at in states if kind == "RUNNING"), None)
        if pending is None or running is None:
            continue
        created = epoch(run["created"])
        for stage, value in zip(
            stages, (created - t.sent_at, pending - created, running - pending, mail - running), strict=True
        ):
            stages[stage].append(value)
    return stages


def _settle(stack: BenchStack) -> None:
    """Wait until the engine runs no flow (its tree is just itself), at most a minute."""
    end = time.monotonic() + 60
    engine = stack.engine_names
    while time.monotonic() < end and sum(snapshot(stack.pids(*engine)).count.values()) > len(engine):
        time.sleep(1)
    time.sleep(3)


async def app_burst(
    stack: BenchStack,
    count: int,
    seconds: float,
    deadline: float,
    floor_times: tuple[list[float], float],
    report: Report,
) -> None:
    floor, floor_all_out = floor_times
    users = [WebUser(stack.stack.web_url, "operator") for _ in range(OPERATORS + 1)]
    await asyncio.gather(*(u.login(stack.password) for u in users))
    desk = users.pop()  # the emergency desk's operator
    urgent: list[Timed] = []
    watcher = MailWatcher(stack.maildir)
    pids = stack.pids()
    submitted: list[Timed] = []
    try:
        with Sampler(pids, every=0.5) as sampler:
            cpu_before = snapshot(pids)
            start = time.time()

            async def submit(i: int) -> None:
                await asyncio.sleep(max(0.0, start + i * seconds / count - time.time()))
                try:
                    submitted.append(await users[i % OPERATORS].open_case(f"burst {i}"))
                except Exception:  # noqa: BLE001 - the form page failed
                    submitted.append(Timed(0, "", time.time(), 0.0))

            async def emergency(k: int) -> None:
                await asyncio.sleep(max(0.0, start + (k + 1) * seconds / 6 - time.time()))
                urgent.append(await desk.open_emergency(f"burst {k}"))

            await asyncio.gather(
                *(submit(i) for i in range(count)), *(emergency(k) for k in range(EMERGENCIES))
            )
            span = time.time() - start
            numbers = [t.number for t in submitted if t.status == 302 and t.number]
            alarms = [t.number for t in urgent if t.status == 302 and t.number]
            while time.time() - start < deadline:
                watcher.poll()
                if all(watcher.first(n, "dm") for n in numbers) and all(
                    watcher.first(n, DUTY_OFFICER) for n in alarms
                ):
                    break
                await asyncio.sleep(0.5)
            cpu = snapshot(pids) - cpu_before
    finally:
        await asyncio.gather(*(u.close() for u in users))

    sent = {t.number: t.sent_at for t in submitted if t.number}
    arrived = {n: watcher.first(n, "dm") for n in numbers}
    out = [a - sent[n] for n, a in arrived.items() if a is not None]
    all_out = max((a for a in arrived.values() if a), default=float("nan")) - start
    lost = sum(1 for a in arrived.values() if a is None)
    if lost:  # (an empty any_ filters nothing)
        lost_runs = stack.prefect.runs({"name": {"any_": [n for n, a in arrived.items() if a is None][:50]}})
        stragglers(stack, [str(r["id"]) for r in lost_runs])
    twice = sum(1 for n in numbers if watcher.count(n, "dm") > 1)
    runs = Counter(
        str(r["name"])
        for r in stack.prefect.runs(
            {"deployment_id": {"any_": [stack.prefect.deployment_id(stack.app_deployment)]}}
        )
    )
    not_one = sum(1 for n in numbers if runs.get(n, 0) != 1)
    copies = f", {stack.options.copies} dispatchers and workers" if stack.options.copies > 1 else ""
    tag = f"[{count} in {seconds:.0f} s, {stack.engine}{copies}]"
    report.add(
        NAME,
        f"all DM mails out after {tag}",
        all_out if not lost else float("inf"),
        "s",
        floor=floor_all_out,
        goal=GOAL_ALL_OUT,
    )
    report.add(NAME, f"submit->DM mail p50 {tag}", percentile(out, 50), "s", floor=percentile(floor, 50))
    report.add(NAME, f"submit->DM mail p95 {tag}", percentile(out, 95), "s", floor=percentile(floor, 95))
    reached = [a - t.sent_at for t in urgent if t.number and (a := watcher.first(t.number, DUTY_OFFICER))]
    missed = EMERGENCIES - len(reached)
    for name, value in (
        ("p50", percentile(reached, 50)),
        ("p95", percentile(reached, 95)),
        ("max", max(reached, default=float("nan"))),
    ):
        report.add(
            NAME,
            f"emergency -> duty officer's mail {name}, {EMERGENCIES} during the burst {tag}",
            value if not missed else float("inf"),
            "s",
            goal="<= 10" if name == "p95" else None,
        )
    for name, values in emergency_stages(stack, urgent, watcher).items():
        report.add(NAME, f"emergency: {name}, p50 {tag}", percentile(values, 50), "s")
        report.note(f"emergencies, {name}: " + ", ".join(f"{v:.2f}" for v in values) + " s")
    report.add(NAME, f"submissions took {tag}", span, "s", goal=f"<= {seconds * 1.1:.0f}")
    report.add(
        NAME,
        f"5xx responses {tag}",
        sum(1 for t in submitted if t.status >= 500 or t.status == 0),
        "requests",
        goal="== 0",
    )
    report.add(
        NAME,
        f"other failed submissions {tag}",
        sum(1 for t in submitted if t.status != 302 and 0 < t.status < 500),
        "requests",
        goal="== 0",
    )
    report.add(NAME, f"cases without DM mail {tag}", lost, "cases", goal="== 0")
    report.add(NAME, f"cases with DM mail twice {tag}", twice, "cases", goal="== 0")
    report.add(NAME, f"cases without exactly one flow run {tag}", not_one, "cases", goal="== 0")
    report.add(NAME, f"stack CPU during burst {tag}", 100 * cpu.total_cpu() / cpu.at, "% of a core")
    locked = stack.log_count("prefect-server", "database is locked")
    refused = sum(
        stack.log_count(name, "503 Service Unavailable")
        for name in stack.stack.procs
        if name.startswith(("dispatcher", "worker"))  # a worker may run a dispatcher (dispatch --worker)
    )
    report.add(NAME, f"Prefect API 503s to the dispatcher (retried) {tag}", refused, "answers")
    report.add(NAME, f"Prefect server 'database is locked' errors {tag}", locked, "errors")
    report.add(NAME, f"peak processes {tag}", sampler.peaks.total_count, "processes")
    report.add(NAME, f"peak RSS, whole stack {tag}", sampler.peaks.total_rss / MB, "MB")
    report.add(NAME, f"peak PSS, whole stack {tag}", sampler.peaks.total_pss / MB, "MB")
    report.add(
        NAME,
        f"POST p95 during burst {tag}",
        1000 * percentile([t.seconds for t in submitted], 95),
        "ms",
        goal="<= 50",
    )
