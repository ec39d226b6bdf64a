"""The emergency path: an urgent case that skips the DM's queue, assigned at once to the duty officer.

It is still one run of the complaint flow with its whole history: the case opens as
usual (its run starts and waits at the DM's step) and the duty roster takes the DM's
decision at once, in the same transaction, so the dispatcher resumes the run with the
assignment straight after starting it. With nobody on duty the case waits in the DM's
queue as an urgent case; either way the DMs and the Collectors are told on every channel.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.cases.decisions import Intake, move, open_case
from models.cases.lifecycle import Action
from models.cases.tables import Case, CaseEvent, Priority
from models.db import insert_unless_exists
from models.duty.roster import on_duty
from models.duty.tables import Duty
from models.emergency.tables import Admission
from models.homecare.register import end_follow_ups
from models.homecare.tables import PatientStatus
from models.reference.tables import Category, Department, User

CATEGORY = "emergency"  # the category code emergencies are filed under


@dataclass(frozen=True)
class AdmissionFacts:
    hospital: str
    bed: str = ""
    ambulance: str = ""


def emergency_category(session: Session) -> Category:
    """The emergency category; made on first use so no red flag is ever refused for want of it.

    A district edits it like any category (load-csv categories, code "emergency").
    """
    by_code = select(Category).where(Category.code == CATEGORY)
    category = session.scalar(by_code)
    if category is not None:
        return category
    health = session.scalar(select(Department).where(Department.code == "health"))
    department = health or session.scalar(select(Department).order_by(Department.id))
    if department is None:
        department = Department(code="health", name="Health", name_hi="स्वास्थ्य")
        session.add(department)
        session.flush()
    # Two first emergencies at once both make it: the second insert waits for the first to
    # commit and adds nothing (ON CONFLICT DO NOTHING), then reads the first one's.
    session.execute(
        insert_unless_exists(
            session,
            Category,
            [Category.code],
            code=CATEGORY,
            name="Emergency: hospital admission",
            name_hi="आपातकाल: अस्पताल में भर्ती",
            department_id=department.id,
            assign_minutes=5,
            resolve_minutes=60,
            urgent_minutes=30,
            ack_minutes=5,
        )
    )
    return session.scalars(by_code).one()


def open_emergency(
    session: Session,
    *,
    caller_name: str,
    phone: str,
    village_id: int,
    description: str,
    by: User,
    prefix: str,
    now: datetime,
    token: str,
    patient_id: int | None = None,
) -> Case:
    """Open an emergency case and hand it to the admission officer on duty. Never commits.

    A token seen before returns the case it opened: a form or a reading submitted twice, even
    twice at once (open_case).
    """
    category = emergency_category(session)
    intake = Intake(token, caller_name, phone, village_id, category.id, description, Priority.urgent)
    case = open_case(session, intake, by, prefix, now)
    if case.emergency:  # this token's case, opened and handed over before
        return case
    case.emergency = True
    case.patient_id = patient_id
    session.flush()
    officer = on_duty(session, Duty.admission, now)
    if officer is not None:
        assign_on_duty(session, case, officer, now)
    return case


def assign_on_duty(session: Session, case: Case, officer: User, now: datetime) -> CaseEvent:
    """The duty roster's decision at the DM's step: assign to the officer on duty."""
    return move(session, case, Action.assign, None, version=case.decisions, now=now, officer_id=officer.id)


def record_admission(
    session: Session, case: Case, facts: AdmissionFacts, by: User, now: datetime
) -> Admission:
    """Record where an emergency's patient was admitted; a home-isolation patient's follow-ups stop."""
    admission = Admission(
        case_id=case.id,
        patient_id=case.patient_id,
        hospital=facts.hospital,
        bed=facts.bed,
        ambulance=facts.ambulance,
        by_user_id=by.id,
        admitted_at=now,
    )
    session.add(admission)
    if case.patient_id is not None:
        # A patient discharged meanwhile keeps that status (the first end of an isolation stands);
        # this row still says where they were admitted.
        end_follow_ups(session, case.patient_id, PatientStatus.admitted, now)
    session.flush()
    return admission


def emergencies_of(session: Session, patient_id: int) -> list[tuple[Case, Admission | None]]:
    """A home-isolation patient's emergency cases, newest first, each with its admission once recorded."""
    rows = session.execute(
        select(Case, Admission)
        .outerjoin(Admission, Admission.case_id == Case.id)
        .where(Case.patient_id == patient_id, Case.emergency.is_(True))
        .order_by(Case.id.desc())
    )
    return [(case, admission) for case, admission in rows]
