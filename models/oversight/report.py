"""The daily report for the Collector's review meeting: one India day's cases, counted."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select, union_all
from sqlalchemy.orm import Session, joinedload

from models.cases.lifecycle import WAITING_ON, Action, State, Step
from models.cases.sla import step_deadline
from models.cases.tables import Case, CaseEvent, Priority
from models.reference.tables import Category
from models.times import aware, day_start

# Escalation events repeat the state; only these kinds move a case (and restart its step clock).
MOVES = ("opened", *Action)
BATCH = 1_000  # cases whose last moves one statement reads
OVERDUE_LISTED = 100  # the overdue cases a report lists, longest overdue first; it counts them all


@dataclass(frozen=True)
class Pending:
    """A case still waiting at the report's moment, and where its step stood then."""

    case_id: int
    number: str
    category_id: int
    step: Step
    since: datetime
    due: datetime
    overdue: bool


@dataclass(frozen=True)
class CategoryLine:
    category: Category
    opened: int
    closed: int
    pending: int
    overdue: int


@dataclass(frozen=True)
class DailyReport:
    day: date
    at: datetime  # the end of the day, or now while the day lasts
    opened: int
    closed: int  # closure confirmed by the Collector
    rejected: int
    merged: int  # merged into another case about the same problem: counted apart, not as closures
    pending: dict[Step, int]
    overdue: list[Pending]  # longest overdue first
    categories: list[CategoryLine]
    cases: dict[int, Case]  # the first OVERDUE_LISTED overdue cases, with their category and officer


def daily_report(session: Session, day: date, now: datetime) -> DailyReport:
    """The report of India day `day` as it stood at the day's end (or now, for today).

    1. Cases opened and closed within the day, from the cases' own timestamps.
    2. Cases open at the moment: opened before it and not closed by then.
    3. Each one's state then is that of its last move before the moment; its step clock
       ran from that move, so the deadline then comes from the same rules as `due_at`.
    """
    start, end = day_start(day), day_start(day + timedelta(days=1))
    at = min(end, now)
    opened = Counter(
        dict(
            session.execute(
                select(Case.category_id, func.count())
                .where(Case.created_at >= start, Case.created_at < at)
                .group_by(Case.category_id)
            ).all()
        )
    )
    closed: Counter[int] = Counter()
    ended: Counter[str] = Counter()
    for category_id, state, count in session.execute(
        select(Case.category_id, Case.state, func.count())
        .where(Case.closed_at >= start, Case.closed_at < at)
        .group_by(Case.category_id, Case.state)
    ):
        if state in (State.rejected, State.merged):
            ended[state] += count
        else:
            closed[category_id] += count
    waiting = pending_at(session, at)
    categories = session.scalars(select(Category).order_by(Category.name)).all()
    pending = Counter(p.category_id for p in waiting)
    late = Counter(p.category_id for p in waiting if p.overdue)
    lines = [CategoryLine(c, opened[c.id], closed[c.id], pending[c.id], late[c.id]) for c in categories]
    overdue = sorted((p for p in waiting if p.overdue), key=lambda p: (p.due, p.case_id))
    listed = [p.case_id for p in overdue[:OVERDUE_LISTED]]
    cases = session.scalars(
        select(Case).where(Case.id.in_(listed)).options(joinedload(Case.category), joinedload(Case.officer))
    )
    return DailyReport(
        day=day,
        at=at,
        opened=sum(opened.values()),
        closed=sum(closed.values()),
        rejected=ended[State.rejected],
        merged=ended[State.merged],
        pending={step: sum(1 for p in waiting if p.step == step) for step in Step},
        overdue=overdue,
        categories=[line for line in lines if line.opened or line.closed or line.pending],
        cases={case.id: case for case in cases},
    )


def pending_at(session: Session, at: datetime) -> list[Pending]:
    """The cases waiting on someone at `at`, each with its step and that step's deadline then.

    A case open now that has not moved since `at` stood then as it stands now: its state since
    `state_since` (every move sets it and writes an event). That is every open case for today's
    report, read from the cases alone. The others open then (closed since, or open and moved
    since) get their state then from their last move before `at`, BATCH cases to a statement:
    with the cases named, the planner looks their events up rather than joining whole tables.
    """
    columns = (Case.id, Case.number, Case.category_id, Case.priority)
    unmoved = select(*columns, Case.state, Case.state_since).where(
        Case.closed_at.is_(None), Case.created_at < at, Case.state_since < at
    )
    rows = list(session.execute(unmoved))
    moved = sorted(
        session.scalars(
            union_all(
                select(Case.id).where(Case.closed_at.is_(None), Case.created_at < at, Case.state_since >= at),
                select(Case.id).where(Case.closed_at >= at, Case.created_at < at),
            )
        )
    )
    for ids in (moved[i : i + BATCH] for i in range(0, len(moved), BATCH)):
        last = (
            select(CaseEvent.case_id, func.max(CaseEvent.id).label("event_id"))
            .where(CaseEvent.case_id.in_(ids), CaseEvent.created_at < at, CaseEvent.kind.in_(MOVES))
            .group_by(CaseEvent.case_id)
            .subquery()
        )
        rows.extend(
            session.execute(
                select(*columns, CaseEvent.to_state, CaseEvent.created_at)
                .join(last, last.c.case_id == Case.id)
                .join(CaseEvent, CaseEvent.id == last.c.event_id)
            )
        )
    limits = {c.id: c.limits for c in session.scalars(select(Category))}
    waiting = []
    for case_id, number, category_id, priority, state, since in sorted(rows):
        step = WAITING_ON.get(State(state))
        if step is None:
            continue
        due = step_deadline(state, since, priority == Priority.urgent, limits[category_id])
        assert due is not None
        waiting.append(Pending(case_id, number, category_id, step, aware(since), due, due < at))
    return waiting
