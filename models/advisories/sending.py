"""Health advisories: who receives one, writing it with its outbox row, and its delivery rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from models.advisories.tables import Advisory, AdvisoryDelivery
from models.config import LANGUAGES
from models.homecare.tables import Patient, PatientStatus
from models.messages import DeliveryStatus
from models.outbox import Outbox
from models.reference.tables import User


def recipients(village_id: int | None) -> Select[tuple[Patient]]:
    """Patients an advisory goes to: everyone in isolation, or those of one village."""
    query = select(Patient).where(Patient.status == PatientStatus.isolating)
    if village_id is not None:
        query = query.where(Patient.village_id == village_id)
    return query.order_by(Patient.id)


def recipient_counts(session: Session) -> dict[int, int]:
    """Patients in isolation per village id (villages without any are left out)."""
    rows = session.execute(
        select(Patient.village_id, func.count())
        .where(Patient.status == PatientStatus.isolating)
        .group_by(Patient.village_id)
    )
    return {village_id: count for village_id, count in rows}


def create_advisory(
    session: Session,
    *,
    title: str,
    body: str,
    language: str,
    village_id: int | None,
    by: User,
    now: datetime,
) -> Advisory:
    """Write the advisory and the outbox row that has it sent, in the caller's transaction."""
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {', '.join(LANGUAGES)}")
    if not title.strip() or not body.strip():
        raise ValueError("an advisory needs a title and a text")
    advisory = Advisory(
        title=title.strip(),
        body=body.strip(),
        language=language,
        village_id=village_id,
        by_user_id=by.id,
        created_at=now,
    )
    session.add(advisory)
    session.flush()
    session.add(Outbox(kind="advisory", case_id=None, payload={"advisory_id": advisory.id}, created_at=now))
    return advisory


def plan_advisory(session: Session, advisory_id: int) -> list[int]:
    """Insert one delivery row per recipient (once, however often it runs); return every row's id.

    The recipients are read on the first run; a later run (a retry) keeps that list and only
    adds patients who came into isolation since.
    """
    advisory = session.get_one(Advisory, advisory_id)
    planned = set(
        session.scalars(
            select(AdvisoryDelivery.patient_id).where(AdvisoryDelivery.advisory_id == advisory_id)
        )
    )
    for patient in session.scalars(recipients(advisory.village_id)):
        if patient.id not in planned:
            session.add(AdvisoryDelivery(advisory_id=advisory_id, patient_id=patient.id, phone=patient.phone))
    session.flush()
    return list(
        session.scalars(
            select(AdvisoryDelivery.id)
            .where(AdvisoryDelivery.advisory_id == advisory_id)
            .order_by(AdvisoryDelivery.id)
        )
    )


@dataclass(frozen=True)
class Tally:
    """How an advisory's deliveries stand."""

    sent: int = 0
    failed: int = 0
    pending: int = 0

    @property
    def total(self) -> int:
        return self.sent + self.failed + self.pending


def tallies(session: Session, advisory_ids: list[int]) -> dict[int, Tally]:
    """Sent, failed and pending deliveries of each advisory (a Tally of zeros before planning)."""
    counts: dict[int, dict[str, int]] = {i: {} for i in advisory_ids}
    if advisory_ids:
        rows = session.execute(
            select(AdvisoryDelivery.advisory_id, AdvisoryDelivery.status, func.count())
            .where(AdvisoryDelivery.advisory_id.in_(advisory_ids))
            .group_by(AdvisoryDelivery.advisory_id, AdvisoryDelivery.status)
        )
        for advisory_id, status, count in rows:
            counts[advisory_id][status] = count
    return {
        i: Tally(
            sent=c.get(DeliveryStatus.sent, 0),
            failed=c.get(DeliveryStatus.failed, 0),
            pending=c.get(DeliveryStatus.pending, 0),
        )
        for i, c in counts.items()
    }
