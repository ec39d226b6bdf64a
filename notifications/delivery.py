"""A case event's messages: who is told, the delivery rows, the text; notifications/sending.py sends them."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import unquote

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session, sessionmaker

from models.access.act_links import act_url, make_token
from models.cases.lifecycle import WAITING_ON, Action, State, Step
from models.cases.seen import waiting_on
from models.cases.tables import Case, CaseEvent
from models.config import ImproperlyConfigured, Settings
from models.db import insert_unless_exists
from models.homecare.wording import case_description
from models.messages import Delivery, DeliveryStatus, Reason, channel_key, is_hand_off
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

# The message of a row that carries someone else's unacknowledged hand-off on (any other: its event's).
TEMPLATE = {Reason.stand_in: "stand_in", Reason.escalated: "unacknowledged"}


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


def masked(url: str) -> str:
    """The URL as shown to people: secrets masked by Apprise, options dropped."""
    import apprise  # here: the web app's processes hold Apprise only once a page shows a channel

    plugin = apprise.Apprise.instantiate(url)
    if not plugin:
        return "(invalid URL)"
    return unquote(plugin.url(privacy=True).split("?", 1)[0])


def plan_deliveries(session: Session, case_id: int, event_id: int) -> list[int]:
    """Insert the delivery rows of an event (once) and return the ids of its recipients' rows.

    Each recipient's message goes to the first of their channels (the others follow it only when it
    is refused, or, for an urgent case, not acknowledged); an emergency's alarm to the DMs and the
    Collectors goes to every channel at once. A recipient who has rows already keeps them.
    """
    case = session.get_one(Case, case_id)
    event = session.get_one(CaseEvent, event_id)
    existing: dict[int, list[int]] = {}
    for row in session.execute(
        select(Delivery.user_id, Delivery.id).where(Delivery.event_id == event_id).order_by(Delivery.id)
    ):
        existing.setdefault(row.user_id, []).append(row.id)
    alarm = event.kind == "opened" and case.emergency
    ids: list[int] = []
    for user in dict.fromkeys(recipients(session, case, event)):
        if user.id in existing:
            ids += existing[user.id]
            continue
        for url in user.channel_urls if alarm else user.channel_urls[:1]:
            row_id = plan_row(session, case_id, event_id, user, url, Reason.every if alarm else Reason.first)
            ids += [row_id] if row_id else []
    return ids


def plan_row(
    session: Session,
    case_id: int,
    event_id: int,
    user: User,
    url: str,
    reason: Reason,
    follows_id: int | None = None,
    now: datetime | None = None,
) -> int | None:
    """Add the event's row to user's channel `url` unless there is one; return its id (None: there was).

    `now` (the chase's clock) is when it was made: an unacknowledged row's wait is counted from then.
    """
    now = now or datetime.now(UTC)
    kind = session.get_one(CaseEvent, event_id).kind
    return session.scalar(
        insert_unless_exists(
            session,
            Delivery,
            [Delivery.event_id, Delivery.user_id, Delivery.channel_key],
            case_id=case_id,
            event_id=event_id,
            user_id=user.id,
            channel_key=channel_key(url),
            channel=masked(url)[:500],
            reason=reason,
            hand_off=is_hand_off(kind, user.role, reason),
            follows_id=follows_id,
            created_at=now,
            next_attempt_at=now,
        ).returning(Delivery.id)
    )


def pass_on(session: Session, row: Delivery) -> None:
    """A row's send failed: its user's next channel gets the message at once (unless they have it).

    Sent: the user's earlier channels that refused it are tried no more (they would repeat it).
    """
    if row.reason == Reason.every:
        return  # an alarm went to every channel already, and each is retried on its own
    mine = (Delivery.event_id == row.event_id) & (Delivery.user_id == row.user_id)
    if row.status == DeliveryStatus.sent:
        session.execute(
            update(Delivery)
            .where(mine, Delivery.status == DeliveryStatus.failed, Delivery.reason != Reason.every)
            .values(next_attempt_at=None)
            .execution_options(synchronize_session=False)
        )
        return
    if session.scalar(select(exists().where(mine, Delivery.status == DeliveryStatus.sent))):
        return
    urls = row.user.channel_urls
    keys = [channel_key(url) for url in urls]
    tried = set(session.scalars(select(Delivery.channel_key).where(mine)))
    # The channel after this one; or, when this one was dropped from the list, the first not tried.
    after = keys.index(row.channel_key) + 1 if row.channel_key in keys else 0
    following = next(
        (url for url, key in zip(urls[after:], keys[after:], strict=True) if key not in tried), None
    )
    if following is not None:
        plan_row(session, row.case_id, row.event_id, row.user, following, Reason.fallback, row.id)


def compose(session: Session, delivery: Delivery, settings: Settings) -> Message:
    """The delivery's message in its user's language. :raise Unsendable: the user dropped the channel."""
    url = next((u for u in delivery.user.channel_urls if channel_key(u) == delivery.channel_key), None)
    if url is None:
        raise Unsendable("channel no longer configured for this user")
    event = delivery.event
    case = session.get_one(Case, delivery.case_id)
    user = delivery.user
    hindi = user.language == "hi"
    kind = "emergency" if event.kind == "opened" and case.emergency else event.kind
    title, body = render(
        TEMPLATE.get(delivery.reason, kind),
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
        chain=_chain(session, delivery, hindi),
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


def _chain(session: Session, delivery: Delivery, hindi: bool) -> dict[str, object] | None:
    """For a stand-in's or the level above's message: who was told first, and when (India time)."""
    if delivery.reason not in TEMPLATE:
        return None
    first = session.scalars(
        select(Delivery).where(Delivery.event_id == delivery.event_id).order_by(Delivery.id).limit(1)
    ).one()
    sent = first.sent_at or first.created_at
    stand_in = session.scalars(
        select(Delivery).where(Delivery.event_id == delivery.event_id, Delivery.reason == Reason.stand_in)
    ).first()
    return {
        "first": first.user.name,
        "sent": when(sent, "hi" if hindi else "en"),
        "stand_in": stand_in.user.name if stand_in and stand_in.user_id != delivery.user_id else "",
    }


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


def _settled(session: Session, row: Delivery, now: datetime) -> None:
    pass_on(session, row)
    settle(session, row.event_id, now)


DELIVERIES = Kind(Delivery, compose, _settled)


def send_chain(factory: sessionmaker, event_id: int, ids: list[int], settings: Settings) -> list[int]:  # type: ignore[type-arg]
    """Send the rows `ids` of an event, then each row their refusals add (the next channels), at once.

    Return the rows not sent of every user among them who got the message on no channel.
    """
    with factory() as session:
        before = set(session.scalars(select(Delivery.id).where(Delivery.event_id == event_id))) - set(ids)
    tried: set[int] = set()
    batch = list(ids)
    while batch:
        send_rows(factory, DELIVERIES, batch, settings)
        tried.update(batch)
        with factory() as session:
            batch = [
                i
                for i in session.scalars(
                    select(Delivery.id).where(Delivery.event_id == event_id).order_by(Delivery.id)
                )
                if i not in tried and i not in before
            ]
    with factory() as session:
        rows = session.scalars(select(Delivery).where(Delivery.id.in_(tried))).all()
        reached = {r.user_id for r in rows if r.status == DeliveryStatus.sent}
        return [r.id for r in rows if r.user_id not in reached]


def deliver_event(factory: sessionmaker, case_id: int, event_id: int, settings: Settings) -> int:  # type: ignore[type-arg]
    """Plan and send an event's deliveries; return how many were sent.

    :raise DeliveryFailed: some channel failed (sent ones stay sent; a retry sends the rest);
        GivenUp when those not sent have used up their attempts.
    """
    with factory.begin() as session:
        ids = plan_deliveries(session, case_id, event_id)
        settle(session, event_id, datetime.now(UTC))  # an escalation nobody is to be told of
    not_sent = send_chain(factory, event_id, ids, settings)
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
