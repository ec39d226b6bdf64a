"""Who saw their hand-offs, and how soon: the dashboard's acknowledgement figures, by person.

A hand-off is a message to the one a step waits on (the DMs on a new complaint, the officer on an
assignment, ...), on any of their channels in turn; it is seen when its link was opened or *Seen*
pressed on the case (models/cases/seen.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.cases.lifecycle import Action
from models.cases.tables import CaseEvent
from models.messages import CHASED, Delivery, DeliveryStatus
from models.oversight.stats import percentile
from models.reference.tables import Role, User
from models.times import aware

# The event kinds that hand a case to someone, and the role they hand it to.
HANDS_TO = {
    "opened": Role.dm,
    Action.send_back.value: Role.dm,
    Action.reopen_closed.value: Role.dm,
    Action.assign.value: Role.officer,
    Action.reopen.value: Role.officer,
    Action.not_satisfied.value: Role.officer,
    Action.resolve.value: Role.operator,
    Action.satisfied.value: Role.collector,
}


@dataclass
class Acknowledged:
    """One person's hand-offs sent in a period: how many, how many seen, and how long after sending."""

    name: str
    role: str
    sent: int = 0
    seen: int = 0
    waits: list[timedelta] = field(default_factory=list)

    @property
    def median(self) -> timedelta | None:
        return percentile(self.waits, 50)

    @property
    def p90(self) -> timedelta | None:
        return percentile(self.waits, 90)


def acknowledgement(session: Session, start: datetime, end: datetime) -> list[Acknowledged]:
    """Each person's hand-offs sent from start to end, the least often seen first (then by name).

    A step told on two channels (the first refused, or went unseen) counts once, seen if either was.
    """
    rows = session.execute(
        select(
            User.id,
            User.name,
            User.role,
            CaseEvent.kind,
            Delivery.event_id,
            Delivery.sent_at,
            Delivery.seen_at,
        )
        .join(User, User.id == Delivery.user_id)
        .join(CaseEvent, CaseEvent.id == Delivery.event_id)
        .where(
            Delivery.status == DeliveryStatus.sent,
            Delivery.sent_at >= start,
            Delivery.sent_at < end,
            Delivery.reason.in_(list(CHASED)),
        )
        .order_by(Delivery.id)
    ).all()
    steps: dict[tuple[int, int], tuple[datetime, datetime | None]] = {}
    people: dict[int, Acknowledged] = {}
    for row in rows:
        if HANDS_TO.get(row.kind) != row.role:
            continue
        people.setdefault(row.id, Acknowledged(row.name, row.role))
        key = (row.id, row.event_id)
        first_sent, seen = steps.get(key, (aware(row.sent_at), None))
        if row.seen_at is not None:
            seen = aware(row.seen_at) if seen is None else min(seen, aware(row.seen_at))
        steps[key] = (first_sent, seen)
    for (user_id, _), (sent, seen) in steps.items():
        person = people[user_id]
        person.sent += 1
        if seen is not None:
            person.seen += 1
            person.waits.append(max(timedelta(), seen - sent))
    return sorted(people.values(), key=lambda p: (p.seen / p.sent, p.name))
