"""Figures for the Collector's and the DM's dashboard: aggregates of cases and calls at `now`.

A window is a run of whole India days (Asia/Kolkata) ending today. Its figures are those
of the complaints *opened* in it (a cohort): how many there were, where they stand now,
how many were resolved within their limit and how long resolving took. So every figure
is the list of cases opened on those days, filtered by state, step, category, block or
officer: what the dashboard links to. Counting is done by the database (GROUP BY over
an indexed range of created_at); only the resolution times of the window's resolved
cases are fetched, for the median and the 90th percentile, which SQLite cannot compute.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, Select, and_, case, func, literal_column, select, tuple_
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from models.cases.lifecycle import WAITING_ON, State, Step
from models.cases.listing import overdue_clause
from models.cases.tables import Case
from models.desk.tables import Call
from models.times import aware, day_start, db_time, india_day

OPEN = tuple(WAITING_ON)
STATES = {s.value: s for s in State}  # a row's state, without an Enum call per row
GROUPED = {3: "category", 5: "block", 6: "officer"}  # grouping()'s bits of each grouping set; 7: all
# Pending cases by time since they were opened: (upper bound, key); the last has none.
AGES: tuple[tuple[timedelta | None, str], ...] = (
    (timedelta(hours=1), "1h"),
    (timedelta(hours=3), "3h"),
    (timedelta(hours=6), "6h"),
    (timedelta(days=1), "1d"),
    (None, "older"),
)


@dataclass(frozen=True)
class Window:
    """Whole India days first..last; cases opened in [start, end)."""

    first: date
    last: date

    @classmethod
    def ending(cls, now: datetime, days: int) -> Window:
        """The `days` India days ending with today."""
        today = india_day(now)
        return cls(today - timedelta(days=days - 1), today)

    @property
    def start(self) -> datetime:
        return day_start(self.first)

    @property
    def end(self) -> datetime:
        return day_start(self.last + timedelta(days=1))

    @property
    def days(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range((self.last - self.first).days + 1)]

    def holds(self, column: ColumnElement[datetime]) -> ColumnElement[bool]:
        return and_(column >= db_time(self.start), column < db_time(self.end))

    def day_of(self, column: ColumnElement[datetime]) -> ColumnElement[int]:
        """The index of the window's day a moment falls on (rows already inside the window)."""
        bounds = [db_time(day_start(d + timedelta(days=1))) for d in self.days[:-1]]
        if not bounds:
            return literal_column("0")
        return case(*[(column < b, i) for i, b in enumerate(bounds)], else_=len(bounds))


def percentile(values: list[timedelta], p: float) -> timedelta | None:
    """Nearest-rank percentile (p in 0..100) of values; None for none."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1]


@dataclass
class Tally:
    """Complaints opened in a window (of one category, block or officer, or all): where they stand."""

    opened: int = 0
    by_state: dict[State, int] = field(default_factory=lambda: dict.fromkeys(State, 0))
    by_step: dict[Step, int] = field(default_factory=lambda: dict.fromkeys(Step, 0))
    overdue: int = 0  # still open and past the limit of the step they wait on
    resolved: int = 0  # resolved by an officer at least once
    within: int = 0  # of those, resolved by their resolution deadline
    median: timedelta | None = None  # time from opening to first resolution
    p90: timedelta | None = None

    @property
    def pending(self) -> int:
        return sum(self.by_step.values())

    @property
    def within_share(self) -> float | None:
        """Share of the resolved complaints resolved within the limit, 0..1 (None: none resolved)."""
        return self.within / self.resolved if self.resolved else None

    def add(self, state: State, overdue: bool, resolved: bool, within: bool, count: int) -> None:
        self.opened += count
        self.by_state[state] += count
        if state in WAITING_ON:
            self.by_step[WAITING_ON[state]] += count
        self.overdue += count * overdue
        self.resolved += count * resolved
        self.within += count * within


@dataclass
class WindowStats:
    """The figures of one window: calls, the cohort's tallies overall and by category, block and officer."""

    window: Window
    calls: int
    calls_by_kind: dict[str, int]
    total: Tally
    by_category: dict[int, Tally]
    by_block: dict[int, Tally]
    by_officer: dict[int, Tally]  # cases with an officer (assigned at least once)


def flags(now: datetime) -> tuple[ColumnElement[int], ColumnElement[int], ColumnElement[int]]:
    """A case's three flags at `now`: overdue, resolved at least once, resolved within its limit."""
    return (
        case((overdue_clause(now), 1), else_=0).label("overdue"),
        case((Case.resolved_at.is_not(None), 1), else_=0).label("resolved"),
        case((Case.resolved_at <= Case.resolve_by, 1), else_=0).label("within"),
    )


