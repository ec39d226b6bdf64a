"""The message retries: every message row due again is sent, the longest due first.

A scheduled run every minute (prefect.yaml), and one at once when a person presses *Send again*
(an outbox row of kind "retries"). Any number may run at a time: each row is claimed before it
is sent (notifications/sending.py), so none goes twice.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from functools import partial

from prefect import flow, get_run_logger, task
from sqlalchemy.exc import IntegrityError

from models.config import Settings
from models.db import get_sessionmaker
from models.messages import due_retries
from models.oversight.escalation import unnotified
from notifications.caller import CALLER_MESSAGES
from notifications.delivery import DELIVERIES, deliver_escalation
from notifications.miss_alerts import ALERTS, deliver_alert, unsent_alerts
from notifications.sending import DeliveryFailed, Kind, Outcome, send_row
from notifications.sms import ADVISORIES
from notifications.unseen import chase_unseen

# Rows (and never-planned escalations or alerts) taken per table and run, so a run stays bounded
# when every channel times out; the rest are the next run's, still the longest due first. Runs
# that overlap share the work: each row is claimed before it is sent.
LIMIT = 100
KINDS: dict[str, Kind] = {
    "deliveries": DELIVERIES,
    "callers": CALLER_MESSAGES,
    "alerts": ALERTS,
    "advisories": ADVISORIES,
}


@task
def send_unplanned(now: datetime, limit: int) -> dict[str, str]:
    """Plan and send the escalations and miss alerts whose messages were never planned; return failures."""
    settings = Settings.from_env()
    factory = get_sessionmaker(settings.database_url)
    with factory.begin() as session:
        work = [
            (f"escalation {i}", partial(deliver_escalation, factory, i, settings))
            for i in unnotified(session, limit)
        ] + [
            (f"miss alert {i}", partial(deliver_alert, factory, i, settings, now))
            for i in unsent_alerts(session, limit)
        ]
    failed: dict[str, str] = {}
    for name, deliver in work:
        try:
            deliver()
        except IntegrityError:
            pass  # a sweep or follow-up run planned it at the same moment; its rows go from there
        except DeliveryFailed as exc:
            failed[name] = str(exc)
    return failed


@task
def send_due(table: str, now: datetime, limit: int) -> dict[str, int]:
    """Send the table's rows due by `now`, the longest due first; count the outcomes."""
    settings = Settings.from_env()
    factory = get_sessionmaker(settings.database_url)
    kind = KINDS[table]
    with factory.begin() as session:
        due = due_retries(session, kind.model, now, limit)
    outcomes = Counter(send_row(factory, kind, row_id, settings, due=now).value for row_id in due)
    return {outcome.value: outcomes[outcome.value] for outcome in Outcome}


@task
def chase_unacknowledged(now: datetime) -> dict[str, int]:
    """Carry on each urgent hand-off not acknowledged in time: next channel, stand-in, the level above."""
    settings = Settings.from_env()
    return chase_unseen(get_sessionmaker(settings.database_url), now, settings)


@flow(name="send-retries", log_prints=True)
def send_retries(now: datetime | None = None, limit: int = LIMIT) -> dict[str, dict[str, int]]:
    """Send every message due again, and those never planned.

    1. send_unplanned: escalations and miss alerts whose messages were never planned (their
       run stopped first; for an alert, nobody could be told yet), the longest waiting first,
       at most `limit` of each: planned and sent.
    2. send_due, for case messages, miss alerts and advisories: each row whose next attempt is
       due (a failure's backoff, or a person's Send again), the longest due first, at most
       `limit`. A row failing after its last attempt is given up: shown failed on its page,
       no next attempt, until a person's Send again.
    3. chase_unacknowledged: an urgent case's hand-off nobody has seen within its category's
       acknowledgement limit goes out again on the next channel, then to the stand-in, then to
       the level above (models/oversight/unseen.py), each once.

    `now` defaults to the current time; tests pass it to control the clock.
    """
    logger = get_run_logger()
    moment = now or datetime.now(UTC)
    for item, error in send_unplanned(moment, limit).items():
        logger.warning("%s: %s", item, error)
    sent = {table: send_due(table, moment, limit) for table in KINDS}
    for table, outcomes in sent.items():
        if outcomes[Outcome.failed]:
            logger.warning("%s: %s messages failed again", table, outcomes[Outcome.failed])
    logger.info("due messages: %s", sent)
    chased = chase_unacknowledged(moment)
    if chased["made"]:
        logger.warning("unacknowledged hand-offs carried on: %s", chased)
    return {**sent, "unacknowledged": chased}
