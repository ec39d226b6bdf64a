"""The duty roster (who is on duty for what, by shift) and hospital admissions from emergency cases."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from models.case import Case
from models.db import Base
from models.directory import User, utcnow


class Duty:
    """What a shift is for: the hospital-admission officer takes emergencies; the duty doctor hears of
    home-isolation patients who stop answering."""

    admission = "admission"
    doctor = "doctor"
    ALL = (admission, doctor)


class DutyShift(Base):
    """One person on one duty from starts_at to ends_at (UTC). Overlaps are allowed: the latest start wins."""

    __tablename__ = "duty_shifts"
    __table_args__ = (Index("ix_duty_shifts_duty_starts", "duty", "starts_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    duty: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    starts_at: Mapped[datetime] = mapped_column()
    ends_at: Mapped[datetime] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship()


class Admission(Base):
    """A patient moved to hospital on an emergency case: where, which bed, which ambulance."""

    __tablename__ = "admissions"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), unique=True)
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"))
    hospital: Mapped[str] = mapped_column(String(200))
    bed: Mapped[str] = mapped_column(String(64), default="")
    ambulance: Mapped[str] = mapped_column(String(64), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    by_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    admitted_at: Mapped[datetime] = mapped_column(default=utcnow)

    case: Mapped[Case] = relationship()


def on_duty(session: Session, duty: str, now: datetime) -> User | None:
    """Who holds `duty` at `now`: the active user of the shift that started last, if any."""
    return session.scalar(
        select(User)
        .join(DutyShift, DutyShift.user_id == User.id)
        .where(
            DutyShift.duty == duty, DutyShift.starts_at <= now, DutyShift.ends_at > now, User.active.is_(True)
        )
        .order_by(DutyShift.starts_at.desc(), DutyShift.id.desc())
        .limit(1)
    )
