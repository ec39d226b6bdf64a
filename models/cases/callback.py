"""The call back to the caller after the officer resolves: its unanswered tries, counted since the
officer's latest resolution. After the category's `callback_tries` the Collector may close the case
without the caller's word (models/cases/decisions.py)."""

from __future__ import annotations

from functools import cache

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql import ColumnElement

from models.cases.lifecycle import Action, State
from models.cases.tables import Case, CaseEvent
from models.reference.tables import Category


def unanswered_tries(session: Session, case: Case) -> int:
    """The callback tries the caller did not answer since the officer's latest resolution."""
    latest_resolve = (
        select(func.max(CaseEvent.id))
        .where(CaseEvent.case_id == case.id, CaseEvent.kind == Action.resolve.value)
        .scalar_subquery()
    )
    return (
        session.scalar(
            select(func.count())
            .select_from(CaseEvent)
            .where(
                CaseEvent.case_id == case.id,
                CaseEvent.kind == Action.unreachable.value,
                CaseEvent.id > func.coalesce(latest_resolve, 0),
            )
        )
        or 0
    )


@cache  # the same clause each time: built once (some 70 elements), then only its statement's cache key
def tries_used_up_clause() -> ColumnElement[bool]:
    """SQL: the case waits on a callback whose tries are used up (the Collector may close it)."""
    resolve = aliased(CaseEvent)
    # Correlated to the outer query's case by name: two levels down, SQLAlchemy would otherwise add
    # `cases` to this subquery's FROM and take the latest resolution of any case.
    latest_resolve = (
        select(func.max(resolve.id))
        .where(resolve.case_id == Case.id, resolve.kind == Action.resolve.value)
        .correlate(Case)
    ).scalar_subquery()
    tries = (
        select(func.count(CaseEvent.id))
        .where(
            CaseEvent.case_id == Case.id,
            CaseEvent.kind == Action.unreachable.value,
            CaseEvent.id > func.coalesce(latest_resolve, 0),
        )
        .scalar_subquery()
    )
    allowed = select(Category.callback_tries).where(Category.id == Case.category_id).scalar_subquery()
    return (Case.state == State.callback) & (tries >= allowed)


def tries_used_up(session: Session, case: Case) -> bool:
    """Whether the Collector may close the case unverified: the category's tries went unanswered."""
    return case.state == State.callback and unanswered_tries(session, case) >= case.category.callback_tries
