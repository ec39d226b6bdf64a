"""The shift handover: what a shift leaves open, half-done or promised, for the next one.

At a shift's end its figures are frozen into a `Handover` row (once: the first to ask after the end
prepares it, and a second asking at the same moment finds it made); the incoming shift acknowledges
it by name. The figures are plain data (JSON) so a past shift reads as it stood, whatever moved since.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, time, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from models.cases.lifecycle import WAITING_ON, State
from models.cases.tables import Case
from models.db import insert_unless_exists
from models.desk.shifts import SHIFT_STARTS, Shift, current_shift
from models.desk.tables import Call, Handover, HandoverNote
from models.homecare.tables import FollowUp, FollowUpStatus
from models.messages import Delivery, DeliveryStatus
from models.reference.tables import User
from models.times import aware

LISTED = 10  # cases named per list (the oldest first); the counts are whole


@dataclass
class Listed:
    number: str
    since: str  # ISO, UTC
    step: str  # the step it waits on ("" when final)


@dataclass
class Note:
    by: str
    at: str  # ISO, UTC
    text: str


@dataclass
class Figures:
    calls: dict[str, int] = field(default_factory=dict)  # by kind, in the shift
    opened: int = 0  # complaints opened in the shift
    closed: int = 0  # closed or rejected in the shift
    merged: int = 0  # merged into another case in the shift (apart from the closures)
    pending: dict[str, int] = field(default_factory=dict)  # open cases by the step they wait on, at the end
    oldest: dict[str, Listed] = field(default_factory=dict)  # the oldest case waiting at each step
    overdue: list[Listed] = field(default_factory=list)  # past their step's limit at the end
    overdue_count: int = 0
    emergencies: list[Listed] = field(default_factory=list)  # in progress at the end
    follow_ups_due: int = 0  # follow-up calls due in the shift
    follow_ups_missed: int = 0  # of them, not reached by the end (still due, or unreachable)
    failed_messages: int = 0  # messages of the shift not sent (failed or given up)
    notes: list[Note] = field(default_factory=list)  # the outgoing operators' notes

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Figures:
        data = json.loads(text)
        data["oldest"] = {step: Listed(**row) for step, row in data["oldest"].items()}
        data["overdue"] = [Listed(**row) for row in data["overdue"]]
        data["emergencies"] = [Listed(**row) for row in data["emergencies"]]
        data["notes"] = [Note(**row) for row in data["notes"]]
        return cls(**data)


def _listed(case: Case) -> Listed:
    step = WAITING_ON.get(State(case.state))
    since = aware(case.state_since).isoformat()
    return Listed(case.number or str(case.id), since, step.value if step else "")


def figures(session: Session, shift: Shift, now: datetime) -> Figures:
    """The shift's figures as they stand at `now` (its end, once it has ended)."""
    start, end = shift.start, min(shift.end, now)
    in_shift = (Call.created_at >= start) & (Call.created_at < end)
    by_kind = select(Call.kind, func.count()).where(in_shift).group_by(Call.kind)
    calls = dict(session.execute(by_kind).all())
    opened = session.scalar(
        select(func.count()).select_from(Case).where(Case.created_at >= start, Case.created_at < end)
    )
    ended: dict[bool, int] = {False: 0, True: 0}  # merged or not
    for state, count in session.execute(
        select(Case.state, func.count())
        .where(Case.closed_at >= start, Case.closed_at < end)
        .group_by(Case.state)
    ):
        ended[state == State.merged] += count
    # Open at the end: waiting now and opened before it (a handover is prepared just after its end).
    waiting = Case.state.in_([s.value for s in WAITING_ON]) & (Case.created_at < end)
    open_cases = select(Case).where(waiting)
    by_state = select(Case.state, func.count()).where(waiting).group_by(Case.state)
    pending = dict(session.execute(by_state).all())
    oldest: dict[str, Listed] = {}
    for state in pending:
        first = session.scalars(open_cases.where(Case.state == state).order_by(Case.state_since)).first()
        if first is not None:
            listed = _listed(first)
            oldest[listed.step] = listed
    late = Case.due_at < end
    count_late = select(func.count()).select_from(Case).where(waiting, late)
    overdue_count = session.scalar(count_late) or 0
    longest_late = open_cases.where(late).order_by(Case.due_at).limit(LISTED)
    overdue = [_listed(c) for c in session.scalars(longest_late)]
    in_progress = open_cases.where(Case.emergency.is_(True)).order_by(Case.created_at).limit(LISTED)
    emergencies = [_listed(c) for c in session.scalars(in_progress)]
    due = (FollowUp.due_at >= start) & (FollowUp.due_at < end) & (FollowUp.status != FollowUpStatus.cancelled)
    follow_ups_due = session.scalar(select(func.count()).select_from(FollowUp).where(due)) or 0
    missed = FollowUp.status.in_([FollowUpStatus.due, FollowUpStatus.unreachable])
    follow_ups_missed = session.scalar(select(func.count()).select_from(FollowUp).where(due, missed)) or 0
    of_shift = (Delivery.created_at >= start) & (Delivery.created_at < end)
    failed = session.scalar(
        select(func.count()).select_from(Delivery).where(of_shift, Delivery.status == DeliveryStatus.failed)
    )
    notes = [
        Note(n.by_user.name, aware(n.created_at).isoformat(), n.text)
        for n in session.scalars(
            select(HandoverNote)
            .where(HandoverNote.created_at >= start, HandoverNote.created_at < end)
            .order_by(HandoverNote.id)
        )
    ]
    return Figures(
        calls={str(kind): int(count) for kind, count in calls.items()},
        opened=opened or 0,
        closed=ended[False],
        merged=ended[True],
        pending={WAITING_ON[State(state)].value: int(count) for state, count in pending.items()},
        oldest=oldest,
        overdue=overdue,
        overdue_count=overdue_count,
        emergencies=emergencies,
        follow_ups_due=follow_ups_due,
        follow_ups_missed=follow_ups_missed,
        failed_messages=failed or 0,
        notes=notes,
    )


