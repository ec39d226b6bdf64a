"""Board links: make, find, revoke and list the links that show the wall board without a sign-in."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, joinedload

from models.access.tables import BoardLink
from models.reference.tables import User
from models.times import aware

NAME_MAX = 80
TOKEN_MAX = 100  # longer names no link: refused before it is hashed
# How often last_used_at is written: a board refreshes every 15 seconds, which need not each be a write.
TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class Made:
    token: str  # goes in the link, shown once, never stored
    link_id: int


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def board_url(public_url: str, token: str) -> str:
    """The full address of a board link."""
    return f"{public_url.rstrip('/')}/board/{token}"


def make_link(db: Session, name: str, made_by: User, now: datetime, language: str = "") -> Made:
    """A new board link named name; the caller commits and shows the token once."""
    token = secrets.token_urlsafe(32)
    row = BoardLink(
        name=name.strip()[:NAME_MAX],
        token_hash=_hash(token),
        language=language,
        made_by_id=made_by.id,
        made_at=now,
    )
    db.add(row)
    db.flush()
    return Made(token=token, link_id=row.id)


def find_link(db: Session, token: str, now: datetime) -> BoardLink | None:
    """The live link of token (its last use noted, at most once a minute); None if unknown or revoked."""
    if not token or len(token) > TOKEN_MAX:
        return None
    row = db.scalar(select(BoardLink).where(BoardLink.token_hash == _hash(token)))
    if row is None or row.revoked_at is not None:
        return None
    if row.last_used_at is None or aware(row.last_used_at) + TOUCH_EVERY < now:
        row.last_used_at = now
    return row


def revoke(db: Session, link_id: int, now: datetime) -> bool:
    """Revoke a link; False if it was revoked already (or is no link)."""
    done = db.execute(
        update(BoardLink)
        .where(BoardLink.id == link_id, BoardLink.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return bool(done.rowcount)  # type: ignore[attr-defined]


def all_links(db: Session) -> list[BoardLink]:
    """Every link, the live ones first, by name."""
    return list(
        db.scalars(
            select(BoardLink)
            .options(joinedload(BoardLink.made_by))
            .order_by(BoardLink.revoked_at.is_not(None), BoardLink.name, BoardLink.id)
        )
    )
