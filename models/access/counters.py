"""Fixed-window counters in the database: one statement per hit, shared by every process."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlalchemy import case, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from models.access.tables import RateCounter
from models.times import aware


def hit(db: Session, key: str, seconds: float, now: datetime, amount: int = 1) -> int:
    """Add amount to key's window (a new window if the last one expired); the count after it."""
    dialect = postgresql if db.get_bind().dialect.name == "postgresql" else sqlite
    table = RateCounter.__table__
    live = table.c.expires_at > now
    statement = (
        dialect.insert(table)
        .values(key=key, count=amount, expires_at=now + timedelta(seconds=seconds))
        .on_conflict_do_update(
            index_elements=[table.c.key],
            set_={
                "count": case((live, table.c.count + amount), else_=amount),
                "expires_at": case((live, table.c.expires_at), else_=now + timedelta(seconds=seconds)),
            },
        )
        .returning(table.c.count)
    )
    count = int(db.execute(statement).scalar_one())
    if random.random() < 0.01:  # noqa: S311 - now and then, not on every hit: drop old windows
        db.execute(delete(RateCounter).where(RateCounter.expires_at < now))
    return count


def current(db: Session, key: str, now: datetime) -> tuple[int, datetime | None]:
    """The count in key's live window and when it ends; (0, None) if none is live."""
    row = db.execute(select(RateCounter.count, RateCounter.expires_at).where(RateCounter.key == key)).first()
    if row is None or aware(row.expires_at) <= now:
        return 0, None
    return int(row.count), aware(row.expires_at)


def clear(db: Session, key: str | None = None) -> int:
    """Forget key's window (every window if key is None); how many rows went."""
    statement = delete(RateCounter)
    if key is not None:
        statement = statement.where(RateCounter.key == key)
    return int(db.execute(statement).rowcount)  # type: ignore[attr-defined]
