"""Reference data kept as rows, not code: departments, blocks, villages, categories, users."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.cases.sla import Limits
from models.db import Base
from models.times import utcnow


class Role(StrEnum):
    operator = "operator"
    dm = "dm"
    officer = "officer"
    collector = "collector"
    admin = "admin"


class Department(Base):
    __tablename__ = "departments"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    name_hi: Mapped[str] = mapped_column(String(200), default="")


class Block(Base):
    __tablename__ = "blocks"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    name_hi: Mapped[str] = mapped_column(String(120), default="")


class Village(Base):
    __tablename__ = "villages"
    __table_args__ = (UniqueConstraint("block_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    block_id: Mapped[int] = mapped_column(ForeignKey("blocks.id"))
    name: Mapped[str] = mapped_column(String(120), index=True)
    name_hi: Mapped[str] = mapped_column(String(120), default="")
    block: Mapped[Block] = relationship()


class Category(Base):
    __tablename__ = "categories"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    name_hi: Mapped[str] = mapped_column(String(120), default="")
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    # Time limits in minutes, per step (models/sla.py): the DM assigns, the officer
    # resolves, the Collector confirms; an urgent case's steps take the tighter urgent limit.
    assign_minutes: Mapped[int] = mapped_column(default=30)
    resolve_minutes: Mapped[int] = mapped_column(default=360)
    confirm_minutes: Mapped[int] = mapped_column(default=120)
    urgent_minutes: Mapped[int] = mapped_column(default=60)
    # A caller's new complaint within this many days of a closure offers to reopen that case.
    reopen_days: Mapped[int] = mapped_column(default=7)
    # The operators' call back to the caller once the officer has acted: its time limit, and how many
    # unanswered tries before the Collector may close the case without the caller's word.
    callback_minutes: Mapped[int] = mapped_column(default=120)
    callback_tries: Mapped[int] = mapped_column(default=3)
    # An urgent case's (or an emergency's) hand-off not acknowledged within this many minutes goes
    # out again on the next channel, then to the stand-in, then to the level above.
    ack_minutes: Mapped[int] = mapped_column(default=10, server_default="10")
    department: Mapped[Department] = relationship()

    @property
    def limits(self) -> Limits:
        return Limits(
            self.assign_minutes,
            self.resolve_minutes,
            self.confirm_minutes,
            self.urgent_minutes,
            self.callback_minutes,
        )


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    role: Mapped[Role] = mapped_column(String(16))
    # Empty means the account cannot log in until a password is set.
    password_hash: Mapped[str] = mapped_column(String(256), default="")
    # Apprise URLs, one per line (mailto://, an SMS gateway, tgram://, ...).
    notify_urls: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str] = mapped_column(String(8), default="en")
    phone: Mapped[str] = mapped_column(String(20), default="")
    designation: Mapped[str] = mapped_column(String(120), default="")
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    active: Mapped[bool] = mapped_column(default=True)
    # A hashed PIN the one-tap links ask for before a decision (set by the admin); None: not asked.
    link_pin: Mapped[str | None] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    department: Mapped[Department | None] = relationship()

    # The four members Flask-Login reads, written out so models/ needs no Flask.
    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self) -> bool:
        return self.active

    def get_id(self) -> str:
        return str(self.id)

    @property
    def channel_urls(self) -> list[str]:
        return [line.strip() for line in self.notify_urls.splitlines() if line.strip()]
