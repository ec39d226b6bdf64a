"""waiting: cases suspended on humans, and what the idle stack costs then (goal: a state's 10,000).

Cases are opened over HTTP by ten operator sessions as fast as the app takes them (quick: 50,
full: 1,000); once every run is suspended for its DM, more waiting runs are added up to
BENCH_WAITING_TOTAL (quick: 1,000, full: 10,000), each a copy of a real one made through Prefect's
API (the same deployment, state, pause key and input schema, no process): opening 10,000 through
the engine takes hours at ~1 case a second, and a waiting run is rows to Prefect, whichever way
it got there. Then the stack is left alone and measured over a window: processes alive, CPU (% of
one core) and memory, with Prefect's pause-expiration service as the stack runs it (off: no case
waits with a timeout) and again on, its default. Floor: the same stack before the first case.
Goals: no process per waiting case; under 10% of a core.
"""

from __future__ import annotations

import asyncio
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench.harness import BenchStack, Options
from bench.procs import MB, Snapshot, snapshot
from bench.report import Report
from bench.web import WebUser

NAME = "waiting"
OPERATORS = 10


def run(options: Options, report: Report) -> None:
    count = 50 if options.quick else 1000
    total = max(count, int(os.environ.get("BENCH_WAITING_TOTAL", 1000 if options.quick else 10000)))
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
        started = time.monotonic()
        suspended += _copy_waiting(stack, total - suspended)
        copied = time.monotonic() - started
        time.sleep(15)  # the last runs' processes exit
        waiting = _idle(pids, window)
        # Prefect's default: its pause-expiration service reads every paused run every 5 s.
        stack.stack.stop("prefect-server")
        stack.stack.extra_env["PREFECT_SERVER_SERVICES_PAUSE_EXPIRATIONS_ENABLED"] = "true"
        stack.restart_prefect_server()
        time.sleep(15)
        scanned = _idle(stack.pids(), window)
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
        f"  prefect-server CPU, its pause-expiration service on (Prefect's default) {tag}",
        100 * scanned.cpu["prefect-server"] / scanned.at,
        "% of a core",
        floor=100 * empty.cpu["prefect-server"] / empty.at,
    )
    report.add(
        NAME,
        f"idle stack RSS {tag}",
        sum(waiting.rss.values()) / MB,
        "MB",
        floor=sum(empty.rss.values()) / MB,
    )
    for name in sorted(waiting.rss):
        report.add(NAME, f"  {name} RSS {tag}", waiting.rss[name] / MB, "MB", floor=empty.rss[name] / MB)
    report.add(NAME, f"cases suspended {tag}", suspended, "cases", goal=f">= {total}")
    report.add(NAME, f"time to open and suspend {count} through the app [{stack.engine}]", took, "s")
    report.add(NAME, f"time to add {total - count} copies through Prefect's API", copied, "s")


def _copy_waiting(stack: BenchStack, count: int) -> int:
    """Add count waiting runs, each a copy of a real case's suspended run; return how many were made."""
    if count <= 0:
        return 0
    api = stack.prefect
    deployment = api.deployment_id(stack.app_deployment)
    paused = {"deployment_id": {"any_": [deployment]}, "state": {"type": {"any_": ["PAUSED"]}}}
    model = api.runs(paused)[0]
    details: dict[str, Any] = model["state"]["state_details"]
    schema_key = details["run_input_keyset"]["schema"]
    schema = api.run_input(model["id"], schema_key)
    state = {"type": "PAUSED", "name": "Suspended", "state_details": details}

    def copy(i: int) -> None:
        run_id = api.create_run(deployment, model["parameters"], f"waiting-copy-{i}", state=state)
        api.save_run_input(run_id, schema_key, schema)

    with ThreadPoolExecutor(8) as pool:
        for done, _ in enumerate(pool.map(copy, range(count)), start=1):
            if done % 1000 == 0:
                print(f"# {done}/{count} copies", flush=True)
    return api.count({"name": {"like_": "waiting-copy-"}, "state": {"type": {"any_": ["PAUSED"]}}})


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
