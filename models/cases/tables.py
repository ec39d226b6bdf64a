"""Cases and their append-only events."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.cases.lifecycle import State
from models.db import Base
from models.reference.tables import Category, User, Village
from models.times import utcnow


class Priority(StrEnum):
    normal = "normal"
    urgent = "urgent"


class Channel(StrEnum):
    """How a complaint reached the control room: a call taken at the desk, or a client system's request."""

    phone = "phone"
    api = "api"


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_state_since", "state", "state_since"),
        Index("ix_cases_state_due", "state", "due_at"),
        Index("ix_cases_created_at", "created_at"),
        Index("ix_cases_category_created", "category_id", "created_at"),
        Index("ix_cases_block_created", "block_id", "created_at"),
        Index("ix_cases_officer_created", "officer_id", "created_at"),
        Index("ix_cases_emergency_state", "emergency", "state"),  # the live pulse's open emergencies
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str | None] = mapped_column(String(32), unique=True)
    # A token minted with the intake form, so a form submitted twice opens one case.
    intake_token: Mapped[str] = mapped_column(String(64), unique=True)
    caller_name: Mapped[str] = mapped_column(String(120))
    phone: Mapped[str] = mapped_column(String(20), index=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"))
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"))
    description: Mapped[str] = mapped_column(Text)
    priority: Mapped[Priority] = mapped_column(String(16), default=Priority.normal)
    state: Mapped[State] = mapped_column(String(32), default=State.awaiting_assignment)
    # Human decisions taken so far: the optimistic version of the case and the
    # pause key of the next suspend in its flow run ("decision-<n>").
    decisions: Mapped[int] = mapped_column(default=0)
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    state_since: Mapped[datetime] = mapped_column(default=utcnow)
    flow_run_id: Mapped[str | None] = mapped_column(String(36))
    # Kept with each decision so the dashboard and the lists need no pass over the events.
    due_at: Mapped[datetime | None] = mapped_column()  # the limit of the step it waits on; None once final
    resolve_by: Mapped[datetime | None] = mapped_column()  # the case's deadline for resolution
    resolved_at: Mapped[datetime | None] = mapped_column()  # first resolution by an officer
    closed_at: Mapped[datetime | None] = mapped_column(index=True)  # confirmed or rejected
    block_id: Mapped[int | None] = mapped_column(ForeignKey("blocks.id"))  # the village's block
    # An emergency skips the DM: assigned at once to the duty admission officer.
    emergency: Mapped[bool] = mapped_column(default=False)
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"))  # a home-isolation patient
    channel: Mapped[Channel] = mapped_column(
        String(16), default=Channel.phone, server_default=Channel.phone.value
    )
    # The language the caller's text messages are written in ("hi" or "en").
    language: Mapped[str] = mapped_column(String(8), default="hi", server_default="hi")
    # The case this one was merged into (models/cases/merging.py), while it stays merged.
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)

    village: Mapped[Village] = relationship()
    category: Mapped[Category] = relationship()
    officer: Mapped[User | None] = relationship(foreign_keys=[officer_id])
    created_by: Mapped[User] = relationship(foreign_keys=[created_by_id])
    merged_into: Mapped[Case | None] = relationship(remote_side=[id], foreign_keys=[merged_into_id])
    events: Mapped[list[CaseEvent]] = relationship(
        order_by="CaseEvent.id", back_populates="case", viewonly=True
    )


class CaseEvent(Base):
    """One thing that happened to a case. Rows are only ever inserted."""

    __tablename__ = "case_events"
    __table_args__ = (Index("ix_case_events_kind_created", "kind", "created_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))  # "opened" or an Action value
    from_state: Mapped[str | None] = mapped_column(String(32))
    to_state: Mapped[str] = mapped_column(String(32))
    by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # None: the system
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    text: Mapped[str] = mapped_column(Text, default="")
    rating: Mapped[int | None] = mapped_column()  # the caller's 1-5 on a `satisfied` callback
    # How the decision was taken: "" on the app's pages, "link" through a one-tap link (webapp/act.py).
    via: Mapped[str] = mapped_column(String(16), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    case: Mapped[Case] = relationship(back_populates="events")
    by_user: Mapped[User | None] = relationship(foreign_keys=[by_user_id])
    officer: Mapped[User | None] = relationship(foreign_keys=[officer_id])


class CaseCaller(Base):
    """One more caller about a case's problem: attached at intake instead of a case of their own.

    Told the case number when attached, and of each later step like the case's own caller.
    """

    __tablename__ = "case_callers"
    __table_args__ = (UniqueConstraint("case_id", "phone"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("case_events.id"))  # the "caller_added" event
    caller_name: Mapped[str] = mapped_column(String(120))
    phone: Mapped[str] = mapped_column(String(20))  # E.164
    language: Mapped[str] = mapped_column(String(8), default="hi")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
