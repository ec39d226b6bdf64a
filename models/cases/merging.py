"""One problem, one case, after the fact: an open case merged into another, and the merge undone.

The DM or the Collector merges a case into the one that carries the problem (the survivor). The
merged case's run ends as `merged`, and tells the merged case's officer (if it had one) that
nothing more is theirs to do, and its callers the survivor's number. Its callers join the
survivor's (its own caller and those attached to it), so they hear of the survivor's later steps;
its history shows on the survivor's page. Within the shift it happened in, the merge may be undone:
the survivor loses the callers it gained, and a new run carries the case on from the step it had
reached. Nothing is told twice: each event's messages are planned once per recipient.
"""

from __future__ import annotations

from datetime import datetime, time

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from models.cases.callers import callers_of
from models.cases.decisions import NotAllowed, StaleDecision, may_act, move
from models.cases.lifecycle import WAITING_ON, Action, InvalidTransition, State
from models.cases.sla import step_deadline
from models.cases.tables import Case, CaseCaller, CaseEvent, Priority
from models.desk.shifts import SHIFT_STARTS, current_shift
from models.outbox import Outbox
from models.reference.tables import User
from models.times import aware

MERGED_IN = "merged_in"  # the survivor's event: a case merged into it (text: that case's number)
MERGE_UNDONE = "merge_undone"  # the survivor's event: that merge undone (text: the same number)


def merge(session: Session, case: Case, into: Case, by: User, *, version: int, now: datetime) -> CaseEvent:
    """Merge `case` into `into`: its run ends merged, its callers join `into`'s. Never commits.

    The merge event's text is `into`'s number (its messages name it), as is the undoing's.

    :raise NotAllowed: not the DM's or the Collector's; the same case; `into` is not open.
    :raise InvalidTransition: `case` is not open. :raise StaleDecision: `case` moved on.
    """
    if not may_act(by, case, Action.merge):
        raise NotAllowed(f"{by.role} may not merge cases")
    if case.id == into.id:
        raise NotAllowed("a case cannot be merged into itself")
    # Of two people merging A into B and B into A at once, the second must find its survivor merged:
    # both rows locked in id order (PostgreSQL: no deadlock), then the survivor's openness checked by
    # a write (SQLite takes its one write lock there, and the check reads what was committed).
    session.execute(
        select(Case.id).where(Case.id.in_([case.id, into.id])).order_by(Case.id).with_for_update()
    )
    still_open = session.execute(
        update(Case)
        .where(Case.id == into.id, Case.state.in_([s.value for s in WAITING_ON]))
        .values(state=Case.state)
        .execution_options(synchronize_session=False)
    )
    session.refresh(case)
    session.refresh(into)
    if still_open.rowcount != 1 or State(into.state) not in WAITING_ON:  # type: ignore[attr-defined]
        raise NotAllowed(f"{into.number} is {into.state}: merge into an open case")
    if case.decisions != version:
        raise StaleDecision(case.number)
    gained = [
        c for c in callers_of(session, case) if c[0] not in {p for p, _, _ in callers_of(session, into)}
    ]
    event = move(
        session,
        case,
        Action.merge,
        by,
        version=version,
        now=now,
        text=into.number or "",
        officer_id=case.officer_id,
    )
    session.execute(
        update(Case)
        .where(Case.id == case.id)
        .values(merged_into_id=into.id)
        .execution_options(synchronize_session=False)
    )
    joined = _survivors_event(session, into, MERGED_IN, case, by, now)
    # The merged case's run tells these callers the survivor's number; they hear of its later steps.
    for phone, name, language in gained:
        session.add(
            CaseCaller(
                case_id=into.id,
                event_id=joined.id,
                caller_name=name,
                phone=phone,
                language=language,
                created_at=now,
            )
        )
    session.flush()
    session.refresh(case)
    return event


