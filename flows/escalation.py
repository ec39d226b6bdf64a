"""The escalation sweep: a scheduled run that walks overdue cases up the ladder."""

from __future__ import annotations

from datetime import UTC, datetime

from prefect import flow, get_run_logger, task
from sqlalchemy.exc import IntegrityError

from models.config import Settings
from models.db import get_sessionmaker
from models.oversight.escalation import Due, due_escalations, escalate, unnotified
from models.oversight.tables import Escalation
from notifications import deliver_event


@task
def record_escalations(now: datetime) -> list[int]:
    """Record every rung reached by `now` as a case event, each once; return the new escalations."""
    factory = get_sessionmaker(Settings.from_env().database_url)
    with factory.begin() as session:
        due = due_escalations(session, now)
    made: list[int] = []
    for item in due:
        made += _escalate_one(factory, item, now)
    return made


def _escalate_one(factory, item: Due, now: datetime) -> list[int]:  # type: ignore[no-untyped-def]
    # One transaction per rung: a sweep racing this one on the same rung loses on the
    # unique key and leaves it to the winner, without undoing the other rungs.
    try:
        with factory.begin() as session:
            escalation = escalate(session, item, now)
            return [escalation.id] if escalation else []
    except IntegrityError:
        return []


@task(retries=2, retry_delay_seconds=[5, 15])
def notify_escalation(escalation_id: int) -> int:
    """Send an escalation's messages (delivery rows keep any of them from going twice)."""
    settings = Settings.from_env()
    factory = get_sessionmaker(settings.database_url)
    with factory.begin() as session:
        escalation = session.get_one(Escalation, escalation_id)
        if escalation.notified_at is not None:
            return 0
        case_id, event_id = escalation.case_id, escalation.event_id
    sent = deliver_event(factory, case_id, event_id, settings)
    with factory.begin() as session:
        session.get_one(Escalation, escalation_id).notified_at = datetime.now(UTC)
    return sent


@flow(name="escalation-sweep", log_prints=True)
def escalation_sweep(now: datetime | None = None) -> dict[str, int]:
    """Walk every open case up the escalation ladder.

    1. record_escalations: each rung a case has reached at its current step becomes a
       case event, once (models/oversight/escalation.py).
    2. notify_escalation: each escalation not yet notified, this sweep's and any an
       earlier sweep failed to send, goes to its audience.

    `now` defaults to the current time; tests pass it to control the clock.
    """
    logger = get_run_logger()
    moment = now or datetime.now(UTC)
    made = record_escalations(moment)
    with get_sessionmaker(Settings.from_env().database_url).begin() as session:
        waiting = unnotified(session)
    failed = 0
    for escalation_id in waiting:
        state = notify_escalation(escalation_id, return_state=True)
        if not state.is_completed():
            # Left for the next sweep; the case page shows the failed deliveries.
            failed += 1
            logger.warning("escalation %s: notifications failed: %s", escalation_id, state.message)
    logger.info("%s escalations recorded, %s notified, %s failed", len(made), len(waiting) - failed, failed)
    return {"recorded": len(made), "notified": len(waiting) - failed, "failed": failed}
