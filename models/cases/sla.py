"""Time limits and the escalation ladder: pure functions of a case's facts and `now`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from models.cases.lifecycle import WAITING_ON, State, Step
from models.times import aware


@dataclass(frozen=True)
class Limits:
    """A category's time limits, in minutes, for each step it waits on."""

    assign: int  # the DM assigns
    resolve: int  # the officer acts
    confirm: int  # the Collector confirms
    urgent: int  # an urgent case's limit for any step (the tighter one wins)
    callback: int = 120  # an operator rings the caller back


@dataclass(frozen=True)
class Clock:
    """Where a case stands against the limit of the step it waits on."""

    step: Step
    started: datetime
    limit: timedelta

    @property
    def due(self) -> datetime:
        return self.started + self.limit

    def left(self, now: datetime) -> timedelta:
        """Time left before the limit; negative once overdue."""
        return self.due - aware(now)

    def percent(self, now: datetime) -> float:
        """Share of the limit used so far, in percent (over 100 when overdue)."""
        return 100 * (aware(now) - self.started) / self.limit if self.limit else float("inf")


@dataclass(frozen=True)
class Rung:
    """One rung of the ladder: at `percent` of a step's limit, tell `audience`."""

    id: int
    step: Step | None  # None: every step
    percent: int
    audience: str  # "assignee" | "dm" | "collector"


def step_limit(step: Step, urgent: bool, limits: Limits) -> timedelta:
    minutes = {
        Step.dm: limits.assign,
        Step.officer: limits.resolve,
        Step.callback: limits.callback,
        Step.collector: limits.confirm,
    }[step]
    if urgent:
        minutes = min(minutes, limits.urgent)
    return timedelta(minutes=max(minutes, 1))


def resolution_deadline(opened: datetime, urgent: bool, limits: Limits) -> datetime:
    """When a case opened at `opened` should be resolved: its DM and officer steps' limits."""
    return aware(opened) + step_limit(Step.dm, urgent, limits) + step_limit(Step.officer, urgent, limits)


def clock(state: State | str, state_since: datetime, urgent: bool, limits: Limits) -> Clock | None:
    """The running clock of a case in state since state_since; None once it is closed or rejected."""
    step = WAITING_ON.get(State(state))
    if step is None:
        return None
    return Clock(step, aware(state_since), step_limit(step, urgent, limits))


def step_deadline(state: State | str, since: datetime, urgent: bool, limits: Limits) -> datetime | None:
    """The due time of the step a case in state since `since` waits on (None once final)."""
    running = clock(state, since, urgent, limits)
    return running.due if running else None


def rungs_reached(running: Clock, rungs: list[Rung], now: datetime) -> list[Rung]:
    """The rungs of running's step whose moment has come, lowest first."""
    used = running.percent(now)
    mine = [r for r in rungs if (r.step is None or r.step == running.step) and used >= r.percent]
    return sorted(mine, key=lambda r: (r.percent, r.id))


def running_clock(state: State | str, state_since: datetime, due_at: datetime | None) -> Clock | None:
    """The clock of the step a case waits on, from its stored deadline; None once it is final."""
    step = WAITING_ON.get(State(state))
    if step is None or due_at is None:
        return None
    started = aware(state_since)
    return Clock(step, started, aware(due_at) - started)


def overdue(state: State | str, due_at: datetime | None, now: datetime) -> bool:
    """Whether a case waits on a step past its limit; the same rule in SQL is cases/listing.overdue_clause."""
    return State(state) in WAITING_ON and due_at is not None and aware(due_at) < aware(now)