def _survivors_event(
    session: Session, into: Case, kind: str, case: Case, by: User, now: datetime
) -> CaseEvent:
    """The survivor's history: `case` merged into it, or taken out again (kind), by `by`."""
    event = CaseEvent(
        case_id=into.id,
        kind=kind,
        from_state=into.state,
        to_state=into.state,
        by_user_id=by.id,
        text=case.number or "",
        created_at=now,
    )
    session.add(event)
    session.flush()
    return event


def merge_event(session: Session, case: Case) -> CaseEvent | None:
    """The event that merged `case`, while it stays merged."""
    if case.state != State.merged:
        return None
    return session.scalar(
        select(CaseEvent)
        .where(CaseEvent.case_id == case.id, CaseEvent.kind == Action.merge)
        .order_by(CaseEvent.id.desc())
        .limit(1)
    )


def undoable(session: Session, case: Case, now: datetime, starts: tuple[time, ...] = SHIFT_STARTS) -> bool:
    """Whether the merge of `case` may still be undone: it is merged, in the shift it was merged in."""
    event = merge_event(session, case)
    return event is not None and aware(event.created_at) >= current_shift(now, starts).start


def unmerge(
    session: Session,
    case: Case,
    by: User,
    *,
    version: int,
    now: datetime,
    starts: tuple[time, ...] = SHIFT_STARTS,
) -> CaseEvent:
    """Undo the merge of `case`: back to the step it had reached, with a new run; the survivor loses
    the callers the merge gave it. Never commits.

    :raise NotAllowed: not the DM's or the Collector's, or the shift of the merge has ended.
    :raise InvalidTransition: `case` is not merged. :raise StaleDecision: it moved on.
    """
    if not may_act(by, case, Action.unmerge):
        raise NotAllowed(f"{by.role} may not undo a merge")
    merged = merge_event(session, case)
    if merged is None:
        raise InvalidTransition(Action.unmerge, State(case.state))
    if aware(merged.created_at) < current_shift(now, starts).start:
        raise NotAllowed(f"{case.number} was merged in an earlier shift: it can no longer be undone")
    back = State(merged.from_state)
    into = session.get_one(Case, case.merged_into_id)
    moved = session.execute(
        update(Case)
        .where(Case.id == case.id, Case.state == State.merged, Case.decisions == version)
        .values(
            state=back,
            decisions=version + 1,
            state_since=now,
            closed_at=None,
            merged_into_id=None,
            due_at=step_deadline(back, now, case.priority == Priority.urgent, case.category.limits),
        )
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        raise StaleDecision(case.number)
    event = CaseEvent(
        case_id=case.id,
        kind=Action.unmerge.value,
        from_state=State.merged,
        to_state=back,
        by_user_id=by.id,
        officer_id=case.officer_id,
        text=into.number or "",
        created_at=now,
    )
    session.add(event)
    joined = session.scalar(
        select(CaseEvent.id)
        .where(CaseEvent.case_id == into.id, CaseEvent.kind == MERGED_IN, CaseEvent.text == case.number)
        .order_by(CaseEvent.id.desc())
        .limit(1)
    )
    if joined is not None:
        session.execute(delete(CaseCaller).where(CaseCaller.event_id == joined))
    _survivors_event(session, into, MERGE_UNDONE, case, by, now)
    # The merged run has ended: a new one rejoins the case where it stood (after the merge's row, if
    # that is still to be handed over), its first step telling whoever it waits on again.
    session.add(
        Outbox(
            case_id=case.id,
            kind="restart",
            payload={
                "case_number": case.number,
                "event_id": event.id,
                "first_decision": version + 1,
                "step": WAITING_ON[back].value,
            },
            created_at=now,
            next_attempt_at=now,
        )
    )
    session.flush()
    session.refresh(case)
    return event


def merged_into_this(session: Session, case: Case) -> list[Case]:
    """The cases merged into `case` (and still merged), oldest first."""
    return list(session.scalars(select(Case).where(Case.merged_into_id == case.id).order_by(Case.id)))
