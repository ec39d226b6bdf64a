"""Miss alerts: a home-isolation patient stopped answering. The Mitanin gets an SMS (Settings.sms_url),
the duty doctor a message on each of their channels. Rows first, so nothing is sent twice."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.orm import Session, sessionmaker

from models.config import Settings
from models.duty.roster import on_duty
from models.duty.tables import Duty
from models.homecare.tables import AlertDelivery, FollowUpAlert
from models.messages import channel_key
from notifications.delivery import masked
from notifications.render import render
from notifications.sending import DeliveryFailed, Kind, Message, Unsendable, any_unsettled, failure, send_rows
from notifications.sms import SMS_ERRORS, sms_url

MITANIN, DOCTOR = "mitanin", "doctor"


def unsent_alerts(session: Session, limit: int = 100) -> list[int]:
    """Alerts whose messages were never planned (nobody to tell yet, or not tried), the longest waiting first.

    Planned ones are sent, and retried at their due times, by their rows (flows/retries.py).
    """
    planned = exists().where(AlertDelivery.alert_id == FollowUpAlert.id)
    query = (
        select(FollowUpAlert.id)
        .where(FollowUpAlert.notified_at.is_(None), ~planned)
        .order_by(FollowUpAlert.created_at, FollowUpAlert.id)
        .limit(limit)
    )
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


def compose(session: Session, delivery: AlertDelivery, settings: Settings) -> Message:
    """The alert in its reader's language. :raise Unsendable: the channel or SMS_URL is gone."""
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
        district=settings.district_for(language),
    )
    url = next((u for u in urls if channel_key(u) == delivery.channel_key), None)
    if url is None:
        raise Unsendable("channel no longer configured")
    return Message(url, title, body, SMS_ERRORS if delivery.recipient == MITANIN else {})


def settle(session: Session, alert_id: int, now: datetime) -> None:
    """Every message of the alert sent or given up: mark it notified (an alert with none waits)."""
    # Locked first: of two senders finishing its last two rows at once, the second sees the first's.
    alert = session.scalar(
        select(FollowUpAlert)
        .where(FollowUpAlert.id == alert_id, FollowUpAlert.notified_at.is_(None))
        .with_for_update()
    )
    planned = exists().where(AlertDelivery.alert_id == alert_id)
    if (
        alert is not None
        and session.scalar(select(planned))
        and not any_unsettled(session, AlertDelivery, AlertDelivery.alert_id == alert_id)
    ):
        alert.notified_at = now


ALERTS = Kind(AlertDelivery, compose, lambda session, row, now: settle(session, row.alert_id, now))


def deliver_alert(factory: sessionmaker, alert_id: int, settings: Settings, now: datetime) -> int:  # type: ignore[type-arg]
    """Plan and send an alert's messages; it is marked notified once all are sent. Return how many.

    :raise DeliveryFailed: a channel failed (retried at its due time: flows/retries.py), or nobody
        can be told yet (no Mitanin SMS, no doctor on duty; a later run plans it again); GivenUp
        when those not sent have used up their attempts. No message is ever sent twice.
    """
    with factory.begin() as session:
        if session.get_one(FollowUpAlert, alert_id).notified_at is not None:
            return 0
        ids = plan_alert(session, alert_id, settings, now)
    if not ids:
        raise DeliveryFailed(f"alert {alert_id}: no Mitanin SMS and no doctor on duty to tell")
    not_sent = send_rows(factory, ALERTS, ids, settings)
    if not_sent:
        with factory() as session:
            raise failure(f"alert {alert_id}", ids, not_sent, session, AlertDelivery)
    return len(ids)
