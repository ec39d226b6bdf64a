"""The escalation sweep: a scheduled run that walks overdue cases up the ladder."""

from __future__ import annotations

from datetime import UTC, datetime

from prefect import flow, get_run_logger, task
from sqlalchemy.exc import IntegrityError

from models.config import Settings
from models.db import get_sessionmaker
from models.oversight.escalation import Due, due_escalations, escalate
from notifications.delivery import deliver_escalation


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
    return deliver_escalation(get_sessionmaker(settings.database_url), escalation_id, settings)


@flow(name="escalation-sweep", log_prints=True)
def escalation_sweep(now: datetime | None = None) -> dict[str, int]:
    """Walk every open case up the escalation ladder.

    1. record_escalations: each rung a case has reached at its current step becomes a
       case event, once (models/oversight/escalation.py).
    2. notify_escalation: each escalation this sweep recorded goes to its audience. A message
       that still fails, or one an earlier sweep never planned, is the send-retries flow's
       (flows/retries.py), at its due time.

    `now` defaults to the current time; tests pass it to control the clock.
    """
    logger = get_run_logger()
    moment = now or datetime.now(UTC)
    made = record_escalations(moment)
    failed = 0
    for escalation_id in made:
        state = notify_escalation(escalation_id, return_state=True)
        if not state.is_completed():
            # Left to the send-retries flow; the case page shows the failed deliveries.
            failed += 1
            logger.warning("escalation %s: notifications failed: %s", escalation_id, state.message)
    logger.info("%s escalations recorded, %s notified, %s failed", len(made), len(made) - failed, failed)
    return {"recorded": len(made), "notified": len(made) - failed, "failed": failed}
