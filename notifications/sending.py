"""The one way a message row is sent: claimed, composed, sent through Apprise, its outcome recorded.

Every kind of message (a case event's deliveries, a miss alert's, an advisory's) brings a `Kind`:
its table, how one of its rows becomes a message, and what is marked once the last row of its
group is done. `send_row` does the rest, the same for all:

1. claim the row (models/messages.claim) and commit, so every other sender sees it taken; a row
   that is sent, given up, or held by another sender is left alone;
2. compose the message and send it with a fresh Apprise object;
3. record the outcome (models/messages.finish: sent, or failed with its next attempt) and let
   the kind mark its group when this was the group's last row.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session, sessionmaker

from models.config import Settings
from models.messages import LEASE, DeliveryStatus, MessageRow, claim, finish
from models.times import aware

INVALID_URL = "invalid Apprise URL"
REFUSED = "the channel did not accept the message"
WAIT = 0.5  # seconds between looks at a row another sender holds


class DeliveryFailed(RuntimeError):
    """At least one channel did not accept the message."""


class GivenUp(DeliveryFailed):
    """Every message not sent has used up its attempts: it waits for a person's Send again."""


class Unsendable(Exception):
    """The row cannot become a message (its channel is gone, SMS is not configured): a failed attempt."""


@dataclass(frozen=True)
class Message:
    url: str
    title: str
    body: str
    errors: dict[str, str] = field(default_factory=dict)  # our error texts in this channel's words


@dataclass(frozen=True)
class Kind:
    """One kind of message row: its table, how a row becomes a message, what its group's last row marks."""

    model: type[MessageRow]
    compose: Callable[[Session, Any, Settings], Message]  # :raise Unsendable:
    settle: Callable[[Session, Any, datetime], None]  # called with the row once its outcome is recorded


class Outcome(StrEnum):
    sent = "sent"  # by this call or an earlier one
    failed = "failed"  # this attempt failed: due again at next_attempt_at, or given up
    given_up = "given_up"  # not attempted: its attempts are used up until a person's Send again
    busy = "busy"  # not attempted: another sender holds it
    later = "later"  # not attempted: not due (another sender tried it since it was found due)


def prepared(url: str, seconds: float) -> str:
    """The URL with connect/read timeouts and plain-text format, unless it sets its own."""
    options = [f"cto={seconds:g}", f"rto={seconds:g}", "format=text"]
    missing = [o for o in options if f"{o.split('=')[0]}=" not in url]
    # Our messages are plain text; e-mail plugins otherwise send HTML and an
    # alternative text part with the line breaks collapsed.
    return f"{url}{'&' if '?' in url else '?'}{'&'.join(missing)}" if missing else url


def send_message(message: Message, seconds: float) -> str:
    """Send one message to its Apprise URL; return "" when the channel took it, else why not."""
    # A fresh Apprise object per message: its e-mail plugin otherwise waits
    # 5.5 s between sends on one object (request_rate_per_sec). Imported here: the web app's
    # processes, which import this module for its texts, seldom send (the launcher imports it once).
    import apprise

    sender = apprise.Apprise()
    if not sender.add(prepared(message.url, seconds)):
        error = INVALID_URL
    else:
        # Apprise swallows the plugin's exceptions and returns False.
        error = "" if sender.notify(title=message.title, body=message.body) else REFUSED
    return message.errors.get(error, error)


def unsettled(model: Any) -> Any:
    """Rows still to be sent: neither sent nor given up (failed with no next attempt)."""
    return or_(
        model.status.in_([DeliveryStatus.pending, DeliveryStatus.sending]),
        and_(model.status == DeliveryStatus.failed, model.next_attempt_at.is_not(None)),
    )


def any_unsettled(session: Session, model: Any, *where: Any) -> bool:
    """Whether a row of model matching `where` is still to be sent."""
    return bool(session.scalar(select(exists().where(*where, unsettled(model)))))


def _now() -> datetime:
    return datetime.now(UTC)


def send_row(
    factory: sessionmaker,  # type: ignore[type-arg]
    kind: Kind,
    row_id: int,
    settings: Settings,
    due: datetime | None = None,
) -> Outcome:
    """Send one message row unless it is sent, given up or held by another sender; record the outcome.

    With `due` (a retry), a row whose next attempt is later than that is left for then: another
    sender tried it since it was found due, and its backoff stands.
    """
    table = kind.model.__table__  # type: ignore[attr-defined]
    state = select(table.c.status, table.c.next_attempt_at, table.c.claimed_until).where(table.c.id == row_id)
    message, error = None, ""
    with factory.begin() as session:
        status, next_attempt_at, claimed_until = session.execute(state).one()
        if status == DeliveryStatus.sent:
            return Outcome.sent
        if status == DeliveryStatus.failed and next_attempt_at is None:
            return Outcome.given_up
        if status == DeliveryStatus.sending and claimed_until is not None and aware(claimed_until) > _now():
            # Not even tried: the holder may finish it (failed) before the claim below would run.
            return Outcome.busy
        if due is not None and next_attempt_at is not None and aware(next_attempt_at) > due:
            return Outcome.later
        if not claim(session, kind.model, row_id, _now()):
            return Outcome.sent if session.execute(state).one()[0] == DeliveryStatus.sent else Outcome.busy
        try:
            message = kind.compose(session, session.get_one(kind.model, row_id), settings)
        except Unsendable as exc:
            error = str(exc)
        except Exception as exc:  # noqa: BLE001 - a fault in one message must not hold up the rest
            error = f"could not write the message: {type(exc).__name__}: {exc}"
    # The claim is committed: no other sender takes the row while this one sends.
    if message is not None:
        try:
            error = send_message(message, settings.notify_timeout)
        except Exception as exc:  # noqa: BLE001 - recorded on the row, which is retried
            error = f"{type(exc).__name__}: {exc}"
    with factory.begin() as session:
        finish(session, kind.model, row_id, error, _now())
        kind.settle(session, session.get_one(kind.model, row_id), _now())
    return Outcome.failed if error else Outcome.sent


def send_rows(factory: sessionmaker, kind: Kind, ids: list[int], settings: Settings) -> list[int]:  # type: ignore[type-arg]
    """Send each row (send_row); return the ids not sent.

    A row another sender holds is waited for: it ends sent, or failed and taken again here, or
    its sender died and its lease runs out, and it is taken here. So a task retry racing another
    sender neither sends the row twice nor reports it failed while it goes out.
    """
    outcomes = {i: send_row(factory, kind, i, settings) for i in ids}
    deadline = time.monotonic() + LEASE.total_seconds() + 5
    while (busy := [i for i, o in outcomes.items() if o == Outcome.busy]) and time.monotonic() < deadline:
        time.sleep(WAIT)
        outcomes.update((i, send_row(factory, kind, i, settings)) for i in busy)
    return [i for i, o in outcomes.items() if o != Outcome.sent]


def failure(what: str, ids: list[int], not_sent: list[int], session: Session, model: Any) -> DeliveryFailed:
    """The error for rows not sent: GivenUp when every one has used up its attempts."""
    message = f"{what}: {len(not_sent)} of {len(ids)} messages not sent: {not_sent}"
    if not any_unsettled(session, model, model.id.in_(not_sent)):
        return GivenUp(f"{message} (attempts used up; Send again queues them)")
    return DeliveryFailed(message)
