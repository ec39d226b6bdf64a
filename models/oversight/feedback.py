"""The callers' word on their cases, from the operators' call backs (models/cases/lifecycle.py).

Counted over the call backs that ended in a span of time, whatever day their case opened: a rating
(`satisfied`, 1 to 5), a case back with its officer (`not_satisfied`: reopened after the call back),
or a closure by the Collector without the caller's word (`close_unverified`: a forced closure). By
category, by department, and by the case's officer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, case, func, select
from sqlalchemy.orm import Session

from models.cases.lifecycle import Action
from models.cases.tables import Case, CaseEvent
from models.reference.tables import Category, Department, User
from models.times import db_time

VERDICTS = (Action.satisfied.value, Action.not_satisfied.value, Action.close_unverified.value)


@dataclass(frozen=True)
class Feedback:
    """One group's call backs (or all of them): ratings and the two ways a call back fails."""

    name: str
    name_hi: str
    rated: int  # callers satisfied, each with a rating
    rating_sum: int
    reopened: int  # not satisfied: back to the officer
    forced: int  # closed without the caller's word

    @property
    def average(self) -> float | None:
        """The average rating, 1 to 5; None with no rating."""
        return self.rating_sum / self.rated if self.rated else None


@dataclass(frozen=True)
class FeedbackFigures:
    total: Feedback
    by_category: list[Feedback]
    by_department: list[Feedback]
    by_officer: list[Feedback]


def _counts() -> tuple[ColumnElement[int], ...]:
    def of(kind: Action) -> ColumnElement[int]:
        return func.coalesce(func.sum(case((CaseEvent.kind == kind.value, 1), else_=0)), 0)

    rating = func.coalesce(
        func.sum(case((CaseEvent.kind == Action.satisfied.value, CaseEvent.rating), else_=0)), 0
    )
    return of(Action.satisfied), rating, of(Action.not_satisfied), of(Action.close_unverified)


def verdicts_query(start: datetime, end: datetime) -> Select[tuple[int, int | None, int, int, int, int]]:
    """The call backs that ended in [start, end), counted by the case's category and officer."""
    return (
        select(Case.category_id, Case.officer_id, *_counts())
        .select_from(CaseEvent)
        .join(Case, Case.id == CaseEvent.case_id)
        .where(
            CaseEvent.kind.in_(VERDICTS),
            CaseEvent.created_at >= db_time(start),
            CaseEvent.created_at < db_time(end),
        )
        .group_by(Case.category_id, Case.officer_id)
    )


def feedback(session: Session, start: datetime, end: datetime) -> FeedbackFigures:
    """The call backs that ended in [start, end): in all, by category, department and officer.

    One statement reads the verdicts by category and officer (an index range of the events by kind
    and time, `ix_case_events_kind_created`); the other groupings are sums of its rows.
    """
    rows = session.execute(verdicts_query(start, end)).all()
    categories = {c.id: c for c in session.scalars(select(Category))}
    departments = {d.id: d for d in session.scalars(select(Department))}
    officer_ids = {officer for _category, officer, *_counts in rows if officer is not None}
    officers = {u.id: u for u in session.scalars(select(User).where(User.id.in_(officer_ids)))}
    total = [0, 0, 0, 0]
    groups: dict[str, dict[int, list[int]]] = {"category": {}, "department": {}, "officer": {}}
    for category_id, officer_id, *counts in rows:
        keys = {"category": category_id, "department": categories[category_id].department_id}
        if officer_id is not None:
            keys["officer"] = officer_id
        for sums in (total, *(groups[g].setdefault(k, [0, 0, 0, 0]) for g, k in keys.items())):
            for i, count in enumerate(counts):
                sums[i] += count

    def lines(group: str, names: dict[int, tuple[str, str]]) -> list[Feedback]:
        found = [Feedback(*names[key], *sums) for key, sums in groups[group].items()]
        return sorted(found, key=lambda line: line.name)

    return FeedbackFigures(
        total=Feedback("", "", *total),
        by_category=lines("category", {i: (c.name, c.name_hi or "") for i, c in categories.items()}),
        by_department=lines("department", {i: (d.name, d.name_hi or "") for i, d in departments.items()}),
        # A person's name has no Hindi form: the name twice.
        by_officer=lines("officer", {i: (u.name, u.name) for i, u in officers.items()}),
    )
