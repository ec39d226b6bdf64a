"""Making, revoking and checking API keys. The caller commits."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.api.tables import ApiKey
from models.reference.tables import Role, User

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,59}$")


class KeyRefused(ValueError):
    """A key cannot be made or revoked under that name."""


def digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def service_username(name: str) -> str:
    return f"api:{name}"


def make_key(session: Session, name: str, now: datetime) -> str:
    """A new key for the client `name` (a revoked client gets a fresh one); returns the key, shown once.

    :raise KeyRefused: a bad name, or the client already has a key in use (revoke it first).
    """
    if not NAME.match(name):
        raise KeyRefused("a name is 1-60 letters, digits, dots, dashes or underscores")
    key = secrets.token_urlsafe(32)
    row = session.scalar(select(ApiKey).where(ApiKey.name == name))
    if row is not None and row.revoked_at is None:
        raise KeyRefused(f"{name} already has a key in use: revoke it first")
    user = session.scalar(select(User).where(User.username == service_username(name)))
    if user is None:
        # Inactive and without a password: it only stands for the client in the cases' history.
        user = User(
            username=service_username(name), name=f"API client {name}", role=Role.operator, active=False
        )
        session.add(user)
        session.flush()
    if row is None:
        row = ApiKey(name=name, user_id=user.id)
        session.add(row)
    row.key_hash, row.made_at, row.revoked_at, row.last_used_at = digest(key), now, None, None
    session.flush()
    return key


def revoke_key(session: Session, name: str, now: datetime) -> None:
    """:raise KeyRefused: no client of that name, or its key is revoked already."""
    row = session.scalar(select(ApiKey).where(ApiKey.name == name))
    if row is None:
        raise KeyRefused(f"no API client {name!r}")
    if row.revoked_at is not None:
        raise KeyRefused(f"the key of {name} is revoked already")
    row.revoked_at = now


def key_for(session: Session, key: str) -> ApiKey | None:
    """The key in use that `key` is, or None (unknown or revoked)."""
    if not key or len(key) > 200:
        return None
    row = session.scalar(select(ApiKey).where(ApiKey.key_hash == digest(key)))
    return row if row is not None and row.revoked_at is None else None
