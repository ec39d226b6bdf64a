"""Text messages to patients' phones through the SMS gateway (SMS_URL), and the advisories' starting texts."""

from __future__ import annotations

from urllib.parse import quote

from sqlalchemy.orm import sessionmaker

from models.advisories.tables import Advisory, AdvisoryDelivery
from models.config import Settings
from models.messages import DeliveryStatus
from notifications.delivery import INVALID_URL, REFUSED, masked, record_attempt, send_message
from notifications.render import LANGUAGES, TEMPLATES

ADVISORY_TEMPLATES = TEMPLATES / "advisory"


class SmsNotConfigured(RuntimeError):
    """SMS_URL is empty: there is no gateway to send text messages through."""


def sms_url(settings: Settings, phone: str) -> str:
    """The gateway's Apprise URL for one phone. :raise SmsNotConfigured: SMS_URL is empty."""
    if not settings.sms_url:
        raise SmsNotConfigured("SMS is not configured (SMS_URL)")
    # Quoted, so the "+" of an E.164 number is not read as a space in a URL's query.
    # replace(), not format(): a gateway URL may hold other braces (a JSON template).
    return settings.sms_url.replace("{phone}", quote(phone, safe=""))


def send_sms(settings: Settings, phone: str, body: str, title: str = "") -> str:
    """Send one text to one phone; return "" when the gateway took it, else the error."""
    error = send_message(sms_url(settings, phone), title, body, settings.notify_timeout)
    return {
        INVALID_URL: "invalid Apprise URL in SMS_URL",
        REFUSED: "the SMS gateway did not accept the message",
    }.get(error, error)


def send_advisory_delivery(factory: sessionmaker, delivery_id: int, settings: Settings) -> bool:  # type: ignore[type-arg]
    """Send one patient's advisory unless already sent; record the outcome. Return whether it is sent."""
    with factory.begin() as session:
        delivery = session.get_one(AdvisoryDelivery, delivery_id)
        if delivery.status == DeliveryStatus.sent:
            return True
        advisory = session.get_one(Advisory, delivery.advisory_id)
        phone, title, body = delivery.phone, advisory.title, advisory.body
    channel = ""
    try:
        channel = masked(sms_url(settings, phone))
        error = send_sms(settings, phone, body, title=title)
    except SmsNotConfigured as exc:
        error = str(exc)
    with factory.begin() as session:
        delivery = session.get_one(AdvisoryDelivery, delivery_id)
        delivery.channel = channel[:500]
        record_attempt(delivery, error)
    return not error


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
