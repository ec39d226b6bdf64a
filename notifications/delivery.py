"""A case event's messages: who is told, the delivery rows, the text; notifications/sending.py sends them."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from urllib.parse import unquote

import apprise
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models.access.act_links import act_url, make_token
from models.cases.lifecycle import WAITING_ON, Action, State, Step
from models.cases.tables import Case, CaseEvent
from models.config import ImproperlyConfigured, Settings
from models.homecare.wording import case_description
from models.messages import Delivery
from models.oversight.tables import Audience, Escalation
from models.reference.tables import Role, User
from models.times import when
from notifications.render import render
from notifications.sending import (
    Kind,
    Message,
    Unsendable,
    any_unsettled,
    failure,
    send_rows,
)


def recipients(session: Session, case: Case, event: CaseEvent) -> list[User]:
    """The users told about event: the next actor, and the operator at the end (`unreachable`: nobody)."""

    def role(r: Role) -> list[User]:
        return list(session.scalars(select(User).where(User.role == r, User.active.is_(True))))

    kind = event.kind
    if kind == "opened" and case.emergency:  # every DM and Collector, on every channel
        return [*role(Role.dm), *role(Role.collector)]
    if kind in ("opened", Action.send_back, Action.reopen_closed):
        return role(Role.dm)
    if kind in (Action.assign, Action.reopen):
        return [case.officer] if case.officer else []
    if kind == Action.resolve:  # a callback is due: the operators ring the caller
        return role(Role.operator)
    if kind == Action.satisfied:
        return role(Role.collector)
    if kind == Action.not_satisfied:  # back with the officer, and the DMs know the caller said no
        return [*([case.officer] if case.officer else []), *role(Role.dm)]
    if kind == Action.reject:
        return [case.created_by, *role(Role.collector)]
    if kind in (Action.confirm, Action.close_unverified):
        return [case.created_by]
    if kind == Action.merge:  # its officer need do nothing more: another case carries the problem
        return [case.officer] if case.officer else []
    if kind == Action.unmerge:  # the merge undone: whoever it waits on again
        return waiting_on(session, case)
    if kind == "escalation" and event.escalation is not None:
        audience = event.escalation.audience
        if audience == Audience.assignee:
            return waiting_on(session, case)
        return role(Role.dm if audience == Audience.dm else Role.collector)
    return []


def waiting_on(session: Session, case: Case) -> list[User]:
    """Whoever the case waits on: its officer, the operators (a call back), the DMs or the Collectors."""
    if case.state == State.assigned:
        return [case.officer] if case.officer else []
    roles = {
        State.callback: Role.operator,
        State.awaiting_assignment: Role.dm,
        State.resolved: Role.collector,
    }
    if case.state not in roles:
        return []
    return list(session.scalars(select(User).where(User.role == roles[case.state], User.active.is_(True))))


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


def compose(session: Session, delivery: Delivery, settings: Settings) -> Message:
    """The delivery's message in its user's language. :raise Unsendable: the user dropped the channel."""
    url = next((u for u in delivery.user.channel_urls if channel_key(u) == delivery.channel_key), None)
    if url is None:
        raise Unsendable("channel no longer configured for this user")
    event = delivery.event
    case = session.get_one(Case, delivery.case_id)
    user = delivery.user
    hindi = user.language == "hi"
    title, body = render(
        "emergency" if event.kind == "opened" and case.emergency else event.kind,
        user.language,
        case=case,
        event=event,
        user=user,
        category=(case.category.name_hi or case.category.name) if hindi else case.category.name,
        village=(case.village.name_hi or case.village.name) if hindi else case.village.name,
        link=f"{settings.public_url}/cases/{case.number}",
        district=settings.district_for(user.language),
        description=case_description(session, case, user.language),
        escalation=_escalation_facts(event, case, user.language),
        act_link=_act_link(session, case, user, settings),
    )
    return Message(url, title, body)


def _act_link(session: Session, case: Case, user: User, settings: Settings) -> str:
    """A one-tap link for the one the case waits on now, bound to its current step; "" for anyone else.

    Composed late (a retry after the case moved on), the message carries the link of the step it
    waits on now, or none: never one that takes a step already taken.
    """
    if all(u.id != user.id for u in waiting_on(session, case)):
        return ""
    try:
        secret = settings.signing_secret()
    except ImproperlyConfigured:
        # A worker without SECRET_KEY still sends the hand-off (with its case page link): the web
        # app, which refuses to start without one, could not open a link signed here anyway.
        return ""
    token = make_token(user.id, case.id, case.decisions, secret, datetime.now(UTC))
    return act_url(settings.public_url, token)


def _escalation_facts(event: CaseEvent, case: Case, language: str) -> dict[str, object] | None:
    """What an escalation message says: the rung, the step and its deadline (India time, as on the pages)."""
    if event.escalation is None or case.due_at is None:
        return None
    return {
        "percent": event.escalation.rung.percent,
        "step": WAITING_ON.get(State(event.from_state or case.state), Step.dm).value,
        "due": when(case.due_at, language),
        "overdue": event.escalation.rung.percent >= 100,
        "officer": case.officer.name if case.officer else "",
    }


def settle(session: Session, event_id: int, now: datetime) -> None:
    """An escalation event's deliveries all sent or given up (or none to send): mark it notified."""
    # Locked first: of two senders finishing its last two rows at once, the second sees the first's.
    escalation = session.scalar(
        select(Escalation)
        .where(Escalation.event_id == event_id, Escalation.notified_at.is_(None))
        .with_for_update()
    )
    if escalation is not None and not any_unsettled(session, Delivery, Delivery.event_id == event_id):
        escalation.notified_at = now


DELIVERIES = Kind(Delivery, compose, lambda session, row, now: settle(session, row.event_id, now))


def deliver_event(factory: sessionmaker, case_id: int, event_id: int, settings: Settings) -> int:  # type: ignore[type-arg]
    """Plan and send an event's deliveries; return how many were sent.

    :raise DeliveryFailed: some channel failed (sent ones stay sent; a retry sends the rest);
        GivenUp when those not sent have used up their attempts.
    """
    with factory.begin() as session:
        ids = plan_deliveries(session, case_id, event_id)
        settle(session, event_id, datetime.now(UTC))  # an escalation nobody is to be told of
    not_sent = send_rows(factory, DELIVERIES, ids, settings)
    if not_sent:
        with factory() as session:
            raise failure(f"event {event_id}", ids, not_sent, session, Delivery)
    return len(ids)


def deliver_escalation(factory: sessionmaker, escalation_id: int, settings: Settings) -> int:  # type: ignore[type-arg]
    """Send an escalation's messages unless it is notified; return how many were sent.

    :raise DeliveryFailed: as deliver_event.
    """
    with factory.begin() as session:
        escalation = session.get_one(Escalation, escalation_id)
        if escalation.notified_at is not None:
            return 0
        case_id, event_id = escalation.case_id, escalation.event_id
    return deliver_event(factory, case_id, event_id, settings)