def previous_shift(now: datetime, starts: tuple[time, ...] = SHIFT_STARTS) -> Shift:
    """The shift that ended last before `now`."""
    return current_shift(current_shift(now, starts).start - timedelta(seconds=1), starts)


def prepare(session: Session, shift: Shift, now: datetime) -> Handover:
    """The ended shift's handover, made once from its figures as they stood at its end. Never commits.

    :raise ValueError: the shift has not ended.
    """
    if aware(now) < shift.end:
        raise ValueError("a shift's handover is prepared once it has ended")
    by_start = select(Handover).where(Handover.shift_start == shift.start)
    made = session.scalars(by_start).first()
    if made is not None:
        return made
    frozen = figures(session, shift, shift.end)
    session.execute(
        insert_unless_exists(
            session,
            Handover,
            [Handover.shift_start],
            shift_start=shift.start,
            shift_end=shift.end,
            prepared_at=now,
            figures=frozen.to_json(),
        )
    )
    return session.scalars(by_start).one()


def acknowledge(session: Session, handover: Handover, by: User, now: datetime) -> bool:
    """The incoming shift takes the handover over; false when someone already had (even at this moment)."""
    taken = session.execute(
        update(Handover)
        .where(Handover.id == handover.id, Handover.acknowledged_at.is_(None))
        .values(acknowledged_by_id=by.id, acknowledged_at=now)
    )
    session.refresh(handover)
    return taken.rowcount == 1  # type: ignore[attr-defined]


def add_note(session: Session, by: User, text: str, now: datetime) -> HandoverNote:
    note = HandoverNote(by_user_id=by.id, text=text, created_at=now)
    session.add(note)
    return note


def past(session: Session, limit: int = 60) -> list[Handover]:
    """The handovers kept, newest first."""
    return list(session.scalars(select(Handover).order_by(Handover.shift_start.desc()).limit(limit)))
