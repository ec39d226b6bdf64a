"""Health advisories: who receives one (reviewed, then frozen), writing it with its rows, tallies."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, insert, select
from sqlalchemy.orm import Session

from models.advisories.tables import Advisory, AdvisoryDelivery
from models.config import LANGUAGES
from models.homecare.tables import Patient, PatientStatus
from models.messages import DeliveryStatus
from models.outbox import Outbox
from models.reference.tables import User

CHUNK = 1000  # delivery rows per executemany


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


class StaleReview(Exception):
    """The advisory or its recipients changed since the sender reviewed it (or it was never reviewed)."""


@dataclass(frozen=True)
class Review:
    """What the sender sees before sending: who gets the advisory, and the key that freezes it."""

    patients: list[tuple[int, str]]  # (patient id, phone), by id
    key: str  # the text, the language, the village and these patients, hashed


def review(session: Session, *, title: str, body: str, language: str, village_id: int | None) -> Review:
    """The recipients of an advisory written now, with the key create_advisory checks them by."""
    patients = [
        (patient_id, phone)
        for patient_id, phone in session.execute(
            recipients(village_id).with_only_columns(Patient.id, Patient.phone)
        )
    ]
    draft = [title.strip(), body.strip(), language, village_id, patients]
    key = hashlib.sha256(json.dumps(draft, ensure_ascii=False).encode()).hexdigest()
    return Review(patients, key)


def create_advisory(
    session: Session,
    *,
    title: str,
    body: str,
    language: str,
    village_id: int | None,
    reviewed: str,
    by: User,
    now: datetime,
) -> Advisory:
    """Write the advisory, a delivery row for each reviewed recipient and the outbox row that has them
    sent, in the caller's transaction.

    The recipients are frozen here, when the sender confirms: the run sends these rows and no
    others, so a patient imported after the review never gets a message the sender did not see go.

    :raise StaleReview: the text or the recipients are not those of the review whose key is `reviewed`.
    :raise ValueError: a bad language, an empty title or text, or nobody to send to.
    """
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {', '.join(LANGUAGES)}")
    if not title.strip() or not body.strip():
        raise ValueError("an advisory needs a title and a text")
    current = review(session, title=title, body=body, language=language, village_id=village_id)
    if current.key != reviewed:
        raise StaleReview(village_id)
    if not current.patients:
        raise ValueError("nobody is in home isolation there")
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
    rows = [
        {"advisory_id": advisory.id, "patient_id": patient_id, "phone": phone, "next_attempt_at": now}
        for patient_id, phone in current.patients
    ]
    for i in range(0, len(rows), CHUNK):
        session.execute(insert(AdvisoryDelivery), rows[i : i + CHUNK])
    session.add(Outbox(kind="advisory", case_id=None, payload={"advisory_id": advisory.id}, created_at=now))
    return advisory


def planned_deliveries(session: Session, advisory_id: int) -> list[int]:
    """The advisory's delivery rows, written when the sender confirmed it: the only ones a run sends."""
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
    """Sent, failed and pending deliveries of each advisory (a Tally of zeros for none)."""
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
