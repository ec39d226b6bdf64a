"""Home isolation: the register of patients, each day's follow-up calls, their readings, red flags."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.db import Base
from models.desk.tables import Contact
from models.messages import MessageRow
from models.reference.tables import User, Village
from models.times import utcnow


class PatientStatus(StrEnum):
    isolating = "isolating"  # phoned every day
    admitted = "admitted"  # moved to hospital: follow-ups stop
    discharged = "discharged"  # isolation over: follow-ups stop


class Patient(Base):
    """A person in home isolation, from the health department's list or entered by hand."""

    __tablename__ = "patients"
    __table_args__ = (
        Index("ix_patients_status_village", "status", "village_id"),
        UniqueConstraint("health_id", name="uq_patients_health_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The health department's identifier of the patient, when its list has one: a re-import updates.
    health_id: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(120))
    age: Mapped[int | None] = mapped_column()
    sex: Mapped[str] = mapped_column(String(1), default="")  # "M" | "F" | "O" | ""
    phone: Mapped[str] = mapped_column(String(20), index=True)  # E.164
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"))
    address: Mapped[str] = mapped_column(Text, default="")
    test_date: Mapped[date | None] = mapped_column(Date)
    isolation_start: Mapped[date] = mapped_column(Date)
    isolation_end: Mapped[date] = mapped_column(Date)  # planned
    conditions: Mapped[str] = mapped_column(Text, default="")  # diabetes, hypertension, ...
    mitanin_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    status: Mapped[PatientStatus] = mapped_column(String(16), default=PatientStatus.isolating)
    status_since: Mapped[datetime] = mapped_column(default=utcnow)
    # Follow-up calls not answered in a row; an answered call sets it back to 0.
    misses_in_row: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    village: Mapped[Village] = relationship()
    mitanin: Mapped[Contact | None] = relationship()


class FollowUpStatus(StrEnum):
    due = "due"  # on today's list
    done = "done"  # reached; a reading was taken
    unreachable = "unreachable"  # not reachable; tried again later in the day
    cancelled = "cancelled"  # the patient was admitted or discharged first


class FollowUp(Base):
    """One follow-up call due to one patient at one of the day's scheduled times."""

    __tablename__ = "follow_ups"
    __table_args__ = (
        # The scheduled run that makes a list may run twice: a patient's call at a slot exists once.
        UniqueConstraint("patient_id", "day", "slot", name="uq_follow_ups_patient_day_slot"),
        Index("ix_follow_ups_status_due", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    day: Mapped[date] = mapped_column(Date)  # India date
    slot: Mapped[str] = mapped_column(String(8))  # the scheduled time of day, "09:00"
    due_at: Mapped[datetime] = mapped_column()
    status: Mapped[FollowUpStatus] = mapped_column(String(16), default=FollowUpStatus.due)
    attempts: Mapped[int] = mapped_column(default=0)
    last_attempt_at: Mapped[datetime | None] = mapped_column()
    by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    patient: Mapped[Patient] = relationship()


class Reading(Base):
    """What a patient reported on a follow-up call. Rows are only ever inserted."""

    __tablename__ = "readings"
    __table_args__ = (Index("ix_readings_patient_taken", "patient_id", "taken_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    follow_up_id: Mapped[int | None] = mapped_column(ForeignKey("follow_ups.id"))
    spo2: Mapped[int | None] = mapped_column()  # %
    temperature: Mapped[float | None] = mapped_column()  # °F
    pulse: Mapped[int | None] = mapped_column()  # per minute
    symptoms: Mapped[list[str]] = mapped_column(JSON, default=list)  # Symptom codes
    note: Mapped[str] = mapped_column(Text, default="")
    # The red flags this reading raised (threshold and symptom descriptions); empty: none.
    red_flags: Mapped[list[str]] = mapped_column(JSON, default=list)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))  # the emergency it opened
    by_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    taken_at: Mapped[datetime] = mapped_column(default=utcnow)

    patient: Mapped[Patient] = relationship()
    by_user: Mapped[User] = relationship()


class Symptom(Base):
    """A symptom operators ask about; a red-flag symptom opens an emergency case at once."""

    __tablename__ = "symptoms"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    name_hi: Mapped[str] = mapped_column(String(120), default="")
    red_flag: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)


class VitalThreshold(Base):
    """A red-flag threshold on a vital sign, e.g. spo2 < 94. Rows, so the district sets them."""

    __tablename__ = "vital_thresholds"
    __table_args__ = (UniqueConstraint("metric", "op", name="uq_vital_thresholds_metric_op"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    metric: Mapped[str] = mapped_column(String(16))  # "spo2" | "temperature" | "pulse"
    op: Mapped[str] = mapped_column(String(2))  # "<" | "<=" | ">" | ">="
    value: Mapped[float] = mapped_column()
    active: Mapped[bool] = mapped_column(default=True)


class FollowUpAlert(Base):
    """A patient's misses in a row reached the limit: their Mitanin and the duty doctor are told, once."""

    __tablename__ = "follow_up_alerts"
    __table_args__ = (
        # The miss that reaches the limit is one attempt of one call: at most one alert for it.
        UniqueConstraint("follow_up_id", "attempt", name="uq_follow_up_alerts_follow_up_attempt"),
        Index("ix_follow_up_alerts_notified_at", "notified_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", name="fk_follow_up_alerts_patient_id"))
    follow_up_id: Mapped[int] = mapped_column(
        ForeignKey("follow_ups.id", name="fk_follow_up_alerts_follow_up_id")
    )
    attempt: Mapped[int] = mapped_column()  # the call's attempt that missed
    misses: Mapped[int] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    notified_at: Mapped[datetime | None] = mapped_column()  # every message sent

    patient: Mapped[Patient] = relationship()


class AlertDelivery(MessageRow, Base):
    """One miss alert to one channel: the Mitanin's SMS or one of the duty doctor's channels."""

    __tablename__ = "follow_up_alert_deliveries"
    __table_args__ = (
        UniqueConstraint("alert_id", "channel_key", name="uq_follow_up_alert_deliveries_alert_channel"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(
        ForeignKey("follow_up_alerts.id", name="fk_follow_up_alert_deliveries_alert_id")
    )
    recipient: Mapped[str] = mapped_column(String(16))  # "mitanin" | "doctor"
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", name="fk_follow_up_alert_deliveries_user_id")
    )
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", name="fk_follow_up_alert_deliveries_contact_id")
    )
    channel_key: Mapped[str] = mapped_column(String(64))  # sha256 of the URL
    channel: Mapped[str] = mapped_column(String(500))  # the URL with secrets masked
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    alert: Mapped[FollowUpAlert] = relationship()
    user: Mapped[User | None] = relationship()
    contact: Mapped[Contact | None] = relationship()
