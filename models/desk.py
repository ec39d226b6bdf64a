"""The call-centre desk: every call an operator takes, whatever it was about."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.case import Case
from models.db import Base
from models.directory import User, Village, utcnow


class CallKind(StrEnum):
    information = "information"
    complaint = "complaint"
    follow_up = "follow_up"  # a home-isolation follow-up
    emergency = "emergency"
    other = "other"


class Call(Base):
    """One logged call. Rows are only ever inserted."""

    __tablename__ = "calls"
    __table_args__ = (
        Index("ix_calls_created_kind", "created_at", "kind"),
        Index("ix_calls_phone_created", "phone", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(20))  # E.164
    caller_name: Mapped[str] = mapped_column(String(120), default="")
    village_id: Mapped[int | None] = mapped_column(ForeignKey("villages.id"))
    kind: Mapped[CallKind] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")
    duration_seconds: Mapped[int] = mapped_column(default=0)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    by_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    village: Mapped[Village | None] = relationship()
    case: Mapped[Case | None] = relationship()
    by_user: Mapped[User] = relationship()
