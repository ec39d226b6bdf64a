"""The oversight tables: the escalation ladder (data), escalations reached, and the audit log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, foreign, mapped_column, relationship

from models.cases.tables import Case, CaseEvent
from models.db import Base
from models.reference.tables import User
from models.times import utcnow


class Audience:
    """Who a rung tells: the person the case waits on, the DMs, or the Collectors."""

    assignee = "assignee"
    dm = "dm"
    collector = "collector"
    ALL = (assignee, dm, collector)


class EscalationRung(Base):
    """At `percent` of a step's time limit, tell `audience`. Rows, so the district edits the ladder."""

    __tablename__ = "escalation_rungs"
    __table_args__ = (UniqueConstraint("step", "percent", "audience"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    step: Mapped[str | None] = mapped_column(String(16))  # a Step value; NULL: every step
    percent: Mapped[int] = mapped_column()
    audience: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(default=True)


class Escalation(Base):
    """One rung reached by one case at one step. The unique key makes it happen once per step visit:
    `decisions` is the case's version, which every decision moves on."""

    __tablename__ = "escalations"
    __table_args__ = (UniqueConstraint("case_id", "decisions", "rung_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    decisions: Mapped[int] = mapped_column()
    rung_id: Mapped[int] = mapped_column(ForeignKey("escalation_rungs.id"))
    event_id: Mapped[int] = mapped_column(ForeignKey("case_events.id"), unique=True)
    audience: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set once every delivery of the event is sent; the next sweep retries those still unset.
    notified_at: Mapped[datetime | None] = mapped_column(index=True)

    case: Mapped[Case] = relationship()
    event: Mapped[CaseEvent] = relationship()
    rung: Mapped[EscalationRung] = relationship()


class AuditEntry(Base):
    """Who viewed or exported what, and who signed in (or failed to). Rows are only ever inserted."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_created_at", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # None for a failed sign-in under a name that is no user's (the name tried is the target).
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    action: Mapped[str] = mapped_column(String(32))  # "view" | "export" | "report" | "login" | ...
    target: Mapped[str] = mapped_column(Text)  # a case number, the filters of a list, a login name
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User | None] = relationship()


# Set on a case's "escalation" events: the rung it reached. Declared here so that cases/, which
# escalations build on, needs no import of them.
CaseEvent.escalation = relationship(  # type: ignore[attr-defined]
    Escalation, primaryjoin=CaseEvent.id == foreign(Escalation.event_id), viewonly=True, uselist=False
)
