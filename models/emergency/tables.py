"""Hospital admissions recorded on emergency cases."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.cases.tables import Case
from models.db import Base
from models.times import utcnow


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
