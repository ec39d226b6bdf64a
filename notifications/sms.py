"""Text messages to patients' phones through the SMS gateway (SMS_URL), and the advisories' starting texts."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models.advisories.tables import Advisory, AdvisoryDelivery
from models.config import Settings
from notifications.delivery import masked
from notifications.render import LANGUAGES, TEMPLATES
from notifications.sending import INVALID_URL, REFUSED, Kind, Message, Unsendable, any_unsettled, send_rows

ADVISORY_TEMPLATES = TEMPLATES / "advisory"
SMS_ERRORS = {
    INVALID_URL: "invalid Apprise URL in SMS_URL",
    REFUSED: "the SMS gateway did not accept the message",
}


class SmsNotConfigured(RuntimeError):
    """SMS_URL is empty: there is no gateway to send text messages through."""


def sms_url(settings: Settings, phone: str) -> str:
    """The gateway's Apprise URL for one phone. :raise SmsNotConfigured: SMS_URL is empty."""
    if not settings.sms_url:
        raise SmsNotConfigured("SMS is not configured (SMS_URL)")
    # Quoted, so the "+" of an E.164 number is not read as a space in a URL's query.
    # replace(), not format(): a gateway URL may hold other braces (a JSON template).
    return settings.sms_url.replace("{phone}", quote(phone, safe=""))


def compose(session: Session, delivery: AdvisoryDelivery, settings: Settings) -> Message:
    """The advisory's text to the patient's phone. :raise Unsendable: SMS_URL is empty."""
    advisory = session.get_one(Advisory, delivery.advisory_id)
    try:
        url = sms_url(settings, delivery.phone)
    except SmsNotConfigured as exc:
        raise Unsendable(str(exc)) from exc
    delivery.channel = masked(url)[:500]
    return Message(url, advisory.title, advisory.body, SMS_ERRORS)


def settle(session: Session, advisory_id: int, now: datetime) -> None:
    """Every message of the advisory sent or given up (or none to send): its sent_at."""
    # Locked first: of two senders finishing its last two rows at once, the second sees the first's.
    advisory = session.scalar(
        select(Advisory).where(Advisory.id == advisory_id, Advisory.sent_at.is_(None)).with_for_update()
    )
    if advisory is not None and not any_unsettled(
        session, AdvisoryDelivery, AdvisoryDelivery.advisory_id == advisory_id
    ):
        advisory.sent_at = now


ADVISORIES = Kind(AdvisoryDelivery, compose, lambda session, row, now: settle(session, row.advisory_id, now))


def send_advisory_delivery(factory: sessionmaker, delivery_id: int, settings: Settings) -> bool:  # type: ignore[type-arg]
    """Send one patient's advisory (notifications/sending.py); whether it is sent, now or before."""
    return not send_rows(factory, ADVISORIES, [delivery_id], settings)


def advisory_template_names() -> list[str]:
    """The starting texts an advisory can begin from (file names under templates/advisory/en)."""
    return sorted(p.stem for p in (ADVISORY_TEMPLATES / "en").glob("*.txt"))


def advisory_text(name: str, language: str) -> tuple[str, str]:
    """(title, text) of a starting text in language; the first line is the title.

    :raise KeyError: no such template.
    """
    if name not in advisory_template_names():
        raise KeyError(name)
    language = language if language in LANGUAGES else "en"
    # Plain text, not Jinja: the operator fills in the [bracketed] parts before sending.
    text = (ADVISORY_TEMPLATES / language / f"{name}.txt").read_text(encoding="utf-8").strip()
    title, _, body = text.partition("\n")
    return title.strip(), body.strip()
