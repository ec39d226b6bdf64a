"""The audit log: who viewed, listed, exported or printed what."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from models.oversight.tables import AuditEntry
from models.reference.tables import User


def record(session: Session, user: User | None, action: str, target: str, now: datetime) -> AuditEntry:
    """Add one audit row ("view", "list", "export", "report", "login", ...); the caller commits."""
    entry = AuditEntry(user_id=user.id if user else None, action=action, target=target[:2000], created_at=now)
    session.add(entry)
    return entry
