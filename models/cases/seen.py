"""Acknowledgement: when the person a hand-off went to saw it (opened its one-tap link, or pressed Seen)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from models.cases.lifecycle import State
from models.cases.tables import Case
from models.messages import Delivery
from models.reference.tables import Role, User
from models.times import aware

# The role a case in each open state waits on (an assigned case: its officer alone).
WAITING_ROLE = {
    State.awaiting_assignment: Role.dm,
    State.assigned: Role.officer,
    State.callback: Role.operator,
    State.resolved: Role.collector,
}


def waiting_on(session: Session, case: Case) -> list[User]:
    """Whoever the case waits on: its officer, the operators (a call back), the DMs or the Collectors."""
    if case.state == State.assigned:
        return [case.officer] if case.officer else []
    if case.state not in WAITING_ROLE:
        return []
    role = WAITING_ROLE[State(case.state)]
    return list(
        session.scalars(select(User).where(User.role == role, User.active.is_(True)).order_by(User.id))
    )


def latest_event(session: Session, case_id: int, user_id: int) -> int | None:
    """The case's latest event with a delivery to user (the step their newest message is about)."""
    return session.scalar(select(_latest_event(case_id, user_id)))


def _latest_event(case_id: int, user_id: int) -> Any:
    """The case's latest event with a delivery to user: the step their newest message is about."""
    return (
        select(func.max(Delivery.event_id))
        .where(Delivery.case_id == case_id, Delivery.user_id == user_id)
        .scalar_subquery()
    )


def mark_seen(session: Session, case_id: int, user_id: int, now: datetime) -> int:
    """Record that user saw their newest message about case (once); return how many rows it marked."""
    result = session.execute(
        update(Delivery)
        .where(
            Delivery.case_id == case_id,
            Delivery.user_id == user_id,
            Delivery.event_id == _latest_event(case_id, user_id),
            Delivery.seen_at.is_(None),
        )
        .values(seen_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def current_deliveries(session: Session, case_id: int, user_id: int) -> list[Delivery]:
    """User's deliveries about the current step (the case's latest event with any delivery), if any."""
    latest = select(func.max(Delivery.event_id)).where(Delivery.case_id == case_id).scalar_subquery()
    return list(
        session.scalars(
            select(Delivery)
            .where(Delivery.case_id == case_id, Delivery.user_id == user_id, Delivery.event_id == latest)
            .order_by(Delivery.id)
        )
    )


def minutes_to_seen(delivery: Delivery) -> int:
    """Whole minutes from a delivery's sending (or its making, if unsent) to when it was seen."""
    assert delivery.seen_at is not None
    start = aware(delivery.sent_at or delivery.created_at)
    return max(0, int((aware(delivery.seen_at) - start).total_seconds() // 60))


def seen_by_waiting(session: Session, cases: Iterable[Case]) -> dict[int, datetime | None]:
    """For each open case with a message to the one it waits on: when they first saw it (None: not yet).

    The step is the case's latest event with a delivery to someone it waits on; a case with no such
    message is left out.
    """
    open_cases = {c.id: c for c in cases if State(c.state) in WAITING_ROLE}
    if not open_cases:
        return {}
    rows = session.execute(
        select(Delivery.case_id, Delivery.event_id, Delivery.user_id, Delivery.seen_at, User.role)
        .join(User, User.id == Delivery.user_id)
        .where(Delivery.case_id.in_(list(open_cases)))
        .order_by(Delivery.event_id)
    ).all()
    latest: dict[int, int] = {}
    seen: dict[int, datetime | None] = {}
    for row in rows:
        case = open_cases[row.case_id]
        if row.role != WAITING_ROLE[State(case.state)]:
            continue
        if case.state == State.assigned and row.user_id != case.officer_id:
            continue
        if latest.get(row.case_id) != row.event_id:  # a newer step: start again
            latest[row.case_id], seen[row.case_id] = row.event_id, None
        if row.seen_at is not None:
            first = seen[row.case_id]
            seen[row.case_id] = row.seen_at if first is None else min(first, row.seen_at)
    return seen
