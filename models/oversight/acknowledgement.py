"""Who saw their hand-offs, and how soon: the dashboard's acknowledgement figures, by person.

A hand-off is a message to the one a step waits on (the DMs on a new complaint, the officer on an
assignment, ...), on any of their channels in turn; it is seen when its link was opened or *Seen*
pressed on the case (models/cases/seen.py). Its rows are marked when made (`Delivery.hand_off`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from models.messages import Delivery, DeliveryStatus
from models.oversight.stats import percentile
from models.reference.tables import User
from models.times import aware


@dataclass(frozen=True)
class Acknowledged:
    """One person's hand-offs sent in a period: how many, how many seen, and how long after sending."""

    name: str
    role: str
    sent: int
    seen: int
    median: timedelta | None  # of the waits from sending to seen, the seen ones'
    p90: timedelta | None


def acknowledgement(session: Session, start: datetime, end: datetime) -> list[Acknowledged]:
    """Each person's hand-offs sent from start to end, the least often seen first (then by name).

    A step is counted once, by the row of it sent first (the one that keeps its mark, on however
    many channels it went); it is seen when any of its rows was, which marks them all
    (models/cases/seen.mark_seen). On PostgreSQL the database counts and takes the percentiles from
    one index (`ix_deliveries_hand_offs`): a state's ten days are some 100,000 steps, a second read
    into Python; elsewhere the steps are read and counted here.
    """
    # As the index names them (PostgreSQL uses a partial index only for a WHERE implying its own).
    steps = (Delivery.hand_off, Delivery.status == DeliveryStatus.sent)
    sent = (Delivery.sent_at >= start, Delivery.sent_at < end)
    people: list[Acknowledged] = []
    if session.get_bind().dialect.name == "postgresql":
        wait = func.greatest(Delivery.seen_at - Delivery.sent_at, timedelta())
        counts = (
            select(
                Delivery.user_id,
                func.count().label("sent"),
                func.count(Delivery.seen_at).label("seen"),
                func.percentile_disc(postgresql.array([0.5, 0.9]))
                .within_group(wait)
                .filter(Delivery.seen_at.is_not(None))
                .label("waits"),
            )
            .where(*steps, *sent)
            .group_by(Delivery.user_id)
            .subquery()
        )
        rows = session.execute(
            select(User.name, User.role, counts.c.sent, counts.c.seen, counts.c.waits).join(
                User, User.id == counts.c.user_id
            )
        )
        for name, role, count, seen, waits in rows:
            median, p90 = waits or (None, None)
            people.append(Acknowledged(name, role, count, seen, median, p90))
    else:
        found: dict[int, tuple[str, str, list[int], list[timedelta]]] = {}
        for user_id, name, role, sent_at, seen_at in session.execute(
            select(Delivery.user_id, User.name, User.role, Delivery.sent_at, Delivery.seen_at)
            .join(User, User.id == Delivery.user_id)
            .where(*steps, *sent)
        ):
            _name, _role, count, waits = found.setdefault(user_id, (name, role, [0], []))
            count[0] += 1
            if seen_at is not None:
                waits.append(max(timedelta(), aware(seen_at) - aware(sent_at)))
        for name, role, count, waits in found.values():
            people.append(
                Acknowledged(name, role, count[0], len(waits), percentile(waits, 50), percentile(waits, 90))
            )
    return sorted(people, key=lambda p: (p.seen / p.sent, p.name))
