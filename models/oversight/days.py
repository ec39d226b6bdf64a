"""The dashboard's top: each India day of the last ten, and each period (today, ten days) in all.

A day's figures are those of the complaints opened on it, by where they stand now (a cohort, as
models/oversight/stats.py counts a window's), with the calls logged that day. One statement counts
the cases of all the days by day, state and flags; each period is the sum of its days.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import Select, func, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from models.cases.lifecycle import State
from models.cases.tables import Case
from models.oversight.stats import (
    STATES,
    CallCounts,
    Tally,
    Window,
    WindowStats,
    durations_query,
    flags,
    percentile,
)
from models.times import db_time


@dataclass
class Day:
    """One India day: calls logged, and the complaints opened that day by where they stand now."""

    day: date
    calls: int = 0
    by_state: dict[State, int] = field(default_factory=lambda: dict.fromkeys(State, 0))

    @property
    def opened(self) -> int:
        return sum(self.by_state.values())


def overview_query(window: Window, now: datetime) -> Select[tuple[int, ...]]:
    """Cases opened in window, counted by day of the window, state and the three flags."""
    rows = (
        select(window.day_of(Case.created_at).label("day"), Case.state, *flags(now))
        .where(window.holds(Case.created_at))
        .subquery()
    )
    return select(*rows.c, func.count().label("n")).group_by(*rows.c)


def overview_percentiles_query(
    window: Window, periods: list[Window]
) -> Select[tuple[list[timedelta] | None, ...]]:
    """PostgreSQL: the median and 90th percentile of opening -> first resolution in each period, one
    column each, of the cases opened in window (which holds them all)."""
    took = Case.resolved_at - Case.created_at
    return select(
        *(
            func.percentile_disc(postgresql.array([0.5, 0.9]))
            .within_group(took)
            .filter(Case.created_at >= db_time(period.start))
            for period in periods
        )
    ).where(window.holds(Case.created_at), Case.resolved_at.is_not(None))


def overview(
    session: Session, now: datetime, days: int, periods: Iterable[int], calls: CallCounts
) -> tuple[list[Day], dict[int, WindowStats]]:
    """The dashboard's top: each of the `days` India days ending today, and the figures in all of
    each period of so many days ending today (within `days`; no breakdown: window_stats gives that).

    One statement counts the cases of the `days` by day, state and flags, and each period sums its
    days; one more takes every period's percentiles on PostgreSQL. `calls` holds the `days`' calls.
    """
    window = Window.ending(now, days)
    lengths = sorted(set(periods))
    if lengths[-1] > days:
        raise ValueError(f"a period of {lengths[-1]} days is longer than the {days} days counted")
    result = [Day(d) for d in window.days]
    totals = {n: Tally() for n in lengths}
    for index, state, overdue, resolved, within, count in session.execute(overview_query(window, now)):
        st = STATES[state]
        result[index].by_state[st] += count
        for n, tally in totals.items():
            if index >= days - n:
                tally.add(st, bool(overdue), bool(resolved), bool(within), count)
    windows = {n: Window.ending(now, n) for n in lengths}
    if session.get_bind().dialect.name == "postgresql":
        row = session.execute(overview_percentiles_query(window, list(windows.values()))).one()
        for n, values in zip(lengths, row, strict=True):
            if values:  # none: no case of the period resolved
                totals[n].median, totals[n].p90 = values
    else:
        times: dict[int, list[timedelta]] = {n: [] for n in lengths}
        for _c, _b, _o, created, resolved_at in session.execute(durations_query(window)):
            for n in lengths:
                if created >= windows[n].start:
                    times[n].append(resolved_at - created)
        for n in lengths:
            totals[n].median, totals[n].p90 = percentile(times[n], 50), percentile(times[n], 90)
    for day in result:
        day.calls = sum(calls.day(day.day).values())
    stats = {}
    for n in lengths:
        by_kind = calls.kinds(windows[n])
        stats[n] = WindowStats(windows[n], sum(by_kind.values()), by_kind, totals[n], {}, {}, {})
    return result, stats
