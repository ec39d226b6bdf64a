"""The duty roster's table: one person on one duty for one shift."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.db import Base
from models.reference.tables import User
from models.times import utcnow


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
