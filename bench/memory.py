"""memory: RSS of every part of the stack, idle and at the peak of K cases at once (quick: 5, full: 20);
and the CPU the idle stack uses.

Idle is measured after one case went through (the dispatcher imports Prefect on first
use); idle CPU over the IDLE_CPU_SECONDS after that, nothing being asked of the stack. The
peak is sampled every 0.25 s while K cases are opened at once and carried through assign,
resolve and confirm together. Floor for the idle stack: Prefect's own processes (server or
API servers and services, and engine); for the peak: the same K at once with the floor flow.
Idle memory three ways: RSS (a page shared by processes counted in each), PSS (split among them),
and what the machine lost (used memory idle less before the stack started).
"""

from __future__ import annotations

import asyncio
import time

import psutil

from bench.cases import FLOOR_INPUTS, app_case, floor_case
from bench.harness import BenchStack, Options, wait_until
from bench.procs import MB, Peaks, Sampler, snapshot
from bench.report import Report
from bench.web import STEPS, MailWatcher, WebUser, log_in

NAME = "memory"
GOAL_IDLE_MB = "<= 600"
IDLE_CPU_SECONDS = 30.0


def run(options: Options, report: Report) -> None:
    k = 5 if options.quick else 20
    before = machine_used()
    with BenchStack(NAME, options) as stack:
        asyncio.run(_run(stack, k, report, before))


def machine_used() -> int:
    """The machine's memory in use (total less available: what `free` calls used, page cache aside)."""
    memory = psutil.virtual_memory()
    return int(memory.total - memory.available)


async def _run(stack: BenchStack, k: int, report: Report, before: int) -> None:
    users = await log_in(stack.stack.web_url, stack.password, "operator", "dm", "cmho", "collector")
    watcher = MailWatcher(stack.maildir)
    floor_id = stack.prefect.deployment_id(stack.floor_deployment)
    pids = stack.pids()
    try:
        await app_case(stack, users, watcher, "warm-up", timeout=300)
        floor_case(stack, floor_id, "floor-warm-up", timeout=300)
        time.sleep(10)
        idle = snapshot(pids)
        taken = machine_used() - before
        time.sleep(IDLE_CPU_SECONDS)
        idle_cpu = snapshot(pids) - idle
        with Sampler(pids) as floor:
            _floor_load(stack, floor_id, k)
        time.sleep(5)
        with Sampler(pids) as app:
            await _app_load(stack, users, k)
    finally:
        for user in users.values():
            await user.close()

    tag = f"[{stack.engine}]"
    prefect_own = {*(n for n in idle.rss if n.startswith("prefect")), *stack.engine_names}
    for name in sorted(idle.rss):
        report.add(NAME, f"idle RSS {name} ({idle.count[name]} processes) {tag}", idle.rss[name] / MB, "MB")
    report.add(
        NAME,
        f"idle RSS whole stack {tag}",
        sum(idle.rss.values()) / MB,
        "MB",
        floor=sum(v for n, v in idle.rss.items() if n in prefect_own) / MB,
        goal=GOAL_IDLE_MB,
    )
    report.add(NAME, f"idle PSS whole stack (shared pages split) {tag}", sum(idle.pss.values()) / MB, "MB")
    # RSS counts a page shared by two processes twice, PSS half in each; the machine's own figure
    # (anything else on it moving meanwhile moves this too) is what the stack takes from it.
    report.add(NAME, f"idle memory the machine lost to the stack {tag}", taken / MB, "MB")
    for name in sorted(idle_cpu.cpu):
        report.add(NAME, f"idle CPU {name} {tag}", 100 * idle_cpu.cpu[name] / idle_cpu.at, "% of a core")
    report.add(
        NAME,
        f"idle CPU whole stack over {IDLE_CPU_SECONDS:.0f} s {tag}",
        100 * idle_cpu.total_cpu() / idle_cpu.at,
        "% of a core",
        floor=100 * idle_cpu.total_cpu(prefect_own) / idle_cpu.at,
    )
    load = f"[{k} cases at once, {stack.engine}, limit {stack.options.work_limit}]"
    report.add(
        NAME, f"peak RSS whole stack {load}", app.peaks.total_rss / MB, "MB", floor=floor.peaks.total_rss / MB
    )
    report.add(
        NAME, f"peak PSS whole stack {load}", app.peaks.total_pss / MB, "MB", floor=floor.peaks.total_pss / MB
    )
    report.add(
        NAME,
        f"peak RSS of one flow-run process {load}",
        max(app.peaks.run_rss.values()) / MB,
        "MB",
        floor=max(floor.peaks.run_rss.values()) / MB,
    )
    report.add(
        NAME,
        f"peak flow-run processes at once {load}",
        sum(app.peaks.runs.values()),
        "processes",
        floor=sum(floor.peaks.runs.values()),
    )
    for name in sorted(app.peaks.rss):
        report.add(
            NAME,
            f"peak RSS {name} {load}",
            app.peaks.rss[name] / MB,
            "MB",
            floor=floor.peaks.rss.get(name, 0) / MB,
        )
    _note(report, "floor", floor.peaks)
    _note(report, "app", app.peaks)


def _note(report: Report, label: str, peaks: Peaks) -> None:
    report.note(
        f"{label} peaks from {peaks.samples} samples: "
        + ", ".join(f"{n} {peaks.rss[n] / MB:.0f} MB/{peaks.count[n]} procs" for n in sorted(peaks.rss))
    )


def _floor_load(stack: BenchStack, floor_id: str, k: int) -> None:
    api = stack.prefect
    ids = [
        api.create_run(floor_id, {"case_id": i, "case_number": f"floor-{i}", "event_id": 0}, f"floor-{i}")
        for i in range(k)
    ]
    _wait_all(stack, ids, 0)
    for step, run_input in enumerate(FLOOR_INPUTS, start=1):
        for run_id in ids:
            api.resume(run_id, run_input)
        _wait_all(stack, ids, step if step < len(FLOOR_INPUTS) else None)


async def _app_load(stack: BenchStack, users: dict[str, WebUser], k: int) -> None:
    opened = await asyncio.gather(*(users["operator"].open_case(f"memory {i}") for i in range(k)))
    numbers = [t.number for t in opened]
    runs = wait_until(lambda: _runs(stack, numbers), 300, 1, what="runs of the cases")
    ids = [runs[n] for n in numbers]
    _wait_all(stack, ids, 0)
    for step, (who, action, fields) in enumerate(STEPS, start=1):
        await asyncio.gather(*(users[who].decide(n, action, **fields) for n in numbers))
        _wait_all(stack, ids, step if step < len(STEPS) else None)


def _runs(stack: BenchStack, numbers: list[str]) -> dict[str, str] | None:
    found = {str(r["name"]): str(r["id"]) for r in stack.prefect.runs({"name": {"any_": numbers}})}
    return found if len(found) == len(numbers) else None


def _wait_all(stack: BenchStack, ids: list[str], step: int | None) -> None:
    wait_until(
        lambda: len(stack.prefect.at_step(ids, step)) == len(ids),
        600,
        0.5,
        what=f"{len(ids)} runs at step {step}",
    )
