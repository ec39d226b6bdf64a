"""Home isolation's follow-ups: each day's call list, readings, red flags and missed calls.

Functions add rows and never commit: the caller owns the transaction."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol

from sqlalchemy import ColumnElement, func, insert, or_, select, update
from sqlalchemy.orm import Session, selectinload

from models.emergency.cases import open_emergency
from models.homecare.tables import (
    FollowUp,
    FollowUpAlert,
    FollowUpStatus,
    Patient,
    PatientStatus,
    Reading,
    Symptom,
    VitalThreshold,
)
from models.homecare.wording import emergency_text, threshold_flag
from models.reference.tables import User, Village
from models.times import INDIA, aware

DEFAULT_SYMPTOMS = [  # also seeded by migration 0004: (code, name, name_hi, red flag)
    ("breathlessness", "Breathlessness", "साँस फूलना", True),
    ("chest_pain", "Chest pain or pressure", "सीने में दर्द या दबाव", True),
    ("confusion", "Confusion or drowsiness", "भ्रम या अधिक नींद", True),
    ("bluish_lips", "Bluish lips or face", "होंठ या चेहरा नीला", True),
    ("fever", "Fever", "बुखार", False),
    ("cough", "Cough", "खाँसी", False),
    ("loss_of_taste", "Loss of taste or smell", "स्वाद या गंध न आना", False),
    ("diarrhoea", "Diarrhoea", "दस्त", False),
]
DEFAULT_THRESHOLDS = [("spo2", "<", 94.0), ("temperature", ">=", 103.0), ("pulse", ">", 120.0)]

RETRY_AFTER = timedelta(hours=1)  # a call not answered is tried again this much later, the same day
CHUNK = 500  # rows per executemany


def ensure_defaults(session: Session) -> None:
    """Add the default symptoms and thresholds (by code / metric and op) where missing."""
    codes = set(session.scalars(select(Symptom.code)))
    for code, name, name_hi, red in DEFAULT_SYMPTOMS:
        if code not in codes:
            session.add(Symptom(code=code, name=name, name_hi=name_hi, red_flag=red, active=True))
    rules = {(t.metric, t.op) for t in session.scalars(select(VitalThreshold))}
    for metric, op, value in DEFAULT_THRESHOLDS:
        if (metric, op) not in rules:
            session.add(VitalThreshold(metric=metric, op=op, value=value, active=True))
    session.flush()


# ---- the register


def find_patients(
    session: Session,
    text: str = "",
    village_id: int | None = None,
    status: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> tuple[list[Patient], int]:
    """Patients by name, phone or health_id (contains), village and status, by name; and the total."""
    query = select(Patient)
    if text.strip():
        typed = text.strip()
        digits = re.sub(r"\D", "", typed)
        matches = [
            func.lower(Patient.name).contains(typed.lower(), autoescape=True),
            Patient.health_id == typed,
        ]
        if len(digits) >= 3:
            matches.append(Patient.phone.contains(digits.lstrip("0"), autoescape=True))
        query = query.where(or_(*matches))
    if village_id:
        query = query.where(Patient.village_id == village_id)
    if status:
        query = query.where(Patient.status == status)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.options(selectinload(Patient.village).selectinload(Village.block))
        .order_by(Patient.name, Patient.id)
        .limit(per_page)
        .offset((max(page, 1) - 1) * per_page)
    )
    return list(rows), total


# ---- each day's calls


def slot_due_at(day: date, slot: str) -> datetime:
    """The moment (UTC) of a slot "HH:MM" on an India day. :raise ValueError: not a time of day."""
    if not re.fullmatch(r"\d{2}:\d{2}", slot):
        raise ValueError(f"slot '{slot}' is not HH:MM")
    return datetime.combine(day, time.fromisoformat(slot), INDIA).astimezone(UTC)


def make_day_list(session: Session, day: date, slot: str, due_at: datetime) -> int:
    """Add the slot's call for each patient isolating on day who has none yet; return how many."""
    have = select(FollowUp.patient_id).where(FollowUp.day == day, FollowUp.slot == slot)
    patients = session.scalars(
        select(Patient.id).where(
            Patient.status == PatientStatus.isolating,
            Patient.isolation_start <= day,
            Patient.isolation_end >= day,
            Patient.id.not_in(have),
        )
    ).all()
    rows = [{"patient_id": p, "day": day, "slot": slot, "due_at": due_at} for p in patients]
    for start in range(0, len(rows), CHUNK):
        session.execute(insert(FollowUp), rows[start : start + CHUNK])
    return len(rows)


def due_now(now: datetime) -> list[ColumnElement[bool]]:
    """The WHERE clauses of the calls due now (FollowUp joined to its Patient): today's, due by now, of
    patients still isolating. The wall board counts them."""
    return [
        FollowUp.status == FollowUpStatus.due,
        FollowUp.day == aware(now).astimezone(INDIA).date(),
        FollowUp.due_at <= now,
        Patient.status == PatientStatus.isolating,
    ]


def due_list(session: Session, now: datetime, limit: int = 200) -> list[FollowUp]:
    """Today's calls (India) due by now, oldest first, of patients still isolating.

    A call left undone on an earlier day stays in the patient's history, not on today's list.
    """
    return list(
        session.scalars(
            select(FollowUp)
            .join(FollowUp.patient)
            .options(selectinload(FollowUp.patient).selectinload(Patient.village))
            .where(*due_now(now))
            .order_by(FollowUp.due_at, FollowUp.id)
            .limit(limit)
        )
    )


