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


def _verdicts(start: datetime, end: datetime, *columns: ColumnElement[object]) -> Select[tuple[object, ...]]:
    return (
        select(*columns, *_counts())
        .select_from(CaseEvent)
        .join(Case, Case.id == CaseEvent.case_id)
        .where(
            CaseEvent.kind.in_(VERDICTS),
            CaseEvent.created_at >= db_time(start),
            CaseEvent.created_at < db_time(end),
        )
    )


def _lines(session: Session, query: Select[tuple[object, ...]]) -> list[Feedback]:
    lines = [
        Feedback(str(name), str(name_hi or ""), *counts) for name, name_hi, *counts in session.execute(query)
    ]
    return sorted(lines, key=lambda line: line.name)


def feedback(session: Session, start: datetime, end: datetime) -> FeedbackFigures:
    """The call backs that ended in [start, end): in all, by category, department and officer."""
    totals = session.execute(_verdicts(start, end)).one()
    by_category = _verdicts(start, end, Category.name, Category.name_hi).join(
        Category, Category.id == Case.category_id
    )
    by_department = (
        _verdicts(start, end, Department.name, Department.name_hi)
        .join(Category, Category.id == Case.category_id)
        .join(Department, Department.id == Category.department_id)
    )
    # A person's name has no Hindi form: the name twice.
    by_officer = _verdicts(start, end, User.name, User.name.label("name_hi")).join(
        User, User.id == Case.officer_id
    )
    return FeedbackFigures(
        total=Feedback("", "", *totals),
        by_category=_lines(session, by_category.group_by(Category.id, Category.name, Category.name_hi)),
        by_department=_lines(
            session, by_department.group_by(Department.id, Department.name, Department.name_hi)
        ),
        by_officer=_lines(session, by_officer.group_by(User.id, User.name)),
    )
