"""handoff: from a person's POST to the next person's mail in the sink, one case at a time.

Operator submit -> DM's mail; DM assign -> officer's mail; officer resolve -> the operators' mail
(a call back is due); the call back -> Collector's mail (and Collector confirm -> operator's mail).
Floor, in the same run and interleaved case by case: the empty floor flow's start or resume -> its
next suspend (or completion) on the same server and engine.

Then the officer acts from the message: sent -> acknowledged -> acted. The one-tap link in the
officer's mail is opened at once (its page records "seen") and the step taken on it; the bench
prints the page's answer time and link resolve -> the operators' mail (people's own delays are
theirs: not measured here).
"""

from __future__ import annotations

import asyncio

from bench.cases import STAGES, CaseTimes, app_case, floor_case
from bench.harness import BenchStack, Options
from bench.report import Report, percentile
from bench.web import MailWatcher, log_in

NAME = "handoff"
GOAL_P95 = "<= 6"
LABELS = {
    "opened": "submit->DM mail",
    "assign": "assign->officer mail",
    "resolve": "resolve->operators' mail",
    "satisfied": "call back->Collector mail",
    "confirm": "confirm->operator mail",
}


def run(options: Options, report: Report) -> None:
    cases = 5 if options.quick else 30
    with BenchStack(NAME, options) as stack:
        asyncio.run(_run(stack, cases, report))
        asyncio.run(_by_link(stack, 3 if options.quick else 10, report))


async def _by_link(stack: BenchStack, cases: int, report: Report) -> None:
    """sent -> acknowledged -> acted: the officer opens the one-tap link in the mail and acts on it."""
    users = await log_in(stack.stack.web_url, stack.password, "operator", "dm", "cmho", "collector")
    watcher = MailWatcher(stack.maildir)
    try:
        linked = [await app_case(stack, users, watcher, f"link-{i}", by_link=True) for i in range(cases)]
    finally:
        for user in users.values():
            await user.close()
    engine = stack.engine
    for p in (50, 95):
        report.add(
            NAME,
            f"link: opened, seen recorded p{p} [{engine}, n={cases}]",
            percentile([c.seen * 1000 for c in linked], p),
            "ms",
        )
        report.add(
            NAME,
            f"link: resolve->operators' mail p{p} [{engine}, n={cases}]",
            percentile([c.mail["resolve"] for c in linked], p),
            "s",
            goal=GOAL_P95 if p == 95 else None,
        )


async def _run(stack: BenchStack, cases: int, report: Report) -> None:
    users = await log_in(stack.stack.web_url, stack.password, "operator", "dm", "cmho", "collector")
    watcher = MailWatcher(stack.maildir)
    floor_id = stack.prefect.deployment_id(stack.floor_deployment)
    try:
        # One of each, unmeasured: imports, first connections, the dispatcher's lazy Prefect import.
        await app_case(stack, users, watcher, "warm-up", timeout=300)
        floor_case(stack, floor_id, "floor-warm-up", timeout=300)
        app: list[CaseTimes] = []
        floor: list[CaseTimes] = []
        for i in range(cases):
            app.append(await app_case(stack, users, watcher, str(i)))
            floor.append(floor_case(stack, floor_id, f"floor-{i}"))
            print(
                f"# case {i + 1}/{cases}: " + ", ".join(f"{k} {v:.2f}s" for k, v in app[-1].mail.items()),
                flush=True,
            )
    finally:
        for user in users.values():
            await user.close()
    engine = stack.engine
    for kind, label in LABELS.items():
        mails = [c.mail[kind] for c in app]
        floors = [c.suspended[kind] for c in floor]
        for p in (50, 95):
            report.add(
                NAME,
                f"{label} p{p} [{engine}, n={cases}]",
                percentile(mails, p),
                "s",
                floor=percentile(floors, p),
                goal=GOAL_P95 if p == 95 and kind != "confirm" else None,
            )
    # Where the time goes, per step: means (they add up to the hand-off's mean), the floor's beside.
    for kind, label in LABELS.items():
        step = label.split("->")[0]
        for i, stage in enumerate(STAGES):
            ours = [c.stages[kind][i] for c in app if kind in c.stages]
            theirs = [c.stages[kind][i] for c in floor if kind in c.stages]
            if ours:
                report.add(
                    NAME,
                    f"{step}: {stage}, mean [{engine}, n={len(ours)}]",
                    sum(ours) / len(ours),
                    "s",
                    floor=sum(theirs) / len(theirs) if theirs else None,
                )
    for kind, label in LABELS.items():
        step = label.split("->")[0]
        report.add(
            NAME,
            f"{step}->run suspended again p95 [{engine}]",
            percentile([c.suspended[kind] for c in app], 95),
            "s",
            floor=percentile([c.suspended[kind] for c in floor], 95),
        )
