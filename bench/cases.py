"""Carry one case through its four hand-offs: the real one over HTTP, and the floor flow over the API.

Between steps the next person acts only once the run is suspended again, as a human
(who takes minutes) would: so a latency is the hand-off, not the dispatcher's retries.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from bench.harness import BenchStack, wait_until
from bench.web import MAIL_AFTER, STEPS, MailWatcher, WebUser

KINDS = ("opened", "assign", "resolve", "satisfied", "confirm")
FLOOR_INPUTS = [
    {"action": a, "event_id": i + 1, "by_user": who, "note": str(f.get("text", ""))}
    for i, (who, a, f) in enumerate(STEPS)
]


@dataclass
class CaseTimes:
    """Seconds from each step's POST (or API call) to its mail and to the run's next suspend."""

    number: str = ""
    seen: float = 0.0  # a one-tap link: seconds for its page to open (and record "seen")
    mail: dict[str, float] = field(default_factory=dict)
    suspended: dict[str, float] = field(default_factory=dict)
    stages: dict[str, tuple[float, ...]] = field(default_factory=dict)


STAGES = ("handed to Prefect", "taken by the worker", "launched", "step to the mail")


def stages(states: list[tuple[str, float]], sent: float, end: float) -> tuple[float, ...] | None:
    """Where one step's time went, from its run's state history: the POST (or API call) to the run
    scheduled (created, or resumed: the dispatcher), to Pending (the worker's poll and claim), to
    Running (the launch), to `end` (the mail, or the next suspend: the step itself)."""
    after = [(kind, at) for kind, at in states if at >= sent - 0.05]
    marks = []
    for kind in ("SCHEDULED", "PENDING", "RUNNING"):
        at = next((at for k, at in after if k == kind and (not marks or at >= marks[-1])), None)
        if at is None:
            return None
        marks.append(at)
    points = [sent, *marks, end]
    return tuple(b - a for a, b in zip(points, points[1:], strict=False))


def wait_mail(watcher: MailWatcher, number: str, to: str, timeout: float, after: float = 0.0) -> float:
    """When `to`'s mail about number arrived (the first at or after `after`: the operator has two)."""

    def arrived() -> float | None:
        watcher.poll()
        return watcher.first(number, to, after)

    return wait_until(arrived, timeout, 0.05, what=f"mail to {to} about {number}")


async def app_case(
    stack: BenchStack,
    users: dict[str, WebUser],
    watcher: MailWatcher,
    label: str,
    timeout: float = 120,
    by_link: bool = False,
) -> CaseTimes:
    """Open a case as the operator, then assign, resolve (by_link: from the officer's one-tap link), call
    back and confirm it, timing each hand-off."""
    opened = await users["operator"].open_case(label)
    if opened.status != 302:
        raise RuntimeError(f"intake answered {opened.status}")
    times = CaseTimes(number=opened.number)
    times.mail["opened"] = wait_mail(watcher, opened.number, MAIL_AFTER["opened"], timeout) - opened.sent_at
    run = wait_until(
        lambda: stack.prefect.run_named(opened.number), timeout, 0.1, what=f"run {opened.number}"
    )
    run_id = str(run["id"])
    times.suspended["opened"] = stack.prefect.wait_step(run_id, 0, timeout) - opened.sent_at
    sent = {"opened": opened.sent_at}
    for step, (who, action, fields) in enumerate(STEPS, start=1):
        link = watcher.act_link(opened.number, who) if by_link and who == "cmho" else None
        if link:  # the officer acts from the message: open the one-tap link (seen), take the step
            times.seen, posted = await users[who].act_by_link(link, action, **fields)
        else:
            posted = await users[who].decide(opened.number, action, **fields)
        arrived = wait_mail(watcher, opened.number, MAIL_AFTER[action], timeout, after=posted.sent_at - 1)
        times.mail[action] = arrived - posted.sent_at
        done = stack.prefect.wait_step(run_id, step if step < len(STEPS) else None, timeout)
        times.suspended[action] = done - posted.sent_at
        sent[action] = posted.sent_at
    _stages(times, stack.prefect.states(run_id), sent, times.mail)
    return times


def _stages(times: CaseTimes, states: list[tuple[str, float]], sent: dict[str, float], ends: dict) -> None:
    for kind, at in sent.items():
        found = stages(states, at, at + ends[kind])
        if found:
            times.stages[kind] = found


def floor_case(stack: BenchStack, deployment_id: str, label: str, timeout: float = 120) -> CaseTimes:
    """Start the floor flow and resume it three times, timing each step to the next suspend."""
    api = stack.prefect
    times = CaseTimes(number=label)
    sent = time.time()
    run_id = api.create_run(deployment_id, {"case_id": 0, "case_number": label, "event_id": 0}, label)
    times.suspended["opened"] = api.wait_step(run_id, 0, timeout) - sent
    sent_at = {"opened": sent}
    for step, run_input in enumerate(FLOOR_INPUTS, start=1):
        sent = time.time()
        api.resume(run_id, run_input)
        done = api.wait_step(run_id, step if step < len(FLOOR_INPUTS) else None, timeout)
        times.suspended[str(run_input["action"])] = done - sent
        sent_at[str(run_input["action"])] = sent
    _stages(times, api.states(run_id), sent_at, times.suspended)
    return times
