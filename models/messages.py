"""Message rows: every notification is a row before it is sent, claimed by one sender at a time.

A row is pending, then claimed (`sending`, with a lease), then sent or failed. A failed row waits
for its next attempt (`next_attempt_at`) until its attempts run out; then it stays failed, in
view, with `next_attempt_at` empty. Case hand-offs and escalations (`deliveries`), the caller's
texts (`caller_messages`), miss alerts (`follow_up_alert_deliveries`) and advisories
(`advisory_deliveries`) share these columns and the
operations below; notifications/sending.py does the sending.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    exists,
    false,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.orm import Mapped, Session, aliased, mapped_column, relationship

from models.cases.lifecycle import Action
from models.cases.tables import Case, CaseEvent
from models.db import Base
from models.outbox import urgent_first
from models.reference.tables import Role, User
from models.times import utcnow

MAX_ATTEMPTS = 5  # a row still failing after this many sends is given up (and shown failed)
LEASE = timedelta(minutes=2)  # a sender that claimed a row and died frees it after this long
BACKOFF = (timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=10), timedelta(minutes=30))


class DeliveryStatus(StrEnum):
    pending = "pending"  # not sent yet: waits for next_attempt_at
    sending = "sending"  # claimed by one sender until claimed_until
    sent = "sent"
    failed = "failed"  # the last attempt failed: retried at next_attempt_at, or given up when that is empty


class Reason(StrEnum):
    """Why a case's delivery row was made: a hand-off goes to the first of its user's channels, in order."""

    first = "first"  # the hand-off, on the user's first channel
    every = "every"  # an emergency's alarm to the DMs and Collectors: on every channel at once
    fallback = "fallback"  # the channel before it refused the message: the next one, at once
    unseen = "unseen"  # an urgent message not acknowledged within its category's limit: the next channel
    stand_in = "stand_in"  # ... on none of them: the duty roster's next person
    escalated = "escalated"  # ... nor by the stand-in: the level above (the DMs; the Collectors for a DM)


CHASED = (Reason.first, Reason.fallback, Reason.unseen)  # the acting user's own rows, in their order

# The event kinds that hand a case to someone, and the role they hand it to: the hand-offs whose
# acknowledgement the dashboard counts (models/oversight/acknowledgement.py).
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


def is_hand_off(kind: str, role: str, reason: str) -> bool:
    """Whether a row carries the case to the one it now waits on (its event's kind, its user's role)."""
    return reason in CHASED and HANDS_TO.get(kind) == role


class MessageRow:
    """The columns every message row has: its status, attempts and the claim of its sender."""

    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.pending)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    sent_at: Mapped[datetime | None] = mapped_column()
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=utcnow, index=True)
    claimed_until: Mapped[datetime | None] = mapped_column()


class Delivery(MessageRow, Base):
    """One message to one channel of one user about one case event."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "user_id", "channel_key"),
        # The dashboard's acknowledgement figures: each hand-off step's row, by when it was sent, with
        # what they count (PostgreSQL reads it alone: a state's ten days are some 100,000 rows).
        Index(
            "ix_deliveries_hand_offs",
            "sent_at",
            postgresql_include=["user_id", "seen_at"],
            postgresql_where=text("hand_off AND status = 'sent'"),
            sqlite_where=text("hand_off AND status = 'sent'"),
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("case_events.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    channel_key: Mapped[str] = mapped_column(String(64))  # sha256 of the URL
    channel: Mapped[str] = mapped_column(String(500))  # the URL with secrets masked
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # When its user saw it: opened its one-tap link or pressed Seen (models/cases/seen.py).
    seen_at: Mapped[datetime | None] = mapped_column()
    reason: Mapped[str] = mapped_column(String(16), default=Reason.first, server_default=Reason.every)
    # The row carries a hand-off step (is_hand_off(), when made); once sent, only the step's row sent
    # first keeps the mark (finish()): the acknowledgement figures count each step once from these
    # rows alone, without a state's millions of events (migration 0021).
    hand_off: Mapped[bool] = mapped_column(default=False, server_default=false())
    # The row whose refusal or silence made this one (a fallback, the next channel, the stand-in, ...).
    follows_id: Mapped[int | None] = mapped_column(
        ForeignKey("deliveries.id", name="fk_deliveries_follows_id")
    )

    user: Mapped[User] = relationship()
    event: Mapped[CaseEvent] = relationship()


class CallerMessage(MessageRow, Base):
    """One text message to a person who called, about one step of their case (one per event and phone)."""

    __tablename__ = "caller_messages"
    __table_args__ = (UniqueConstraint("event_id", "phone"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("case_events.id"))
    phone: Mapped[str] = mapped_column(String(20))  # E.164, as the case holds it when planned
    language: Mapped[str] = mapped_column(String(8))
    channel: Mapped[str] = mapped_column(String(500), default="")  # the gateway URL, secrets masked
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    event: Mapped[CaseEvent] = relationship()


def channel_key(url: str) -> str:
    """A channel's key in delivery rows: the hash of its URL (which may hold secrets)."""
    return hashlib.sha256(url.encode()).hexdigest()[:32]


def claim(session: Session, model: type[MessageRow], row_id: int, now: datetime) -> bool:
    """Take the row for one send: true for exactly one of any number of racing senders.

    Claimable: not sent, and not held by another sender whose lease still runs. The caller
    commits before sending, so the claim is seen by every other process.
    """
    table = model.__table__  # type: ignore[attr-defined]
    result = session.execute(
        update(table)
        .where(
            table.c.id == row_id,
            table.c.status != DeliveryStatus.sent,
            or_(table.c.status != DeliveryStatus.sending, table.c.claimed_until < now),
        )
        .values(status=DeliveryStatus.sending, claimed_until=now + LEASE)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


def finish(session: Session, model: type[MessageRow], row_id: int, error: str, now: datetime) -> None:
    """Record the outcome of a claimed row's send: sent, or failed with its next attempt (if any)."""
    table = model.__table__  # type: ignore[attr-defined]
    row = session.execute(select(table.c.attempts).where(table.c.id == row_id)).one()
    attempts = row.attempts + 1
    if not error:
        values = {"status": DeliveryStatus.sent, "sent_at": now, "next_attempt_at": None, "last_error": ""}
    else:
        wait = BACKOFF[min(attempts, len(BACKOFF)) - 1]
        values = {
            "status": DeliveryStatus.failed,
            "last_error": error[:2000],
            "next_attempt_at": now + wait if attempts < MAX_ATTEMPTS else None,
        }
    session.execute(
        update(table)
        .where(table.c.id == row_id, table.c.status == DeliveryStatus.sending)
        .values(attempts=attempts, claimed_until=None, **values)
    )
    if not error and model is Delivery:
        one_mark_per_step(session, row_id)


def one_mark_per_step(session: Session, row_id: int) -> None:
    """A hand-off step sent on a second channel too (the first unseen) keeps its mark on the row sent
    first: the mark is taken off this one if another row of its step was sent before it."""
    other = aliased(Delivery)
    session.execute(
        update(Delivery)
        .where(
            Delivery.id == row_id,
            Delivery.hand_off.is_(True),
            exists().where(
                other.event_id == Delivery.event_id,
                other.user_id == Delivery.user_id,
                other.id != Delivery.id,
                other.hand_off.is_(True),
                other.status == DeliveryStatus.sent,
            ),
        )
        .values(hand_off=False)
        .execution_options(synchronize_session=False)
    )


def due_retries(session: Session, model: type[MessageRow], now: datetime, limit: int = 200) -> list[int]:
    """Rows whose next attempt is due: an urgent case's first, then the most overdue (a row given up
    has none)."""
    table = model.__table__  # type: ignore[attr-defined]
    query = select(table.c.id)
    urgency: list[Any] = []
    if "case_id" in table.c:  # a case's message: its urgency counts
        query = query.outerjoin(Case, Case.id == table.c.case_id)
        urgency = [urgent_first(Case.priority)]
    return list(
        session.scalars(
            query.where(
                table.c.next_attempt_at <= now,
                or_(
                    table.c.status.in_([DeliveryStatus.pending, DeliveryStatus.failed]),
                    (table.c.status == DeliveryStatus.sending) & (table.c.claimed_until < now),
                ),
            )
            .order_by(*urgency, table.c.next_attempt_at, table.c.id)
            .limit(limit)
        )
    )


def queue_again(session: Session, model: type[MessageRow], row_id: int, now: datetime) -> bool:
    """A person's *Send again*: the row's next attempt is now, with its attempts counted afresh.

    False when it was sent or is being sent meanwhile (two clicks queue one retry).
    """
    table = model.__table__  # type: ignore[attr-defined]
    result = session.execute(
        update(table)
        .where(table.c.id == row_id, table.c.status == DeliveryStatus.failed)
        .values(status=DeliveryStatus.pending, attempts=0, next_attempt_at=now)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]
