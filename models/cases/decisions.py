"""Domain operations on cases. They add rows and never commit: the caller owns the transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from models.cases.callback import tries_used_up, tries_used_up_clause
from models.cases.lifecycle import FINAL, MERGE_ROLES, WAITING_ON, Action, State, apply, role_for
from models.cases.sla import resolution_deadline, step_deadline
from models.cases.tables import Case, CaseEvent, Channel, Priority
from models.db import insert_unless_exists
from models.outbox import Outbox, supersede
from models.reference.tables import Category, Role, User, Village
from models.times import aware


class StaleDecision(Exception):
    """The case moved on since the form was shown."""


class NotAllowed(Exception):
    """This user may not take this action on this case."""


@dataclass(frozen=True)
class Intake:
    token: str
    caller_name: str
    phone: str  # E.164
    village_id: int
    category_id: int
    description: str
    priority: Priority
    channel: Channel = Channel.phone
    language: str = "hi"  # the caller's, for their text messages


def case_number(prefix: str, year: int, case_id: int) -> str:
    return f"{prefix}-{year}-{case_id:06d}"


def open_case(session: Session, intake: Intake, by: User, prefix: str, now: datetime) -> Case:
    """Open a case, its first event and the outbox row that starts its flow run.

    A token seen before returns the case it opened: a form submitted twice, even twice at once.
    """
    by_token = select(Case).where(Case.intake_token == intake.token)
    existing = session.scalar(by_token)
    if existing is not None:
        return existing
    category = session.get_one(Category, intake.category_id)
    village = session.get_one(Village, intake.village_id)
    urgent = intake.priority == Priority.urgent
    # ON CONFLICT DO NOTHING: of two requests with one token at once, the second one's insert
    # waits for the first to commit, then adds nothing, and it reads the first one's case. No
    # error, so the caller's transaction keeps what else it holds (the desk call it links).
    case = session.scalar(
        insert_unless_exists(
            session,
            Case,
            [Case.intake_token],
            intake_token=intake.token,
            caller_name=intake.caller_name,
            phone=intake.phone,
            village_id=intake.village_id,
            category_id=intake.category_id,
            description=intake.description,
            priority=intake.priority,
            channel=intake.channel,
            language=intake.language,
            state=State.awaiting_assignment,
            created_by_id=by.id,
            created_at=now,
            state_since=now,
            block_id=village.block_id,
            resolve_by=resolution_deadline(now, urgent, category.limits),
            due_at=step_deadline(State.awaiting_assignment, now, urgent, category.limits),
        ).returning(Case)
    )
    if case is None:
        return session.scalars(by_token).one()
    case.number = case_number(prefix, now.year, case.id)
    event = CaseEvent(
        case_id=case.id,
        kind="opened",
        from_state=None,
        to_state=State.awaiting_assignment,
        by_user_id=by.id,
        text=intake.description,
        created_at=now,
    )
    session.add(event)
    session.flush()
    session.add(
        Outbox(
            case_id=case.id,
            kind="start",
            payload={"case_id": case.id, "case_number": case.number, "event_id": event.id},
            created_at=now,
            next_attempt_at=now,
        )
    )
    return case


def officers_for(session: Session, category: Category) -> list[User]:
    """Active officers of the category's department, by name."""
    return list(
        session.scalars(
            select(User)
            .where(
                User.role == Role.officer,
                User.active.is_(True),
                User.department_id == category.department_id,
            )
            .order_by(User.name)
        )
    )


# The caller's words, or the Collector's reason: these decisions are nothing without a text.
TEXT_REQUIRED = frozenset({Action.not_satisfied, Action.close_unverified})
RATINGS = range(1, 6)


def may_act(user: User, case: Case, action: Action) -> bool:
    """Whether user may take action on case (role, and for officers, their own case)."""
    if action in (Action.merge, Action.unmerge):
        return user.role in MERGE_ROLES
    if user.role != role_for(action):
        return False
    if user.role == Role.officer:
        return case.officer_id == user.id
    return True


def decide(
    session: Session,
    case: Case,
    action: Action,
    by: User,
    *,
    version: int,
    now: datetime,
    text: str = "",
    officer_id: int | None = None,
    rating: int | None = None,
    via: str = "",
) -> CaseEvent:
    """Take a human decision on a case: move its state, record the event, queue the resume.

    :raise NotAllowed: the user's role or assignment does not permit it; a callback's verdict lacks
        its rating or the caller's words; a closure unverified comes before the tries are used up.
    :raise InvalidTransition: the action does not apply in the case's state.
    :raise StaleDecision: someone else decided first (the version moved).
    """
    action = Action(action)
    if not may_act(by, case, action):
        raise NotAllowed(f"{by.role} may not {action.value} this case")
    if case.decisions != version:
        raise StaleDecision(case.number)
    apply(State(case.state), action)  # :raise InvalidTransition: before the other checks
    if action == Action.reopen_closed and not reopenable(case, now):
        raise NotAllowed(f"{case.number} was closed more than {case.category.reopen_days} days ago")
    if action == Action.satisfied and rating not in RATINGS:
        raise NotAllowed("the caller's rating must be 1 to 5")
    if action in TEXT_REQUIRED and not text.strip():
        raise NotAllowed(f"{action.value} needs a text")
    if action == Action.close_unverified and not tries_used_up(session, case):
        raise NotAllowed(f"{case.number}: the caller has {case.category.callback_tries} tries before this")
    new_officer = case.officer_id
    if action == Action.assign:
        officer = session.get(User, officer_id) if officer_id else None
        category = session.get(Category, case.category_id)
        if officer is None or category is None or officer not in officers_for(session, category):
            raise NotAllowed("the officer must be an active officer of the category's department")
        new_officer = officer.id
    return move(
        session,
        case,
        action,
        by,
        version=version,
        now=now,
        text=text,
        officer_id=new_officer,
        rating=rating if action == Action.satisfied else None,
        via=via,
    )


