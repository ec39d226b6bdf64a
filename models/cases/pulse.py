"""What a screen left open needs to know to stay current: whether anything changed, and what is urgent.

A live page asks for this every few seconds; it costs a few index lookups, never a scan, so that
a room full of open screens does not load the database. A page redraws its parts only when the
stamp moved.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from models.cases.callback import tries_used_up_clause
from models.cases.lifecycle import FINAL, State
from models.cases.tables import Case, CaseEvent
from models.desk.tables import Call
from models.homecare.tables import Reading
from models.reference.tables import Role, User, Village

OPEN_STATES = [s.value for s in State if s not in FINAL]


@dataclass(frozen=True)
class Emergency:
    case_id: int
    number: str
    state: str
    village: Village  # its name in either language


@dataclass(frozen=True)
class Pulse:
    stamp: str  # changes whenever a case, a call or a reading was added or moved
    waiting: int  # the cases on the user's queue
    emergencies: list[Emergency]  # in progress, those the user should know of


def waiting_parts(user: User) -> list[ColumnElement[bool]]:
    """The cases on user's queue, as the queue page lists them, in parts no case is in twice.

    An operator's: the callbacks due and the open ones they opened. The Collector's: the resolved
    cases, and the call backs whose tries are used up; counted apart, each part is read by an index
    of its own (as one OR, the rows of both are read: 11 -> 5 ms at a state's size).
    """
    if user.role == Role.dm:
        return [Case.state == State.awaiting_assignment]
    if user.role == Role.officer:
        return [(Case.state == State.assigned) & (Case.officer_id == user.id)]
    if user.role == Role.collector:
        return [Case.state == State.resolved, tries_used_up_clause()]
    if user.role == Role.operator:  # the callbacks due, and the open ones they opened
        mine = (Case.created_by_id == user.id) & Case.state.in_(OPEN_STATES)
        return [(Case.state == State.callback) | mine]
    return [Case.state.in_(OPEN_STATES)]


def waiting_clause(user: User) -> ColumnElement[bool]:
    """The cases on user's queue, as the queue page lists them."""
    return or_(*waiting_parts(user))


def stamp(session: Session) -> str:
    """What moves with any change: every decision adds an event and every case starts with one, so
    the newest event id moves with any change to a case; calls and readings are rows only ever inserted.
    """
    event, call, reading = session.execute(
        select(
            select(func.max(CaseEvent.id)).scalar_subquery(),
            select(func.max(Call.id)).scalar_subquery(),
            select(func.max(Reading.id)).scalar_subquery(),
        )
    ).one()
    return f"{event or 0}.{call or 0}.{reading or 0}"


def pulse(session: Session, user: User, at: str | None = None) -> Pulse:
    """The user's pulse; `at`: the stamp, if read already."""
    parts = waiting_parts(user)
    counts = [select(func.count()).select_from(Case).where(part).scalar_subquery() for part in parts]
    waiting = sum(n or 0 for n in session.execute(select(*counts)).one())
    return Pulse(
        stamp=at if at is not None else stamp(session),
        waiting=waiting,
        emergencies=emergencies_for(session, user),
    )


def emergencies_for(session: Session, user: User) -> list[Emergency]:
    """Emergencies in progress, oldest first: the room sees all; an officer those assigned to them."""
    query = (
        select(Case)
        .where(Case.emergency.is_(True), Case.state.in_(OPEN_STATES))
        .order_by(Case.created_at, Case.id)
        .limit(20)
    )
    if user.role == Role.officer:
        query = query.where(Case.officer_id == user.id)
    return [
        Emergency(
            case_id=case.id,
            number=case.number or str(case.id),
            state=case.state,
            village=case.village,
        )
        for case in session.scalars(query)
    ]