def cohort_query(window: Window, now: datetime, grouping_sets: bool = False) -> Select[tuple[int, ...]]:
    """Cases opened in window, counted by category, block, officer, state and three flags.

    grouping_sets (PostgreSQL): counted by each of category, block and officer apart and in all,
    each row led by grouping()'s bits (a bit per column left out: 3 category, 5 block, 6 officer,
    7 all), some hundreds of rows where every combination is thousands at a state's size.
    """
    # Grouped in an outer query: PostgreSQL will not match a GROUP BY expression holding a
    # bound parameter (`now`) to the same expression in the SELECT list.
    rows = (
        select(Case.category_id, Case.block_id, Case.officer_id, Case.state, *flags(now))
        .where(window.holds(Case.created_at))
        .subquery()
    )
    if not grouping_sets:
        return select(*rows.c, func.count().label("n")).group_by(*rows.c)
    c = rows.c
    by = (c.state, c.overdue, c.resolved, c.within)
    return select(
        func.grouping(c.category_id, c.block_id, c.officer_id).label("grouped"), *rows.c, func.count()
    ).group_by(
        func.grouping_sets(
            tuple_(c.category_id, *by), tuple_(c.block_id, *by), tuple_(c.officer_id, *by), tuple_(*by)
        )
    )


def durations_query(window: Window) -> Select[tuple[int, int | None, int | None, datetime, datetime]]:
    """Opening and first resolution of each case opened in window and resolved since."""
    return select(Case.category_id, Case.block_id, Case.officer_id, Case.created_at, Case.resolved_at).where(
        window.holds(Case.created_at), Case.resolved_at.is_not(None)
    )


def percentiles_query(window: Window) -> Select[tuple[str, int | None, list[timedelta]]]:
    """PostgreSQL: the median and 90th percentile of opening -> first resolution of the cases opened
    in window, for all of them and by category, block and officer: ("", None, [median, p90]),
    ("category", id, [...]) and so on. `percentile_disc` is the nearest rank, as `percentile()` takes
    it on SQLite; both from one sort of each group."""
    took = Case.resolved_at - Case.created_at
    grouped = func.grouping(Case.category_id, Case.block_id, Case.officer_id)  # a bit per column left out
    kind = case(*((grouped == bits, name) for bits, name in GROUPED.items()), else_="")
    return (
        select(
            kind.label("grouped"),
            func.coalesce(Case.category_id, Case.block_id, Case.officer_id).label("key"),
            func.percentile_disc(postgresql.array([0.5, 0.9])).within_group(took),
        )
        .where(window.holds(Case.created_at), Case.resolved_at.is_not(None))
        .group_by(
            func.grouping_sets(
                tuple_(Case.category_id), tuple_(Case.block_id), tuple_(Case.officer_id), tuple_()
            )
        )
    )


def calls_query(window: Window) -> Select[tuple[int, str, int]]:
    """Calls logged in window, counted by day of the window and kind."""
    rows = select(window.day_of(Call.created_at).label("day"), Call.kind).where(window.holds(Call.created_at))
    sub = rows.subquery()
    return select(sub.c.day, sub.c.kind, func.count().label("n")).group_by(sub.c.day, sub.c.kind)


@dataclass(frozen=True)
class CallCounts:
    """Calls logged in a window, by day of the window and kind: read once, for each window inside it."""

    window: Window
    by_day: dict[int, dict[str, int]]  # the window's day index -> kind -> calls

    def day(self, d: date) -> dict[str, int]:
        """Calls by kind on day d, one of this window's days."""
        if not self.window.first <= d <= self.window.last:
            raise ValueError(f"{d} is not a day of {self.window}, whose calls these are")
        return self.by_day.get((d - self.window.first).days, {})

    def kinds(self, window: Window) -> dict[str, int]:
        """Calls by kind in window, one of the days of this one."""
        if window.first < self.window.first or window.last > self.window.last:
            raise ValueError(f"{window} is not inside {self.window}, whose calls these are")
        counts: dict[str, int] = defaultdict(int)
        for d in window.days:
            for kind, n in self.day(d).items():
                counts[kind] += n
        return dict(counts)


def call_counts(session: Session, window: Window) -> CallCounts:
    by_day: dict[int, dict[str, int]] = defaultdict(dict)
    for index, kind, n in session.execute(calls_query(window)):
        by_day[index][kind] = n
    return CallCounts(window, dict(by_day))


