"""The follow-up list: a scheduled run at each of the day's call times (prefect.yaml schedules)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from prefect import flow, get_run_logger, task

from models.config import Settings
from models.db import get_sessionmaker
from models.homecare.followups import make_day_list
from models.homecare.register import discharge_ended
from models.homecare.schedule import list_due_at
from models.times import INDIA
from notifications.miss_alerts import deliver_alert, unsent_alerts


@task(retries=1, retry_delay_seconds=2)
def discharge_patients(today: date, now: datetime) -> int:
    """Discharge the patients whose isolation ended before today; their calls due are cancelled."""
    with get_sessionmaker(Settings.from_env().database_url).begin() as session:
        return discharge_ended(session, today, now)


# A run racing this one on the same slot loses on the unique key; its retry finds the rows made.
@task(retries=1, retry_delay_seconds=2)
def make_list(day: date, slot: str, due_at: datetime) -> int:
    """Add the slot's call for every patient in isolation on day, once; return how many were added."""
    with get_sessionmaker(Settings.from_env().database_url).begin() as session:
        return make_day_list(session, day, slot, due_at)


@task(retries=1, retry_delay_seconds=5)
def send_miss_alert(alert_id: int, now: datetime) -> int:
    """Tell the patient's Mitanin and the duty doctor (delivery rows keep each message to once)."""
    settings = Settings.from_env()
    return deliver_alert(get_sessionmaker(settings.database_url), alert_id, settings, now)


@flow(name="follow-up-list", log_prints=True)
def follow_up_list(
    slot: str | None = None,
    now: datetime | None = None,
    list_calls: bool = True,
    day: date | None = None,
) -> dict[str, int]:
    """Make the day's call list for one scheduled time, and send the miss alerts not yet sent.

    1. discharge_patients: isolation over (planned end before today, India time): discharged.
    2. make_list: one call per patient in isolation for `slot` ("HH:MM", India time) today,
       due at that time (at once for a list made before its time, on request: the follow-ups
       page); a second run for the same slot adds nothing.
    3. send_miss_alert: each alert recorded when a patient's misses in a row reached the limit
       and not sent yet (unsent_alerts: the longest waiting first, at most 100 a run). A message
       that fails is the send-retries flow's (flows/retries.py), at its due time.

    `slot` defaults to the time of `now`; `now` defaults to the current time. Tests pass both.
    `day` (India) defaults to today's: a list asked for late in the evening and started after
    midnight is still that evening's.
    With `list_calls` false (the frequent schedule) the run skips step 2: alerts go out within
    minutes of the miss that reached the limit, not at the next call time.
    """
    logger = get_run_logger()
    moment = now or datetime.now(UTC)
    local = moment.astimezone(INDIA)
    today, slot = local.date(), slot or local.strftime("%H:%M")
    discharged = discharge_patients(today, moment)
    listed = day or today
    added = make_list(listed, slot, list_due_at(listed, slot, moment)) if list_calls else 0
    with get_sessionmaker(Settings.from_env().database_url).begin() as session:
        waiting = unsent_alerts(session)
    failed = 0
    for alert_id in waiting:
        state = send_miss_alert(alert_id, moment, return_state=True)
        if not state.is_completed():
            failed += 1  # left to send-retries, or (nobody to tell yet) to the next run
            logger.warning("miss alert %s not sent: %s", alert_id, state.message)
    logger.info("%s %s: %s calls listed, %s discharged", today, slot, added, discharged)
    return {"listed": added, "discharged": discharged, "alerted": len(waiting) - failed, "failed": failed}
