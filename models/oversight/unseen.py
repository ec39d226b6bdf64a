"""Hand-offs nobody acknowledged: which urgent messages are to go out again, and to whom.

An urgent case's (an emergency's) message to the one it waits on that is not seen within its
category's acknowledgement limit goes out again on that person's next channel; after their last
channel, to their stand-in (the duty roster's next person); after the stand-in, to the level above
(the DMs; the Collectors when the DMs are the ones silent). Each of those is a delivery row of the
same event (notifications/unseen.py makes and sends them). Anyone on that chain seeing it ends it.

The sweep (flows/escalation.py) asks every minute; `now` is an argument so tests control the clock.
A row is made at most once: its (event, user, channel) is unique, so two sweeps make one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from models.cases.lifecycle import WAITING_ON
from models.cases.seen import latest_event, waiting_on
from models.cases.tables import Case, Priority
from models.duty.roster import stand_in
from models.messages import CHASED, Delivery, DeliveryStatus, Reason, channel_key
from models.reference.tables import Role, User
from models.times import aware

# Whom a silent person's message goes to at the end of the chain.
ABOVE = {Role.officer: Role.dm, Role.operator: Role.dm, Role.dm: Role.collector}


@dataclass(frozen=True)
class Chase:
    """One delivery row to make: the event's message to `user_id` on their channel number `channel`."""

    case_id: int
    event_id: int
    user_id: int
    channel: int  # its position in the user's channels (0: the first)
    reason: Reason
    follows_id: int


def due_chases(session: Session, now: datetime) -> list[Chase]:
    """Every row the acknowledgement limits call for by `now` and not made yet, an open urgent case's."""
    cases = session.scalars(
        select(Case)
        .options(joinedload(Case.category))
        .where(Case.priority == Priority.urgent, Case.state.in_(list(WAITING_ON)))
        .order_by(Case.id)
    ).all()
    due: list[Chase] = []
    for case in cases:
        limit = timedelta(minutes=case.category.ack_minutes)
        for user in waiting_on(session, case):
            due += next_in_chain(session, case, user, limit, now)
    return list(dict.fromkeys(due))  # two silent DMs call for one message to each Collector


def next_in_chain(session: Session, case: Case, user: User, limit: timedelta, now: datetime) -> list[Chase]:
    """What user's latest message about case calls for, if they and everyone told after them kept silent."""
    event_id = latest_event(session, case.id, user.id)
    if event_id is None:
        return []
    rows = session.scalars(select(Delivery).where(Delivery.event_id == event_id).order_by(Delivery.id)).all()
    if any(r.seen_at is not None for r in rows):
        return []
    own = [r for r in rows if r.user_id == user.id and r.reason in CHASED]
    if not own or not silent(own[-1], limit, now):
        return []
    keys = [channel_key(url) for url in user.channel_urls]
    position = keys.index(own[-1].channel_key) if own[-1].channel_key in keys else len(keys)
    if position + 1 < len(keys):
        return [Chase(case.id, event_id, user.id, position + 1, Reason.unseen, own[-1].id)]
    last = own[-1]
    first_stand_in = next((r for r in rows if r.reason == Reason.stand_in), None)
    if first_stand_in is None:
        person = stand_in(session, user, now)
        if person is not None and person.channel_urls:
            return [Chase(case.id, event_id, person.id, 0, Reason.stand_in, last.id)]
    else:
        last = [r for r in rows if r.user_id == first_stand_in.user_id][-1]
        if not silent(last, limit, now):
            return []
    if any(r.reason == Reason.escalated for r in rows) or user.role not in ABOVE:
        return []
    return [
        Chase(case.id, event_id, above.id, 0, Reason.escalated, last.id)
        for above in _active(session, ABOVE[user.role])
        if above.channel_urls and above.id != user.id
    ]


def silent(row: Delivery, limit: timedelta, now: datetime) -> bool:
    """Unseen `limit` after it was sent (or made, if later: by a chase on its own clock), or `limit`
    after it was made while its channel refuses it."""
    made = aware(row.created_at)
    if row.status == DeliveryStatus.sent and row.sent_at is not None:
        return max(aware(row.sent_at), made) + limit <= now
    return row.status == DeliveryStatus.failed and made + limit <= now


def _active(session: Session, role: str) -> Sequence[User]:
    return session.scalars(
        select(User).where(User.role == role, User.active.is_(True)).order_by(User.id)
    ).all()
