"""Sending a health advisory: one run per advisory, one task per patient's message."""

from __future__ import annotations

from datetime import UTC, datetime

from prefect import flow, get_run_logger, task
from prefect.task_runners import ThreadPoolTaskRunner

from models.advisories.sending import planned_deliveries
from models.config import Settings
from models.db import get_sessionmaker
from notifications.sms import send_advisory_delivery, settle

# Messages in flight at once: enough to get through a district's list in minutes,
# few enough not to trip an SMS gateway's rate limit.
SENDERS = 8


class MessageFailed(RuntimeError):
    """The gateway did not take one patient's message (the delivery row holds the error)."""


@task
def list_recipients(advisory_id: int) -> list[int]:
    """The advisory's delivery rows, frozen when the sender confirmed the reviewed list."""
    with get_sessionmaker(Settings.from_env().database_url).begin() as session:
        return planned_deliveries(session, advisory_id)


@task(retries=3, retry_delay_seconds=[10, 30, 60])
def send_message(delivery_id: int) -> int:
    """Send one patient's message; a sent one is never sent again, so retries are safe."""
    settings = Settings.from_env()
    if not send_advisory_delivery(get_sessionmaker(settings.database_url), delivery_id, settings):
        raise MessageFailed(f"delivery {delivery_id} failed")
    return delivery_id


@task
def mark_sent(advisory_id: int) -> None:
    """The advisory's sent_at, if every message is sent or given up (an advisory to nobody, too)."""
    with get_sessionmaker(Settings.from_env().database_url).begin() as session:
        settle(session, advisory_id, datetime.now(UTC))


@flow(
    name="send-advisory",
    flow_run_name="advisory-{advisory_id}",
    task_runner=ThreadPoolTaskRunner(max_workers=SENDERS),
    log_prints=True,
)
def send_advisory(advisory_id: int) -> dict[str, int]:
    """Send an advisory to each of its recipients.

    1. list_recipients: the delivery rows written with the advisory, one per patient the sender
       reviewed; a patient who came into isolation since gets nothing from this advisory.
    2. send_message: each row, in parallel, with retries; one bad phone fails its own task
       and is shown on the advisory's page, not the whole run.
    3. mark_sent: the advisory's sent_at, once every message is sent or given up; a message
       still failing is the send-retries flow's (flows/retries.py), and its last one sets it.
    """
    logger = get_run_logger()
    ids = list_recipients(advisory_id)
    futures = send_message.map(ids)
    futures.wait()
    failed = [i for i, f in zip(ids, futures, strict=True) if not f.state.is_completed()]
    mark_sent(advisory_id)
    if failed:
        logger.warning(
            "advisory %s: %s of %s messages failed: %s", advisory_id, len(failed), len(ids), failed
        )
    logger.info("advisory %s: %s sent, %s failed", advisory_id, len(ids) - len(failed), len(failed))
    return {"sent": len(ids) - len(failed), "failed": len(failed)}
