"""waiting: 1,000 cases suspended on humans (quick: 50), and what the idle stack costs then.

Cases are opened over HTTP by ten operator sessions as fast as the app takes them; once
every run is suspended for its DM, the stack is left alone and measured over a window:
processes alive and CPU (% of one core). Floor: the same measures on the same stack
before the first case. Goals: no process per waiting case; under 10% of a core.
"""

from __future__ import annotations

import asyncio
import time

from bench.harness import BenchStack, Options
from bench.procs import MB, Snapshot, snapshot
from bench.report import Report
from bench.web import WebUser

NAME = "waiting"
OPERATORS = 10


def run(options: Options, report: Report) -> None:
    count = 50 if options.quick else 1000
    window = 15.0 if options.quick else 30.0
    deadline = 900.0 if options.quick else 7200.0  # for every run to reach its first suspend
    with BenchStack(NAME, options) as stack:
        pids = stack.pids()
        time.sleep(10)
        empty = _idle(pids, window)
        started = time.monotonic()
        opened = asyncio.run(_open(stack, count))
        suspended = _wait_suspended(stack, opened, deadline)
        took = time.monotonic() - started
        time.sleep(15)  # the last runs' processes exit
        waiting = _idle(pids, window)
    tag = f"[{suspended} waiting, {stack.engine}, limit {options.work_limit}]"
    empty_count = sum(empty.count.values())
    report.add(
        NAME,
        f"processes alive {tag}",
        sum(waiting.count.values()),
        "processes",
        floor=empty_count,
        goal=f"<= {empty_count}",
    )
    for name in sorted(waiting.count):
        report.add(
            NAME, f"  {name} processes {tag}", waiting.count[name], "processes", floor=empty.count[name]
        )
    report.add(
        NAME, f"idle stack CPU {tag}", _percent(waiting), "% of a core", floor=_percent(empty), goal="<= 10"
    )
    for name in sorted(waiting.cpu):
        report.add(
            NAME,
            f"  {name} CPU {tag}",
            100 * waiting.cpu[name] / waiting.at,
            "% of a core",
            floor=100 * empty.cpu[name] / empty.at,
        )
    report.add(
        NAME,
        f"idle stack RSS {tag}",
        sum(waiting.rss.values()) / MB,
        "MB",
        floor=sum(empty.rss.values()) / MB,
    )
    report.add(NAME, f"cases suspended {tag}", suspended, "cases", goal=f">= {count}")
    report.add(NAME, f"time to open and suspend them all {tag}", took, "s")


def _idle(pids: dict[str, int], window: float) -> Snapshot:
    before = snapshot(pids)
    time.sleep(window)
    return snapshot(pids) - before


def _percent(delta: Snapshot) -> float:
    return 100 * delta.total_cpu() / delta.at


async def _open(stack: BenchStack, count: int) -> int:
    users = [WebUser(stack.stack.web_url, "operator", timeout=120) for _ in range(OPERATORS)]
    await asyncio.gather(*(u.login(stack.password) for u in users))
    remaining = count
    opened = 0

    async def operator(user: WebUser) -> None:
        nonlocal remaining, opened
        while remaining > 0:
            remaining -= 1
            timed = await user.open_case("waiting")
            opened += timed.status == 302

    try:
        await asyncio.gather(*(operator(u) for u in users))
    finally:
        await asyncio.gather(*(u.close() for u in users))
    return opened


def _wait_suspended(stack: BenchStack, count: int, deadline: float) -> int:
    api = stack.prefect
    deployment = api.deployment_id(stack.app_deployment)
    end = time.monotonic() + deadline
    last_print = 0.0
    while True:
        done = api.count({"deployment_id": {"any_": [deployment]}, "state": {"type": {"any_": ["PAUSED"]}}})
        if done >= count or time.monotonic() > end:
            return done
        if time.monotonic() - last_print > 60:
            print(f"# {done}/{count} suspended", flush=True)
            last_print = time.monotonic()
        time.sleep(5)
