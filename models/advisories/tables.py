"""Health advisories: one message sent to many patients, each recipient's delivery recorded."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.db import Base
from models.messages import MessageRow
from models.reference.tables import User, Village
from models.times import utcnow


class Advisory(Base):
    """A message for every patient in isolation, or for one village's; sent by a flow run."""

    __tablename__ = "advisories"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(8), default="hi")
    village_id: Mapped[int | None] = mapped_column(ForeignKey("villages.id"))  # None: every village
    by_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column()  # when every delivery was attempted

    village: Mapped[Village | None] = relationship()
    by_user: Mapped[User] = relationship()


class AdvisoryDelivery(MessageRow, Base):
    """The advisory to one patient's phone: a row before it is sent, so none goes twice."""

    __tablename__ = "advisory_deliveries"
    __table_args__ = (UniqueConstraint("advisory_id", "patient_id", name="uq_advisory_deliveries_patient"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    advisory_id: Mapped[int] = mapped_column(ForeignKey("advisories.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    phone: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(500), default="")  # the URL with secrets masked
