"""Login sessions, rate-limit counters, and the links that show the wall board without a sign-in."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.db import Base
from models.reference.tables import User
from models.times import utcnow


class LoginSession(Base):
    """One browser signed in as one user; the session cookie carries only its random token.

    A signed cookie alone cannot be taken back: logout, a password change and an admin's
    "sign out everywhere" end the row, and the next request with the old cookie is anonymous.
    """

    __tablename__ = "login_sessions"
    __table_args__ = (Index("ix_login_sessions_user_id", "user_id", "ended_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # A hash of the token, so a copy of the database signs no one in.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    address: Mapped[str] = mapped_column(String(64), default="")
    agent: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(default=None)
    # "logout", "idle", "password", "admin" or "expired": why it ended.
    end_reason: Mapped[str] = mapped_column(String(16), default="")

    user: Mapped[User] = relationship()


class RateCounter(Base):
    """A fixed-window counter of attempts under one key (a login name, an address), shared by every
    web process: the storage behind Flask-Limiter when no Redis is configured."""

    __tablename__ = "rate_counters"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    count: Mapped[int] = mapped_column(default=0)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class BoardLink(Base):
    """A link that shows the wall board without a sign-in (a screen on the control room's wall).

    Only a hash of its token is kept, as for login sessions; an admin revokes it, and it opens no
    other page.
    """

    __tablename__ = "board_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))  # which screen, e.g. "Hall, left wall"
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    language: Mapped[str] = mapped_column(String(2), default="")  # "": the screen browser's language
    made_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    made_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)

    made_by: Mapped[User] = relationship()