def window_stats(
    session: Session, now: datetime, days: int, calls: CallCounts | None = None, with_calls: bool = True
) -> WindowStats:
    """The figures of the `days` India days ending today, as they stand at `now`; the calls from
    `calls` (of a window holding this one) when given, else read (not with_calls: none counted)."""
    window = Window.ending(now, days)
    total = Tally()
    groups: dict[str, dict[int, Tally]] = {"category": {}, "block": {}, "officer": {}}
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:  # each row counts in one tally
        for grouped, *keys, state, overdue, resolved, within, n in session.execute(
            cohort_query(window, now, grouping_sets=True)
        ):
            kind = GROUPED.get(grouped)
            key = keys[("category", "block", "officer").index(kind)] if kind else None
            if kind and key is None:
                continue  # no block, or no officer yet: counted in all only
            tally = groups[kind].setdefault(key, Tally()) if kind else total
            tally.add(STATES[state], bool(overdue), bool(resolved), bool(within), n)
    else:
        for category, block, officer, state, overdue, resolved, within, n in session.execute(
            cohort_query(window, now)
        ):
            for tally in _tallies(total, groups, category, block, officer):
                tally.add(STATES[state], bool(overdue), bool(resolved), bool(within), n)
    if postgres:
        # The database takes the percentiles: some 50 rows, not every resolved case of the window.
        for grouped, key, values in session.execute(percentiles_query(window)):
            tally = total if grouped == "" else groups[grouped].get(key)
            if tally is not None and values:  # none: no case of the window resolved
                tally.median, tally.p90 = values
    else:
        times: dict[int, list[timedelta]] = defaultdict(list)  # keyed by id() of each tally
        for category, block, officer, created, resolved_at in session.execute(durations_query(window)):
            for tally in _tallies(total, groups, category, block, officer):
                times[id(tally)].append(resolved_at - created)
        for tally in [total, *(t for g in groups.values() for t in g.values())]:
            tally.median = percentile(times[id(tally)], 50)
            tally.p90 = percentile(times[id(tally)], 90)
    by_kind = (calls or call_counts(session, window)).kinds(window) if with_calls else {}
    return WindowStats(
        window=window,
        calls=sum(by_kind.values()),
        calls_by_kind=by_kind,
        total=total,
        by_category=groups["category"],
        by_block=groups["block"],
        by_officer=groups["officer"],
    )


def _tallies(
    total: Tally, groups: dict[str, dict[int, Tally]], category: int, block: int | None, officer: int | None
) -> Iterable[Tally]:
    """The tallies a case counts in: the total and those of its category, block and officer."""
    yield total
    for kind, key in (("category", category), ("block", block), ("officer", officer)):
        if key is not None:
            tally = groups[kind].get(key)
            if tally is None:
                tally = groups[kind][key] = Tally()
            yield tally


@dataclass
class Pending:
    """Every open case now, whenever it was opened: by step, overdue, and by age per step."""

    by_step: dict[Step, int]
    overdue: dict[Step, int]
    by_age: dict[str, dict[Step, int]]  # AGES key -> step -> cases

    @property
    def total(self) -> int:
        return sum(self.by_step.values())


def pending_query(now: datetime) -> Select[tuple[str, int, int, int]]:
    """Open cases counted by state, overdue and age bucket (the index of AGES)."""
    at = db_time(now)
    age = case(
        *[(Case.created_at > at - bound, i) for i, (bound, _key) in enumerate(AGES) if bound is not None],
        else_=len(AGES) - 1,
    )
    sub = (
        select(
            Case.state,
            case((Case.due_at < at, 1), else_=0).label("overdue"),
            age.label("age"),
        )
        .where(Case.state.in_(OPEN))
        .subquery()
    )
    return select(*sub.c, func.count().label("n")).group_by(*sub.c)


def pending(session: Session, now: datetime) -> Pending:
    """The open cases at `now`."""
    result = Pending(
        by_step=dict.fromkeys(Step, 0),
        overdue=dict.fromkeys(Step, 0),
        by_age={key: dict.fromkeys(Step, 0) for _bound, key in AGES},
    )
    for state, overdue, age, n in session.execute(pending_query(now)):
        step = WAITING_ON[State(state)]
        result.by_step[step] += n
        result.overdue[step] += n * overdue
        result.by_age[AGES[age][1]][step] += n
    return result


def age_range(key: str, now: datetime) -> tuple[date | None, date]:
    """The India dates on which the cases of an age bucket were opened (None: no lower bound)."""
    index = [k for _b, k in AGES].index(key)
    upper = AGES[index][0]
    lower = AGES[index - 1][0] if index else None
    newest = india_day(aware(now) - (lower or timedelta(0)))
    oldest = india_day(aware(now) - upper) if upper is not None else None
    return oldest, newest
