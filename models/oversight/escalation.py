"""The escalation ladder applied to cases: which rungs are due, and recording each exactly once.

The sweep (flows/escalation.py) calls these on a schedule; `now` is an argument so
tests control the clock. A rung happens once per visit of a case to a step: the
unique key (case, decisions, rung) holds however many sweeps run, and a case that
moves on has a new `decisions`, so its old step's ladder stops.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from models.cases.lifecycle import WAITING_ON, State, Step
from models.cases.sla import Rung, rungs_reached, running_clock
from models.cases.tables import Case, CaseEvent
from models.db import insert_unless_exists
from models.messages import Delivery
from models.oversight.tables import Escalation, EscalationRung


@dataclass(frozen=True)
class Due:
    """A rung a case has reached at its current step and that has not happened yet."""

    case_id: int
    decisions: int
    rung_id: int


def ladder(session: Session) -> list[Rung]:
    rows = session.scalars(select(EscalationRung).where(EscalationRung.active.is_(True)))
    return [Rung(r.id, Step(r.step) if r.step else None, r.percent, r.audience) for r in rows]


@dataclass(frozen=True)
class _Row:
    id: int
    state: str
    state_since: datetime
    due_at: datetime | None
    decisions: int


def due_escalations(session: Session, now: datetime) -> list[Due]:
    """Every rung reached by an open case at its current step and not yet recorded, oldest case first."""
    rungs = ladder(session)
    if not rungs:
        return []
    rows = [
        _Row(*r)
        for r in session.execute(
            select(Case.id, Case.state, Case.state_since, Case.due_at, Case.decisions)
            .where(Case.state.in_(list(WAITING_ON)), Case.due_at.is_not(None))
            .order_by(Case.state_since, Case.id)
        )
    ]
    candidates: list[Due] = []
    for row in rows:
        running = running_clock(row.state, row.state_since, row.due_at)
        if running is None:
            continue
        candidates += [Due(row.id, row.decisions, r.id) for r in rungs_reached(running, rungs, now)]
    if not candidates:
        return []
    done = {
        tuple(row)
        for row in session.execute(
            select(Escalation.case_id, Escalation.decisions, Escalation.rung_id).where(
                Escalation.case_id.in_({d.case_id for d in candidates})
            )
        )
    }
    return [d for d in candidates if (d.case_id, d.decisions, d.rung_id) not in done]


def escalate(session: Session, due: Due, now: datetime) -> Escalation | None:
    """Record one reached rung as a case event; None when the case has moved on or it happened.

    Of two sweeps recording one rung at once, the unique key keeps the first one's and the
    second gets None, its transaction as it was.
    """
    case = session.get(Case, due.case_id)
    rung = session.get(EscalationRung, due.rung_id)
    if case is None or rung is None or case.decisions != due.decisions or State(case.state) not in WAITING_ON:
        return None
    existing = session.scalar(
        select(Escalation).where(
            Escalation.case_id == due.case_id,
            Escalation.decisions == due.decisions,
            Escalation.rung_id == due.rung_id,
        )
    )
    if existing is not None:
        return None
    event = CaseEvent(
        case_id=case.id,
        kind="escalation",
        from_state=case.state,
        to_state=case.state,
        by_user_id=None,
        officer_id=case.officer_id,
        text="",
        created_at=now,
    )
    session.add(event)
    session.flush()
    # ON CONFLICT DO NOTHING: the second sweep's insert waits for the first to commit and adds
    # nothing; it takes its event back. No error, and no savepoint (pysqlite mishandles them).
    escalation = session.scalar(
        insert_unless_exists(
            session,
            Escalation,
            [Escalation.case_id, Escalation.decisions, Escalation.rung_id],
            case_id=case.id,
            decisions=due.decisions,
            rung_id=rung.id,
            event_id=event.id,
            audience=rung.audience,
            created_at=now,
        ).returning(Escalation)
    )
    if escalation is None:
        session.delete(event)
        session.flush()
    return escalation


def unnotified(session: Session, limit: int = 100) -> list[int]:
    """Escalations whose messages were never planned (their sweep stopped first), the longest waiting first.

    Planned ones are sent, and retried at their due times, by their delivery rows; the last of
    them to be sent or given up marks the escalation notified.
    """
    planned = exists().where(Delivery.event_id == Escalation.event_id)
    return list(
        session.scalars(
            select(Escalation.id)
            .where(Escalation.notified_at.is_(None), ~planned)
            .order_by(Escalation.created_at, Escalation.id)
            .limit(limit)
        )
    )
