"""The complaint flow's tasks. Each takes ids, opens its own session, and is safe to re-enter.

Results persist keyed on the task's name, the flow run and the inputs (not on
source: a code change while cases wait must not re-send notifications), so a
resumed run, which starts the flow again from the top, skips every task it
already completed. The name matters: INPUTS + RUN_ID alone gives two tasks
called with the same ids the same key, and the second returns the first's result.
"""

from __future__ import annotations

import hashlib
from typing import Any

from prefect import get_run_logger, task
from prefect.context import TaskRunContext

from models.case import Case, CaseEvent
from models.config import Settings
from models.db import get_sessionmaker
from models.lifecycle import Action
from notifications import deliver_event


def step_key(context: TaskRunContext, parameters: dict[str, Any]) -> str:
    """Cache key: task name, flow run id and inputs."""
    inputs = ",".join(f"{k}={parameters[k]!r}" for k in sorted(parameters))
    raw = f"{context.task.name}|{context.task_run.flow_run_id}|{inputs}"
    return hashlib.sha256(raw.encode()).hexdigest()


def _factory(settings: Settings):  # type: ignore[no-untyped-def]
    return get_sessionmaker(settings.database_url)


def _event_summary(case_id: int, event_id: int, expected: str) -> dict[str, Any]:
    settings = Settings.from_env()
    with _factory(settings).begin() as session:
        event = session.get_one(CaseEvent, event_id)
        case = session.get_one(Case, case_id)
        if event.case_id != case_id or event.kind not in expected.split("|"):
            raise ValueError(f"event {event_id} is not a {expected} of case {case.number}")
        return {
            "case": case.number,
            "event": event.kind,
            "by": event.by_user.username if event.by_user else "duty roster",
            "officer": event.officer.username if event.officer else None,
            "text": event.text,
            "at": event.created_at.isoformat(),
        }


@task(cache_key_fn=step_key, persist_result=True)
def log_complaint(case_id: int, event_id: int) -> dict[str, Any]:
    """Record in the run what the operator logged (a new complaint, or a closed case reopened)."""
    return _event_summary(case_id, event_id, f"opened|{Action.reopen_closed.value}")


@task(cache_key_fn=step_key, persist_result=True)
def assign_officer(case_id: int, event_id: int) -> dict[str, Any]:
    """Record the DM's assignment."""
    return _event_summary(case_id, event_id, Action.assign)


@task(cache_key_fn=step_key, persist_result=True)
def reject_complaint(case_id: int, event_id: int) -> dict[str, Any]:
    """Record the DM's rejection."""
    return _event_summary(case_id, event_id, Action.reject)


@task(cache_key_fn=step_key, persist_result=True)
def record_action(case_id: int, event_id: int) -> dict[str, Any]:
    """Record the officer's action and resolution."""
    return _event_summary(case_id, event_id, Action.resolve)


@task(cache_key_fn=step_key, persist_result=True)
def send_back(case_id: int, event_id: int) -> dict[str, Any]:
    """Record the officer's request for reassignment."""
    return _event_summary(case_id, event_id, Action.send_back)


@task(cache_key_fn=step_key, persist_result=True)
def confirm_closure(case_id: int, event_id: int) -> dict[str, Any]:
    """Record the Collector's confirmation."""
    return _event_summary(case_id, event_id, Action.confirm)


@task(cache_key_fn=step_key, persist_result=True)
def reopen_case(case_id: int, event_id: int) -> dict[str, Any]:
    """Record the Collector's reopening."""
    return _event_summary(case_id, event_id, Action.reopen)


@task(cache_key_fn=step_key, persist_result=True, retries=4, retry_delay_seconds=[2, 5, 15, 30])
def notify(case_id: int, event_id: int) -> int:
    """Send the event's notifications; rows already sent are never sent again."""
    settings = Settings.from_env()
    sent = deliver_event(_factory(settings), case_id, event_id, settings)
    get_run_logger().info("event %s: %s deliveries sent", event_id, sent)
    return sent


RECORD = {
    Action.assign: assign_officer,
    Action.reject: reject_complaint,
    Action.resolve: record_action,
    Action.send_back: send_back,
    Action.confirm: confirm_closure,
    Action.reopen: reopen_case,
}
