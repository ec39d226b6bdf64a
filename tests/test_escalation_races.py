"""Two escalation sweeps on one rung at the same moment: it happens once, and the loser is told None."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.cases.tables import CaseEvent
from models.config import Settings
from models.db import get_engine, get_sessionmaker
from models.oversight.escalation import due_escalations, escalate
from models.oversight.tables import Escalation, EscalationRung
from models.reference.tables import User
from tests.races import meeting_before, race
from tests.test_escalation import T0, make_case


def test_it_escalates_a_rung_once_when_two_sweeps_race(
    settings: Settings, session: Session, district: dict[str, User]
) -> None:
    """Both sweeps find the rung due and not recorded yet, then write at once: the unique key keeps
    one, and the other gets None, with no error and no event left behind."""
    session.add(EscalationRung(step=None, percent=80, audience="assignee"))
    case = make_case(session, district["operator"])
    now = T0 + timedelta(minutes=13)
    [due] = due_escalations(session, now)
    factory = get_sessionmaker(settings.database_url)

    def sweep() -> int | None:
        with factory.begin() as db:
            escalation = escalate(db, due, now)
            return escalation.id if escalation else None

    with meeting_before(get_engine(settings.database_url), "INSERT INTO case_events"):
        outcomes = race(sweep, sweep)
    assert outcomes.count(None) == 1 and not any(isinstance(o, BaseException) for o in outcomes), outcomes
    session.expire_all()
    escalation = session.scalars(select(Escalation)).one()
    assert escalation.id in outcomes
    events = session.scalars(
        select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.kind == "escalation")
    ).all()
    assert [e.id for e in events] == [escalation.event_id]