def move(
    session: Session,
    case: Case,
    action: Action,
    by: User | None,
    *,
    version: int,
    now: datetime,
    text: str = "",
    officer_id: int | None = None,
    rating: int | None = None,
    via: str = "",
) -> CaseEvent:
    """Move a case by a decision already checked: state, event, and the hand-off to its run.

    `by` None is the duty roster (models/emergency/cases.py). :raise StaleDecision: the version moved.
    """
    source = State(case.state)
    target = apply(source, action)
    # Conditional update: only one of two racing decisions can win (rowcount 1).
    result = session.execute(
        update(Case)
        .where(Case.id == case.id, Case.state == source, Case.decisions == version)
        .values(
            state=target,
            decisions=version + 1,
            officer_id=officer_id,
            state_since=now,
            **_milestones(case, target, now),
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise StaleDecision(case.number)
    event = CaseEvent(
        case_id=case.id,
        kind=action.value,
        from_state=source,
        to_state=target,
        by_user_id=by.id if by else None,
        officer_id=officer_id if action == Action.assign else None,
        text=text,
        rating=rating,
        via=via,
        created_at=now,
    )
    session.add(event)
    session.flush()
    if action == Action.reopen_closed:
        # The closed case's run has ended: a new run carries it from here, its
        # suspends numbered on from this case's decisions.
        outbox = Outbox(
            case_id=case.id,
            kind="start",
            payload={
                "case_id": case.id,
                "case_number": case.number,
                "event_id": event.id,
                "first_decision": version + 1,
            },
        )
    else:
        by_name = by.username if by else "duty roster"
        outbox = Outbox(
            case_id=case.id,
            kind="resume",
            pause_key=pause_key(version),
            payload={"action": action.value, "event_id": event.id, "by_user": by_name, "note": text},
        )
    outbox.created_at = outbox.next_attempt_at = now
    session.add(outbox)
    session.refresh(case)
    return event


def reopenable(case: Case, now: datetime) -> bool:
    """Whether a closed case is recent enough (its category's reopen_days) to reopen."""
    if case.state != State.closed or case.closed_at is None:
        return False
    return aware(now) - aware(case.closed_at) <= timedelta(days=case.category.reopen_days)


def recently_closed(session: Session, phone: str, now: datetime) -> Case | None:
    """The caller's most recently closed case that may still be reopened, if any."""
    recent = session.scalars(
        select(Case)
        .where(Case.phone == phone, Case.state == State.closed, Case.closed_at.is_not(None))
        .order_by(Case.closed_at.desc())
        .limit(5)
    )
    return next((case for case in recent if reopenable(case, now)), None)


def _milestones(case: Case, target: State, now: datetime) -> dict[str, datetime | None]:
    """The facts a move sets: the new step's deadline, the first resolution, the closure."""
    facts: dict[str, datetime | None] = {
        "due_at": step_deadline(target, now, case.priority == Priority.urgent, case.category.limits)
    }
    if target == State.callback and case.resolved_at is None:  # the officer's first resolution
        facts["resolved_at"] = now
    if target in FINAL:  # closed, rejected or merged: ended
        facts["closed_at"] = now
    if case.state in FINAL:  # reopened: open again
        facts["closed_at"] = None
    return facts


def pause_key(decisions: int) -> str:
    """The suspend key of the flow run's decision number `decisions`."""
    return f"decision-{decisions}"


def queue_for(session: Session, user: User, limit: int = 200) -> list[Case]:
    """The cases waiting on user, oldest first; an operator's: the callbacks due (all operators share
    them, the least recently tried first), then the complaints they opened, newest first."""
    query = select(Case).order_by(Case.state_since, Case.id).limit(limit)
    if user.role == Role.dm:
        query = query.where(Case.state == State.awaiting_assignment)
    elif user.role == Role.officer:
        query = query.where(Case.state == State.assigned, Case.officer_id == user.id)
    elif user.role == Role.collector:
        query = query.where((Case.state == State.resolved) | tries_used_up_clause())
    elif user.role == Role.operator:
        callbacks = list(session.scalars(query.where(Case.state == State.callback)))
        mine = query.where(Case.created_by_id == user.id, Case.state != State.callback)
        mine = mine.order_by(None).order_by(Case.id.desc()).limit(max(limit - len(callbacks), 0))
        return callbacks + list(session.scalars(mine))
    else:
        query = query.where(Case.state.in_(list(WAITING_ON)))
    return list(session.scalars(query))


def restart_run(session: Session, case: Case, now: datetime) -> Outbox:
    """A new run for a case whose run cannot go on, waiting at the step the case waits on.

    The case's undone outbox rows (parked or waiting) are closed: the new run takes over from the
    case as it stands, and its first step sends what the latest event's messages still lack.
    :raise NotAllowed: the case is closed or rejected, it needs no run.
    """
    step = WAITING_ON.get(State(case.state))
    if step is None:
        raise NotAllowed(f"{case.number} is {case.state}: it needs no run")
    supersede(session, case.id, now, "closed: a new run took over the case")
    latest = session.scalar(
        select(CaseEvent.id)
        .where(CaseEvent.case_id == case.id, CaseEvent.kind.not_in(["escalation", "caller_added"]))
        .order_by(CaseEvent.id.desc())
        .limit(1)
    )
    outbox = Outbox(
        case_id=case.id,
        kind="restart",
        payload={
            "case_number": case.number,
            "event_id": latest,
            "first_decision": case.decisions,
            "step": step.value,
        },
        created_at=now,
        next_attempt_at=now,
    )
    session.add(outbox)
    session.flush()
    return outbox
