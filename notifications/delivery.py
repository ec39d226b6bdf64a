"""Delivery rows and sending. Every message is a row before it is sent, so nothing goes twice."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from urllib.parse import unquote

import apprise
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models.advisories.tables import AdvisoryDelivery
from models.cases.lifecycle import WAITING_ON, Action, State, Step
from models.cases.tables import Case, CaseEvent
from models.config import Settings
from models.homecare.tables import AlertDelivery
from models.messages import Delivery, DeliveryStatus
from models.oversight.tables import Audience
from models.reference.tables import Role, User
from models.times import INDIA, aware
from notifications.render import render

INVALID_URL = "invalid Apprise URL"
REFUSED = "the channel did not accept the message"


class DeliveryFailed(RuntimeError):
    """At least one channel did not accept the message."""


def recipients(session: Session, case: Case, event: CaseEvent) -> list[User]:
    """The users told about event: the next actor, and the operator at the end."""

    def role(r: Role) -> list[User]:
        return list(session.scalars(select(User).where(User.role == r, User.active.is_(True))))

    kind = event.kind
    if kind == "opened" and case.emergency:  # every DM and Collector, on every channel
        return [*role(Role.dm), *role(Role.collector)]
    if kind in ("opened", Action.send_back, Action.reopen_closed):
        return role(Role.dm)
    if kind in (Action.assign, Action.reopen):
        return [case.officer] if case.officer else []
    if kind == Action.resolve:
        return role(Role.collector)
    if kind == Action.reject:
        return [case.created_by, *role(Role.collector)]
    if kind == Action.confirm:
        return [case.created_by]
    if kind == "escalation" and event.escalation is not None:
        audience = event.escalation.audience
        if audience == Audience.assignee:  # whoever the case waits on
            if case.state == State.assigned:
                return [case.officer] if case.officer else []
            audience = Audience.dm if case.state == State.awaiting_assignment else Audience.collector
        return role(Role.dm if audience == Audience.dm else Role.collector)
    return []


def channel_key(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()[:32]


def masked(url: str) -> str:
    """The URL as shown to people: secrets masked by Apprise, options dropped."""
    plugin = apprise.Apprise.instantiate(url)
    if not plugin:
        return "(invalid URL)"
    return unquote(plugin.url(privacy=True).split("?", 1)[0])


def plan_deliveries(session: Session, case_id: int, event_id: int) -> list[int]:
    """Insert the delivery rows of an event (once) and return their ids."""
    case = session.get_one(Case, case_id)
    event = session.get_one(CaseEvent, event_id)
    existing = {
        (d.user_id, d.channel_key): d.id
        for d in session.scalars(select(Delivery).where(Delivery.event_id == event_id))
    }
    ids: list[int] = []
    seen: set[int] = set()
    for user in recipients(session, case, event):
        if user.id in seen:
            continue
        seen.add(user.id)
        for url in user.channel_urls:
            key = channel_key(url)
            if (user.id, key) in existing:
                ids.append(existing[(user.id, key)])
                continue
            delivery = Delivery(
                case_id=case_id,
                event_id=event_id,
                user_id=user.id,
                channel_key=key,
                channel=masked(url)[:500],
            )
            session.add(delivery)
            session.flush()
            ids.append(delivery.id)
    return ids


def prepared(url: str, seconds: float) -> str:
    """The URL with connect/read timeouts and plain-text format, unless it sets its own."""
    options = [f"cto={seconds:g}", f"rto={seconds:g}", "format=text"]
    missing = [o for o in options if f"{o.split('=')[0]}=" not in url]
    # Our messages are plain text; e-mail plugins otherwise send HTML and an
    # alternative text part with the line breaks collapsed.
    return f"{url}{'&' if '?' in url else '?'}{'&'.join(missing)}" if missing else url


def message_for(session: Session, delivery: Delivery, settings: Settings) -> tuple[str, str]:
    event = delivery.event
    case = session.get_one(Case, delivery.case_id)
    user = delivery.user
    hindi = user.language == "hi"
    return render(
        "emergency" if event.kind == "opened" and case.emergency else event.kind,
        user.language,
        case=case,
        event=event,
        user=user,
        category=(case.category.name_hi or case.category.name) if hindi else case.category.name,
        village=(case.village.name_hi or case.village.name) if hindi else case.village.name,
        link=f"{settings.public_url}/cases/{case.number}",
        district=settings.district_name,
        escalation=_escalation_facts(event, case),
    )


def _escalation_facts(event: CaseEvent, case: Case) -> dict[str, object] | None:
    """What an escalation message says: the rung, the step and its deadline (India time)."""
    if event.escalation is None or case.due_at is None:
        return None
    due = aware(case.due_at).astimezone(INDIA)
    return {
        "percent": event.escalation.rung.percent,
        "step": WAITING_ON.get(State(event.from_state or case.state), Step.dm).value,
        "due": due.strftime("%d %b %H:%M"),
        "overdue": event.escalation.rung.percent >= 100,
        "officer": case.officer.name if case.officer else "",
    }


def send_message(url: str, title: str, body: str, seconds: float) -> str:
    """Send one message to one Apprise URL; return "" when the channel took it, else why not."""
    # A fresh Apprise object per message: its e-mail plugin otherwise waits
    # 5.5 s between sends on one object (request_rate_per_sec).
    sender = apprise.Apprise()
    if not sender.add(prepared(url, seconds)):
        return INVALID_URL
    # Apprise swallows the plugin's exceptions and returns False.
    return "" if sender.notify(title=title, body=body) else REFUSED


def send_delivery(factory: sessionmaker, delivery_id: int, settings: Settings) -> bool:  # type: ignore[type-arg]
    """Send one delivery unless already sent; record the outcome. Return whether it is sent."""
    with factory.begin() as session:
        delivery = session.get_one(Delivery, delivery_id)
        if delivery.status == DeliveryStatus.sent:
            return True
        url = next((u for u in delivery.user.channel_urls if channel_key(u) == delivery.channel_key), None)
        title, body = message_for(session, delivery, settings)
    if url is None:
        error = "channel no longer configured for this user"
    else:
        error = send_message(url, title, body, settings.notify_timeout)
    ok = not error
    with factory.begin() as session:
        record_attempt(session.get_one(Delivery, delivery_id), error)
    return ok


def record_attempt(delivery: Delivery | AlertDelivery | AdvisoryDelivery, error: str) -> None:
    """Count one send attempt on a message's row (a case's, an alert's or an advisory's) and its outcome."""
    delivery.attempts += 1
    delivery.last_error = error
    if error:
        delivery.status = DeliveryStatus.failed
    else:
        delivery.status = DeliveryStatus.sent
        delivery.sent_at = datetime.now(UTC)


def deliver_event(factory: sessionmaker, case_id: int, event_id: int, settings: Settings) -> int:  # type: ignore[type-arg]
    """Plan and send an event's deliveries; return how many were sent.

    :raise DeliveryFailed: some channel failed (sent ones stay sent; a retry sends the rest).
    """
    with factory.begin() as session:
        ids = plan_deliveries(session, case_id, event_id)
    failed = [i for i in ids if not send_delivery(factory, i, settings)]
    if failed:
        raise DeliveryFailed(f"{len(failed)} of {len(ids)} deliveries failed: {failed}")
    return len(ids)
