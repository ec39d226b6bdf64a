"""The wall board's figures at `now`: open cases by step, overdue ones, emergencies, calls, follow-ups.

Nothing personal leaves here: no caller, patient or officer name and no phone, only case numbers,
categories, places and counts, since the board hangs where anyone in the room reads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session, joinedload

from models.cases.lifecycle import WAITING_ON, State, Step
from models.cases.listing import OPEN_STATES, overdue_clause
from models.cases.tables import Case
from models.desk.shifts import SHIFT_STARTS, Shift, current_hour, current_shift
from models.desk.tables import Call
from models.homecare.followups import due_now
from models.homecare.tables import FollowUp
from models.reference.tables import Village
from models.times import aware, db_time

LATE_SHOWN = 5  # the overdue cases listed by number, longest overdue first
EMERGENCIES_SHOWN = 3


@dataclass(frozen=True)
class Name:
    """A place's or a category's name in both languages (webapp/labels.localized reads it)."""

    name: str
    name_hi: str = ""


@dataclass(frozen=True)
class StepCount:
    """Open cases waiting on one step, and how long the oldest of them has waited there."""

    state: State
    step: Step
    count: int
    oldest: timedelta | None  # None: no case waits on it


@dataclass(frozen=True)
class BoardCase:
    """A case as the board lists it: its number, what and where, its step, and a duration."""

    number: str
    category: Name
    block: Name
    village: Name
    state: State
    time: timedelta  # overdue: how long past the limit; emergency: since it was opened


@dataclass(frozen=True)
class Board:
    now: datetime
    steps: tuple[StepCount, ...]  # in the order of the lifecycle
    overdue: int
    late: tuple[BoardCase, ...]  # the longest overdue, up to LATE_SHOWN
    emergencies: int  # emergency cases still open
    emergency_cases: tuple[BoardCase, ...]  # the oldest open, up to EMERGENCIES_SHOWN
    hour: datetime  # the start of this clock hour (India)
    calls_hour: int
    shift: Shift
    calls_shift: int
    follow_ups_due: int
    follow_up_oldest: timedelta | None  # how long the longest-due follow-up call has been due

    @property
    def open(self) -> int:
        return sum(s.count for s in self.steps)


def _name(row: object | None) -> Name:
    return Name(getattr(row, "name", ""), getattr(row, "name_hi", "")) if row is not None else Name("")


def _listed(case_row: Case, time: timedelta) -> BoardCase:
    return BoardCase(
        number=str(case_row.number),
        category=_name(case_row.category),
        block=_name(case_row.village.block),
        village=_name(case_row.village),
        state=State(case_row.state),
        time=time,
    )


def _cases(session: Session, *where: object, order: object, limit: int) -> list[Case]:
    return list(
        session.scalars(
            select(Case)
            .options(joinedload(Case.category), joinedload(Case.village).joinedload(Village.block))
            .where(*where)  # type: ignore[arg-type]
            .order_by(order, Case.id)  # type: ignore[arg-type]
            .limit(limit)
        )
    )


def step_counts(session: Session, now: datetime) -> tuple[StepCount, ...]:
    """Open cases by the step they wait on: how many, and the longest wait in that step."""
    rows = session.execute(
        select(Case.state, func.count(), func.min(Case.state_since))
        .where(Case.state.in_(OPEN_STATES))
        .group_by(Case.state)
    ).all()
    found = {State(state): (count, since) for state, count, since in rows}
    steps = []
    for state, step in WAITING_ON.items():
        count, since = found.get(state, (0, None))
        steps.append(StepCount(state, step, count, now - aware(since) if since is not None else None))
    return tuple(steps)


def calls_since(session: Session, hour: datetime, shift: Shift, now: datetime) -> tuple[int, int]:
    """Calls logged since the start of the hour and since the start of the shift (up to now)."""

    def since(start: datetime) -> ColumnElement[int]:
        return func.sum(case((Call.created_at >= db_time(start), 1), else_=0))

    earliest = min(hour, shift.start)
    row = session.execute(
        select(since(hour), since(shift.start)).where(
            Call.created_at >= db_time(earliest), Call.created_at <= db_time(now)
        )
    ).one()
    return int(row[0] or 0), int(row[1] or 0)


def board(session: Session, now: datetime, starts: tuple[time, ...] = SHIFT_STARTS) -> Board:
    """Everything the wall board shows at now."""
    now = aware(now)
    late_rows = _cases(session, overdue_clause(now), order=Case.due_at, limit=LATE_SHOWN)
    overdue = session.scalar(select(func.count()).select_from(Case).where(overdue_clause(now))) or 0
    emergency = (Case.emergency.is_(True), Case.state.in_(OPEN_STATES))
    emergency_rows = _cases(session, *emergency, order=Case.created_at, limit=EMERGENCIES_SHOWN)
    emergencies = session.scalar(select(func.count()).select_from(Case).where(*emergency)) or 0
    hour, shift = current_hour(now), current_shift(now, starts)
    calls_hour, calls_shift = calls_since(session, hour, shift, now)
    due_count, due_first = session.execute(
        select(func.count(), func.min(FollowUp.due_at)).join(FollowUp.patient).where(*due_now(now))
    ).one()
    return Board(
        now=now,
        steps=step_counts(session, now),
        overdue=overdue,
        late=tuple(_listed(c, now - aware(c.due_at)) for c in late_rows if c.due_at is not None),
        emergencies=emergencies,
        emergency_cases=tuple(_listed(c, now - aware(c.created_at)) for c in emergency_rows),
        hour=hour,
        calls_hour=calls_hour,
        shift=shift,
        calls_shift=calls_shift,
        follow_ups_due=due_count or 0,
        follow_up_oldest=now - aware(due_first) if due_first is not None else None,
    )
