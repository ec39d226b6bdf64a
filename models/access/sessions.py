"""Open, find, keep alive and end login sessions."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from models.access.tables import LoginSession
from models.times import aware

# How often a session's last_seen_at is written: not on every request, which would make every page
# view a write, but often enough for the idle limit to be exact to the minute.
TOUCH_EVERY = timedelta(seconds=60)
# However active, a session ends a day after login (a shift is 8 hours): the cookie of a
# machine left signed in does not live for ever.
MAX_AGE = timedelta(hours=24)


@dataclass(frozen=True)
class Opened:
    token: str  # goes in the cookie, never stored
    session_id: int


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(db: Session, user_id: int, now: datetime, address: str = "", agent: str = "") -> Opened:
    """Start a login session for user_id; the caller commits and puts the token in the cookie."""
    token = secrets.token_urlsafe(32)
    row = LoginSession(
        token_hash=_hash(token),
        user_id=user_id,
        address=address[:64],
        agent=agent[:200],
        created_at=now,
        last_seen_at=now,
    )
    db.add(row)
    db.flush()
    return Opened(token=token, session_id=row.id)


def find_active(db: Session, token: str, now: datetime, idle: timedelta) -> LoginSession | None:
    """The live session of token, touched; None (and ended) if it was ended, idle too long or too old."""
    if not token or len(token) > 100:
        return None
    row = db.scalar(select(LoginSession).where(LoginSession.token_hash == _hash(token)))
    if row is None or row.ended_at is not None:
        return None
    if aware(row.last_seen_at) + idle < now:
        end(db, row.id, now, "idle")
        return None
    if aware(row.created_at) + MAX_AGE < now:
        end(db, row.id, now, "expired")
        return None
    if aware(row.last_seen_at) + TOUCH_EVERY < now:
        row.last_seen_at = now
    return row


def end(db: Session, session_id: int, now: datetime, reason: str) -> bool:
    """End one session; False if it had ended already."""
    done = db.execute(
        update(LoginSession)
        .where(LoginSession.id == session_id, LoginSession.ended_at.is_(None))
        .values(ended_at=now, end_reason=reason)
    )
    return bool(done.rowcount)  # type: ignore[attr-defined]


def end_all(db: Session, user_id: int, now: datetime, reason: str) -> int:
    """End every live session of user_id (sign out everywhere); how many were live."""
    done = db.execute(
        update(LoginSession)
        .where(LoginSession.user_id == user_id, LoginSession.ended_at.is_(None))
        .values(ended_at=now, end_reason=reason)
    )
    return int(done.rowcount)  # type: ignore[attr-defined]


def live(db: Session, now: datetime, idle: timedelta) -> list[LoginSession]:
    """Sessions not ended and not idle past the limit, the most recently seen first."""
    rows = db.scalars(
        select(LoginSession)
        .where(LoginSession.ended_at.is_(None), LoginSession.last_seen_at > now - idle)
        .order_by(LoginSession.last_seen_at.desc())
    )
    return [r for r in rows if aware(r.created_at) + MAX_AGE >= now]
