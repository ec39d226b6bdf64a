"""Miss alerts: a home-isolation patient stopped answering. The Mitanin gets an SMS (Settings.sms_url),
the duty doctor a message on each of their channels. Rows first, so nothing is sent twice."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models.config import Settings
from models.duty.roster import on_duty
from models.duty.tables import Duty
from models.homecare.tables import AlertDelivery, FollowUpAlert
from models.messages import DeliveryStatus
from notifications.delivery import DeliveryFailed, channel_key, masked, record_attempt, send_message
from notifications.render import render
from notifications.sms import sms_url

MITANIN, DOCTOR = "mitanin", "doctor"


def unsent_alerts(session: Session) -> list[int]:
    """Alerts whose messages are not all sent yet, oldest first."""
    query = select(FollowUpAlert.id).where(FollowUpAlert.notified_at.is_(None)).order_by(FollowUpAlert.id)
    return list(session.scalars(query))


def plan_alert(session: Session, alert_id: int, settings: Settings, now: datetime) -> list[int]:
    """The alert's delivery rows: made once (the doctor on duty at the first try), then reused."""
    planned = list(session.scalars(select(AlertDelivery.id).where(AlertDelivery.alert_id == alert_id)))
    if planned:
        return planned
    alert = session.get_one(FollowUpAlert, alert_id)
    targets: list[tuple[str, str, int | None, int | None]] = []
    mitanin = alert.patient.mitanin
    if mitanin is not None and mitanin.active and settings.sms_url:
        targets.append((MITANIN, sms_url(settings, mitanin.phone), None, mitanin.id))
    doctor = on_duty(session, Duty.doctor, now)
    if doctor is not None:
        targets += [(DOCTOR, url, doctor.id, None) for url in doctor.channel_urls]
    for recipient, url, user_id, contact_id in targets:
        delivery = AlertDelivery(
            alert_id=alert_id,
            recipient=recipient,
            user_id=user_id,
            contact_id=contact_id,
            channel_key=channel_key(url),
            channel=masked(url)[:500],
        )
        session.add(delivery)
        session.flush()
        planned.append(delivery.id)
    return planned


def _url_and_message(
    session: Session, delivery: AlertDelivery, settings: Settings
) -> tuple[str | None, str, str]:
    alert = delivery.alert
    patient = alert.patient
    if delivery.recipient == MITANIN:
        contact = delivery.contact
        url = sms_url(settings, contact.phone) if contact is not None and settings.sms_url else ""
        urls, language, link = [url] if url else [], "hi", ""  # Mitanins read Hindi and have no login
    else:
        user = delivery.user
        urls, language = (user.channel_urls if user else []), (user.language if user else "en")
        link = f"{settings.public_url}/patients/{patient.id}"
    hindi = language == "hi"
    title, body = render(
        "miss_alert",
        language,
        patient=patient,
        misses=alert.misses,
        village=(patient.village.name_hi or patient.village.name) if hindi else patient.village.name,
        mitanin=f"{patient.mitanin.name} ({patient.mitanin.phone})" if patient.mitanin else "",
        link=link,
        district=settings.district_name,
    )
    url = next((u for u in urls if channel_key(u) == delivery.channel_key), None)
    return url, title, body


def send_alert_delivery(factory: sessionmaker, delivery_id: int, settings: Settings) -> bool:  # type: ignore[type-arg]
    """Send one alert message unless already sent; record the outcome. Return whether it is sent."""
    with factory.begin() as session:
        delivery = session.get_one(AlertDelivery, delivery_id)
        if delivery.status == DeliveryStatus.sent:
            return True
        url, title, body = _url_and_message(session, delivery, settings)
    if url is None:
        error = "channel no longer configured"
    else:
        error = send_message(url, title, body, settings.notify_timeout)
    with factory.begin() as session:
        record_attempt(session.get_one(AlertDelivery, delivery_id), error)
    return not error


def deliver_alert(factory: sessionmaker, alert_id: int, settings: Settings, now: datetime) -> int:  # type: ignore[type-arg]
    """Plan and send an alert's messages; mark it notified once all are sent. Return how many.

    :raise DeliveryFailed: a channel failed, or nobody can be told yet (no Mitanin SMS, no doctor
    on duty); a later run tries again and never sends a message twice.
    """
    with factory.begin() as session:
        if session.get_one(FollowUpAlert, alert_id).notified_at is not None:
            return 0
        ids = plan_alert(session, alert_id, settings, now)
    if not ids:
        raise DeliveryFailed(f"alert {alert_id}: no Mitanin SMS and no doctor on duty to tell")
    failed = [i for i in ids if not send_alert_delivery(factory, i, settings)]
    if failed:
        raise DeliveryFailed(f"alert {alert_id}: {len(failed)} of {len(ids)} messages failed")
    with factory.begin() as session:
        session.get_one(FollowUpAlert, alert_id).notified_at = now
    return len(ids)