class CallClosed(Exception):
    """The call is no longer due: someone recorded it first, or the patient's follow-ups ended."""


def _claim(session: Session, call: FollowUp, by: User, now: datetime, **values: Any) -> None:
    # Conditional update: of two operators recording one call at once, one wins (rowcount 1).
    result = session.execute(
        update(FollowUp)
        .where(
            FollowUp.id == call.id, FollowUp.status == FollowUpStatus.due, FollowUp.attempts == call.attempts
        )
        .values(attempts=call.attempts + 1, last_attempt_at=now, by_user_id=by.id, **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise CallClosed(str(call.id))
    session.refresh(call)


# ---- readings and red flags


class Rule(Protocol):
    metric: str
    op: str
    value: float
    active: bool


class SymptomRow(Protocol):
    code: str
    name: str
    red_flag: bool
    active: bool


OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}  # fmt: skip


def red_flags(
    spo2: int | None,
    temperature: float | None,
    pulse: int | None,
    symptoms: Iterable[str],
    thresholds: Iterable[Rule],
    symptom_rows: Iterable[SymptomRow],
) -> list[str]:
    """The red flags of a reading, in English: thresholds crossed, then red-flag symptoms reported."""
    values = {"spo2": spo2, "temperature": temperature, "pulse": pulse}
    flags = []
    for rule in thresholds:
        value = values.get(rule.metric)
        if rule.active and value is not None and OPS[rule.op](value, rule.value):
            flags.append(threshold_flag(rule.metric, value, rule.op, rule.value))
    reported = set(symptoms)
    flags += [s.name for s in symptom_rows if s.active and s.red_flag and s.code in reported]
    return flags


@dataclass(frozen=True)
class Vitals:
    spo2: int | None = None
    temperature: float | None = None  # °F
    pulse: int | None = None
    symptoms: tuple[str, ...] = ()
    note: str = ""


def record_reading(
    session: Session, call: FollowUp, vitals: Vitals, by: User, now: datetime, prefix: str
) -> Reading:
    """The patient answered: record the reading and, on a red flag, open an emergency case.

    :raise CallClosed: the call was recorded already.
    """
    _claim(session, call, by, now, status=FollowUpStatus.done)
    # An UPDATE, as record_unreachable counts misses: a patient object this session read before
    # those misses would see no change in setting 0 and write nothing.
    session.execute(update(Patient).where(Patient.id == call.patient_id).values(misses_in_row=0))
    patient = session.get_one(Patient, call.patient_id)
    symptom_rows = list(session.scalars(select(Symptom)))
    flags = red_flags(
        vitals.spo2,
        vitals.temperature,
        vitals.pulse,
        vitals.symptoms,
        session.scalars(select(VitalThreshold)),
        symptom_rows,
    )
    reading = Reading(
        patient_id=patient.id,
        follow_up_id=call.id,
        spo2=vitals.spo2,
        temperature=vitals.temperature,
        pulse=vitals.pulse,
        symptoms=list(vitals.symptoms),
        note=vitals.note,
        red_flags=flags,
        by_user_id=by.id,
        taken_at=now,
    )
    session.add(reading)
    session.flush()
    if flags:
        case = open_emergency(
            session,
            caller_name=patient.name,
            phone=patient.phone,
            village_id=patient.village_id,
            description=emergency_text(patient.name, patient.conditions, reading, symptom_rows, by.language),
            by=by,
            prefix=prefix,
            now=now,
            patient_id=patient.id,
            token=f"reading-{reading.id}",
        )
        reading.case_id = case.id
    return reading


def record_unreachable(
    session: Session,
    call: FollowUp,
    by: User,
    now: datetime,
    limit: int,
    retry_after: timedelta = RETRY_AFTER,
) -> bool:
    """The patient did not answer: try again later the same day (India), else mark the call unreachable.

    Return whether this miss brought the patient's misses in a row to `limit`; if so the alert
    is recorded here, once, for the follow-up-list run to send. :raise CallClosed: not due any more.
    """
    retry = aware(now) + retry_after
    if retry.astimezone(INDIA).date() == call.day:
        _claim(session, call, by, now, due_at=retry)
    else:
        _claim(session, call, by, now, status=FollowUpStatus.unreachable)
    # Atomic increment: two misses recorded at once both count, and only one reaches the limit.
    session.execute(
        update(Patient)
        .where(Patient.id == call.patient_id)
        .values(misses_in_row=Patient.misses_in_row + 1)
        .execution_options(synchronize_session=False)
    )
    misses = session.scalar(select(Patient.misses_in_row).where(Patient.id == call.patient_id))
    if misses != limit:
        return False
    session.add(
        FollowUpAlert(
            patient_id=call.patient_id,
            follow_up_id=call.id,
            attempt=call.attempts,
            misses=misses,
            created_at=now,
        )
    )
    session.flush()
    return True


def readings_of(session: Session, patient_id: int, limit: int = 60) -> list[Reading]:
    """The patient's latest readings, oldest first (for the trend)."""
    latest = session.scalars(
        select(Reading)
        .where(Reading.patient_id == patient_id)
        .order_by(Reading.taken_at.desc(), Reading.id.desc())
        .limit(limit)
    )
    return list(reversed(list(latest)))


def follow_ups_of(session: Session, patient_id: int, limit: int = 60) -> list[FollowUp]:
    """The patient's calls, newest first."""
    return list(
        session.scalars(
            select(FollowUp)
            .where(FollowUp.patient_id == patient_id)
            .order_by(FollowUp.day.desc(), FollowUp.slot.desc(), FollowUp.id.desc())
            .limit(limit)
        )
    )
