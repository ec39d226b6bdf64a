"""Who saw their hand-offs, and how soon: the dashboard's acknowledgement figures, by person.

A hand-off is a message to the one a step waits on (the DMs on a new complaint, the officer on an
assignment, ...), on any of their channels in turn; it is seen when its link was opened or *Seen*
pressed on the case (models/cases/seen.py). Its rows are marked when made (`Delivery.hand_off`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Subquery, func, select
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


def steps_query(start: datetime, end: datetime) -> Subquery:
    """Each person's hand-offs sent in [start, end): first sent and first seen.

    A step told on two channels (the first refused, or went unseen) is one step, seen if either was.
    """
    return (
        select(
            Delivery.user_id,
            func.min(Delivery.sent_at).label("sent"),
            func.min(Delivery.seen_at).label("seen"),
        )
        .where(
            Delivery.hand_off.is_(True),
            Delivery.status == DeliveryStatus.sent,
            Delivery.sent_at >= start,
            Delivery.sent_at < end,
        )
        .group_by(Delivery.user_id, Delivery.event_id)
        .subquery()
    )


def acknowledgement(session: Session, start: datetime, end: datetime) -> list[Acknowledged]:
    """Each person's hand-offs sent from start to end, the least often seen first (then by name).

    On PostgreSQL the database counts and takes the percentiles (a state's ten days are some 100,000
    rows: a second read into Python); elsewhere the steps are read and counted here.
    """
    steps = steps_query(start, end)
    people: list[Acknowledged] = []
    if session.get_bind().dialect.name == "postgresql":
        wait = func.greatest(steps.c.seen - steps.c.sent, timedelta())
        rows = session.execute(
            select(
                User.name,
                User.role,
                func.count(),
                func.count(steps.c.seen),
                func.percentile_disc(postgresql.array([0.5, 0.9]))
                .within_group(wait)
                .filter(steps.c.seen.is_not(None)),
            )
            .join(User, User.id == steps.c.user_id)
            .group_by(User.id, User.name, User.role)
        )
        for name, role, sent, seen, waits in rows:
            median, p90 = waits or (None, None)
            people.append(Acknowledged(name, role, sent, seen, median, p90))
    else:
        found: dict[int, tuple[str, str, list[int], list[timedelta]]] = {}
        for user_id, name, role, sent, seen in session.execute(
            select(steps.c.user_id, User.name, User.role, steps.c.sent, steps.c.seen).join(
                User, User.id == steps.c.user_id
            )
        ):
            _name, _role, count, waits = found.setdefault(user_id, (name, role, [0], []))
            count[0] += 1
            if seen is not None:
                waits.append(max(timedelta(), aware(seen) - aware(sent)))
        for name, role, count, waits in found.values():
            people.append(
                Acknowledged(name, role, count[0], len(waits), percentile(waits, 50), percentile(waits, 90))
            )
    return sorted(people, key=lambda p: (p.seen / p.sent, p.name))
