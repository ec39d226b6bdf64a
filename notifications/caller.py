"""Text messages to the person who called: their case number and link, who has it, and its closure.

One message row per case event the caller hears of (CALLER_TEXTS), planned once and sent once like
every other message (notifications/sending.py), through the SMS gateway (SMS_URL). The texts are
fixed, with the case number, the department and the link as their only variables (and a closure
without the caller's word, the Collector's reason), so that an Indian SMS gateway's registered (DLT)
templates can match them; templates/<language>/caller_<step>.txt.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models.cases.callers import told_of
from models.cases.public import status_token
from models.cases.tables import Case, CaseEvent
from models.config import Settings
from models.db import insert_unless_exists
from models.messages import CallerMessage
from notifications.delivery import masked
from notifications.render import render
from notifications.sending import Kind, Message, Unsendable, failure, send_rows
from notifications.sms import SMS_ERRORS, SmsNotConfigured, sms_url

# Event kind -> the caller's text (templates/<language>/caller_<text>.txt).
CALLER_TEXTS = {
    "opened": "opened",
    "caller_added": "opened",  # one more caller about the same problem: its number
    "assign": "assigned",
    "resolve": "resolved",
    "confirm": "closed",
    "close_unverified": "forced_closed",  # the callback's tries went unanswered: the Collector's reason
    "reject": "rejected",
    "merge": "merged",  # handled together with another case: its number (the event's text)
    "unmerge": "unmerged",  # the merge undone: their own number again
}


def status_link(settings: Settings, number: str) -> str:
    """The caller's own link to their case's status page (webapp/public.py), signed."""
    return f"{settings.public_url}/status/{status_token(number, settings.signing_secret())}"


def plan_caller_messages(session: Session, case_id: int, event_id: int, settings: Settings) -> list[int]:
    """The callers' message rows for this event (each made once): the case's own caller and those
    attached to it (models/cases/callers.told_of).

    None when the event is not one callers hear of, or the district has no SMS gateway.
    """
    event = session.get_one(CaseEvent, event_id)
    if event.kind not in CALLER_TEXTS or not settings.sms_url:
        return []
    case = session.get_one(Case, case_id)
    for phone, language in told_of(session, case, event):
        # ON CONFLICT DO NOTHING on (event, phone): a retried or replayed step plans each once.
        session.execute(
            insert_unless_exists(
                session,
                CallerMessage,
                [CallerMessage.event_id, CallerMessage.phone],
                case_id=case_id,
                event_id=event_id,
                phone=phone,
                language=language,
                channel="",
                status="pending",
                attempts=0,
                last_error="",
            )
        )
    query = select(CallerMessage.id).where(CallerMessage.event_id == event_id).order_by(CallerMessage.id)
    return list(session.scalars(query))


def compose(session: Session, row: CallerMessage, settings: Settings) -> Message:
    """The caller's text in their language. :raise Unsendable: SMS_URL is empty."""
    try:
        url = sms_url(settings, row.phone)
    except SmsNotConfigured as exc:
        raise Unsendable(str(exc)) from exc
    row.channel = masked(url)[:500]
    case = session.get_one(Case, row.case_id)
    department = case.category.department
    hindi = row.language == "hi"
    title, body = render(
        f"caller_{CALLER_TEXTS[row.event.kind]}",
        row.language,
        number=case.number,
        department=(department.name_hi or department.name) if hindi else department.name,
        link=status_link(settings, case.number or ""),
        district=settings.district_for(row.language),
        reason=row.event.text,
        other=row.event.text,  # a merge's: the case that carries the problem
        other_link=status_link(settings, row.event.text) if row.event.kind == "merge" else "",
    )
    return Message(url, title, body, SMS_ERRORS)


def _settle(session: Session, row: CallerMessage, now: datetime) -> None:
    """Nothing waits on the caller's messages as a group."""


CALLER_MESSAGES = Kind(CallerMessage, compose, _settle)


def tell_caller(factory: sessionmaker, case_id: int, event_id: int, settings: Settings) -> int:  # type: ignore[type-arg]
    """Plan and send the callers' messages about this event; return how many were sent.

    :raise DeliveryFailed: the gateway did not take it (a retry sends it; it is never sent twice).
    """
    with factory.begin() as session:
        ids = plan_caller_messages(session, case_id, event_id, settings)
    not_sent = send_rows(factory, CALLER_MESSAGES, ids, settings)
    if not_sent:
        with factory() as session:
            raise failure(f"caller's text about event {event_id}", ids, not_sent, session, CallerMessage)
    return len(ids)
