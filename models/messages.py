"""Message rows: one per notification to one channel of one user about one case event."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.cases.tables import CaseEvent
from models.db import Base
from models.reference.tables import User
from models.times import utcnow

if TYPE_CHECKING:
    pass

class DeliveryStatus(StrEnum):
    pending = "pending"
    sent = "sent"
    failed = "failed"


class Delivery(Base):
    """One message to one channel of one user about one case event."""

    __tablename__ = "deliveries"
    __table_args__ = (UniqueConstraint("event_id", "user_id", "channel_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("case_events.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    channel_key: Mapped[str] = mapped_column(String(64))  # sha256 of the URL
    channel: Mapped[str] = mapped_column(String(500))  # the URL with secrets masked
    status: Mapped[DeliveryStatus] = mapped_column(String(16), default=DeliveryStatus.pending)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column()

    user: Mapped[User] = relationship()
    event: Mapped[CaseEvent] = relationship()
