"""The desk's tables: calls, and the field directory's contacts and their roles."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.cases.tables import Case
from models.db import Base
from models.reference.tables import User, Village
from models.times import utcnow


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
        Index("ix_calls_by_user_created", "by_user_id", "created_at"),  # an operator's recent calls
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


class ContactRole(Base):
    """A kind of field contact (Mitanin, Sarpanch, ...): rows, so a district adds its own."""

    __tablename__ = "contact_roles"
    __table_args__ = (UniqueConstraint("code", name="uq_contact_roles_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(120))
    name_hi: Mapped[str] = mapped_column(String(120), default="")


# Prefix searches are range scans on a plain B-tree index (key >= p AND key < p'), the same SQL on
# SQLite and PostgreSQL. They need byte order: SQLite's BINARY collation has it, PostgreSQL gets "C".
SEARCH_KEY = String(120).with_variant(String(120, collation="C"), "postgresql")
PHONE_KEY = String(20).with_variant(String(20, collation="C"), "postgresql")


class Contact(Base):
    """A village's monitoring contact: its Mitanin, Sarpanch, panchayat Secretary, ANM, ..."""

    __tablename__ = "contacts"
    __table_args__ = (
        # One person per role and phone in a village; also the index of a village's contacts.
        UniqueConstraint("village_id", "role_id", "phone", name="uq_contacts_village_role_phone"),
        Index("ix_contacts_phone", "phone"),
        Index("ix_contacts_name_key", "name_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id", name="fk_contacts_village_id_villages"))
    role_id: Mapped[int] = mapped_column(
        ForeignKey("contact_roles.id", name="fk_contacts_role_id_contact_roles")
    )
    name: Mapped[str] = mapped_column(String(120))  # exactly as entered
    name_key: Mapped[str] = mapped_column(SEARCH_KEY)  # search_key(name)
    phone: Mapped[str] = mapped_column(PHONE_KEY)  # E.164
    active: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    village: Mapped[Village] = relationship()
    role: Mapped[ContactRole] = relationship()


class HandoverNote(Base):
    """What an operator leaves for the next shift ("promised to call back the Sarpanch of ...")."""

    __tablename__ = "handover_notes"
    __table_args__ = (Index("ix_handover_notes_created", "created_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    by_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    by_user: Mapped[User] = relationship()


class Handover(Base):
    """A shift's handover: its figures as they stood when it ended, and who took it over."""

    __tablename__ = "handovers"
    id: Mapped[int] = mapped_column(primary_key=True)
    shift_start: Mapped[datetime] = mapped_column(unique=True)
    shift_end: Mapped[datetime] = mapped_column()
    prepared_at: Mapped[datetime] = mapped_column(default=utcnow)
    figures: Mapped[str] = mapped_column(Text)  # JSON of models/desk/handover.Figures
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    acknowledged_at: Mapped[datetime | None] = mapped_column()

    acknowledged_by: Mapped[User | None] = relationship()
