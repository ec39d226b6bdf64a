"""engine: CPU seconds of the whole stack per complete case, beside Prefect's own floor.

A complete case is a start and three resumes (assign, resolve, confirm). The floor is
bench/floor_flow.py: the same start and suspends with no tasks, on the same server and
engine, started and resumed over the REST API by this process (not counted). Measured
for the process worker and for `serve`, each on a fresh stack:

1. one unmeasured case of each kind (imports, first connections);
2. the idle stack's CPU rate, over a quiet interval;
3. N floor cases, one after another, then N real cases, one after another.

Per case = CPU of the phase / N, and "net" subtracts the idle rate x the phase's wall
time, so polling that would go on anyway is not charged to the cases. The ratio counts
the Prefect server, the engine (worker or serve, with its flow-run processes, reaped
ones included) and the dispatcher; the web app and the mail sink are shown apart.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from bench.cases import app_case, floor_case
from bench.harness import ENGINES, BenchStack, Options
from bench.procs import MB, Snapshot, snapshot
from bench.report import Report
from bench.web import MailWatcher, log_in

NAME = "engine"
GOAL_RATIO = "<= 1.2"
SIDE = ("web", "mailsink")  # shown, not in the ratio


@dataclass
class Phase:
    cpu: dict[str, float]  # component -> CPU seconds in the phase
    wall: float
    cases: int

    def per_case(self, components: set[str], idle: dict[str, float] | None = None) -> float:
        total = sum(v for k, v in self.cpu.items() if k in components)
        if idle:
            total -= sum(v for k, v in idle.items() if k in components) * self.wall
        return total / self.cases


def engine_components(stack: BenchStack) -> set[str]:
    # The launch server's forked flow-run processes are its children, not the worker's.
    return {"prefect-server", "dispatcher", *stack.engine_names}


def run(options: Options, report: Report) -> None:
    cases = 2 if options.quick else 10
    idle_seconds = 15.0 if options.quick else 30.0
    per_engine: dict[str, float] = {}
    for engine in ENGINES:
        with BenchStack(f"{NAME}", options, engine=engine) as stack:
            per_engine[engine] = asyncio.run(_measure(stack, cases, idle_seconds, report))
    if len(per_engine) == 2:
        report.add(NAME, "serve/worker net CPU per case", per_engine["serve"] / per_engine["worker"], "x")


async def _measure(stack: BenchStack, cases: int, idle_seconds: float, report: Report) -> float:
    users = await log_in(stack.stack.web_url, stack.password, "operator", "dm", "cmho", "collector")
    watcher = MailWatcher(stack.maildir)
    floor_id = stack.prefect.deployment_id(stack.floor_deployment)
    pids = stack.pids()
    try:
        await app_case(stack, users, watcher, "warm-up", timeout=300)
        floor_case(stack, floor_id, "floor-warm-up", timeout=300)
        time.sleep(3)  # let the last run's process exit and be reaped

        before = snapshot(pids)
        time.sleep(idle_seconds)
        idle_delta = snapshot(pids) - before
        idle_rss = idle_delta.rss
        idle = {k: v / idle_delta.at for k, v in idle_delta.cpu.items()}

        before = snapshot(pids)
        for i in range(cases):
            floor_case(stack, floor_id, f"floor-{i}")
        time.sleep(2)
        floor = _phase(snapshot(pids) - before, cases)

        before = snapshot(pids)
        for i in range(cases):
            await app_case(stack, users, watcher, str(i))
        time.sleep(2)
        app = _phase(snapshot(pids) - before, cases)
    finally:
        for user in users.values():
            await user.close()

    engine = stack.engine
    core = engine_components(stack)
    tag = f"[{engine}, n={cases}]"
    report.add(NAME, f"idle stack CPU {tag}", 100 * sum(idle.values()), "% of a core")
    gross_app, gross_floor = app.per_case(core), floor.per_case(core)
    net_app, net_floor = app.per_case(core, idle), floor.per_case(core, idle)
    report.add(NAME, f"CPU per case, gross {tag}", gross_app, "CPU-s", floor=gross_floor)
    report.add(NAME, f"CPU per case, net of idle {tag}", net_app, "CPU-s", floor=net_floor)
    report.add(NAME, f"net CPU ratio case/floor {tag}", net_app / net_floor, "x", floor=1.0, goal=GOAL_RATIO)
    for component in sorted(core) + list(SIDE):
        report.add(
            NAME,
            f"  {component} net CPU per case {tag}",
            app.per_case({component}, idle),
            "CPU-s",
            floor=floor.per_case({component}, idle),
        )
    report.add(NAME, f"wall time per case {tag}", app.wall / cases, "s", floor=floor.wall / cases)
    report.add(NAME, f"idle RSS, {engine} process {tag}", idle_rss[engine] / MB, "MB")
    report.add(NAME, f"idle RSS, whole stack {tag}", sum(idle_rss.values()) / MB, "MB")
    report.note(
        f"{engine}: idle CPU by component (% of a core): "
        + ", ".join(f"{k} {100 * v:.1f}" for k, v in sorted(idle.items()))
    )
    return net_app


def _phase(delta: Snapshot, cases: int) -> Phase:
    return Phase(cpu=dict(delta.cpu), wall=delta.at, cases=cases)
