"""The complaint flow's tasks. Each takes ids, opens its own session, and is safe to re-enter.

Results persist keyed on the task's name, the flow run and the inputs (not on
source: a code change while cases wait must not re-send notifications), so a
resumed run, which starts the flow again from the top, skips every task it
already completed (flows/complaint.py does not even call it again: `completed`).
The name matters: INPUTS + RUN_ID alone gives two tasks called with the same ids
the same key, and the second returns the first's result.
"""

from __future__ import annotations

import hashlib
from typing import Any

from prefect import Task, get_run_logger, task
from prefect.client.schemas.objects import State, TaskRun
from prefect.context import TaskRunContext
from prefect.results import get_result_store
from sqlalchemy import select

from models.cases.lifecycle import Action
from models.cases.tables import Case, CaseEvent
from models.config import Settings
from models.db import get_sessionmaker
from notifications import DeliveryFailed, GivenUp, deliver_event
from notifications.caller import tell_caller


def step_key(context: TaskRunContext, parameters: dict[str, Any]) -> str:
    """Cache key: task name, flow run id and inputs."""
    return cache_key(context.task.name, context.task_run.flow_run_id, parameters)


def cache_key(task_name: str, flow_run_id: object, parameters: dict[str, Any]) -> str:
    inputs = ",".join(f"{k}={parameters[k]!r}" for k in sorted(parameters))
    raw = f"{task_name}|{flow_run_id}|{inputs}"
    return hashlib.sha256(raw.encode()).hexdigest()


async def completed(record: Task[..., Any], flow_run_id: object, case_id: int, event_id: int) -> bool:
    """Whether the step's task completed in an earlier process of this run: its result is stored under
    its cache key, which is all Prefect's cache looks at. A replay need not call it again (that makes a
    task run, "Cached", and its events, ~0.1 s a step); a task that failed has no result and runs again.
    """
    key = cache_key(record.name, flow_run_id, {"case_id": case_id, "event_id": event_id})
    store = await get_result_store().aupdate_for_task(record)
    return await store.aexists(key)


def _factory(settings: Settings):  # type: ignore[no-untyped-def]
    return get_sessionmaker(settings.database_url)


class WrongEvent(ValueError):
    """The decision's event is not the one this step records: a fault no retry mends."""


def _record_and_notify(case_id: int, event_id: int, expected: str) -> dict[str, Any]:
    """Check the event, send its notifications (rows already sent are never sent again), return both."""
    settings = Settings.from_env()
    with _factory(settings).begin() as session:
        event = session.get_one(CaseEvent, event_id)
        case = session.get_one(Case, case_id)
        if event.case_id != case_id or (expected != "*" and event.kind not in expected.split("|")):
            raise WrongEvent(f"event {event_id} is not a {expected} of case {case.number}")
        summary = {
            "case": case.number,
            "event": event.kind,
            "by": event.by_user.username if event.by_user else "duty roster",
            "officer": event.officer.username if event.officer else None,
            "text": event.text,
            "at": event.created_at.isoformat(),
        }
    # The office first, then the caller; a failure of either is raised after both were tried, so a
    # retry sends what is left and nothing twice.
    failed: DeliveryFailed | None = None
    try:
        summary["sent"] = deliver_event(_factory(settings), case_id, event_id, settings)
    except DeliveryFailed as exc:
        failed = exc
    summary["caller"] = tell_caller(_factory(settings), case_id, event_id, settings)
    if failed is not None:
        raise failed
    get_run_logger().info(
        "%s %s: %s deliveries sent, %s to the caller",
        summary["case"],
        summary["event"],
        summary["sent"],
        summary["caller"],
    )
    return summary


def _retry_unless_hopeless(task: Task[Any, Any], run: TaskRun, state: State[Any]) -> bool:
    # A wrong event is a fault; a message given up waits for a person's Send again.
    return not isinstance(state.result(raise_on_failure=False), WrongEvent | GivenUp)


# One task per step: it records the step in the run and sends its notifications. A
# notification that still fails after the retries fails the task, not the case (the
# flow goes on; its delivery rows show the failure; the send-retries flow sends the
# rest at their due times, flows/retries.py).
step = task(
    cache_key_fn=step_key,
    persist_result=True,
    retries=4,
    retry_delay_seconds=[2, 5, 15, 30],
    retry_condition_fn=_retry_unless_hopeless,
)


@step
def log_complaint(case_id: int, event_id: int) -> dict[str, Any]:
    """The operator's complaint (or a closed case reopened): tell the DMs.

    An emergency was handed to the duty officer in the same transaction: that officer is told
    first, before the DMs and Collectors (the assign step later finds those messages sent).
    """
    _tell_duty_officer_first(case_id)
    return _record_and_notify(case_id, event_id, f"opened|{Action.reopen_closed.value}")


def _tell_duty_officer_first(case_id: int) -> None:
    settings = Settings.from_env()
    with _factory(settings)() as session:
        case = session.get_one(Case, case_id)
        duty = None
        if case.emergency:
            duty = session.scalar(
                select(CaseEvent.id)
                .where(CaseEvent.case_id == case_id, CaseEvent.kind == Action.assign)
                .where(CaseEvent.by_user_id.is_(None))  # the duty roster's assignment
                .order_by(CaseEvent.id)
                .limit(1)
            )
    if duty is None:
        return
    try:
        deliver_event(_factory(settings), case_id, duty, settings)
    except DeliveryFailed as exc:  # the assign step sends what is left, with its own retries
        get_run_logger().warning("the duty officer's message for case %s failed: %s", case_id, exc)


@step
def rejoin_case(case_id: int, event_id: int) -> dict[str, Any]:
    """A new run for a case whose old run could not go on: the latest event's messages not yet sent."""
    return _record_and_notify(case_id, event_id, "*")


@step
def assign_officer(case_id: int, event_id: int) -> dict[str, Any]:
    """The DM's assignment: tell the officer."""
    return _record_and_notify(case_id, event_id, Action.assign)


@step
def reject_complaint(case_id: int, event_id: int) -> dict[str, Any]:
    """The DM's rejection: tell the operator and the Collectors."""
    return _record_and_notify(case_id, event_id, Action.reject)


@step
def record_action(case_id: int, event_id: int) -> dict[str, Any]:
    """The officer's action and resolution: tell the operators, a callback to the caller is due."""
    return _record_and_notify(case_id, event_id, Action.resolve)


@step
def send_back(case_id: int, event_id: int) -> dict[str, Any]:
    """The officer's request for reassignment: tell the DMs."""
    return _record_and_notify(case_id, event_id, Action.send_back)


@step
def caller_satisfied(case_id: int, event_id: int) -> dict[str, Any]:
    """The caller, rung back, says it is resolved (with a rating): tell the Collector."""
    return _record_and_notify(case_id, event_id, Action.satisfied)


@step
def caller_not_satisfied(case_id: int, event_id: int) -> dict[str, Any]:
    """The caller, rung back, says it is not resolved: tell the officer and the DMs."""
    return _record_and_notify(case_id, event_id, Action.not_satisfied)


@step
def caller_unreachable(case_id: int, event_id: int) -> dict[str, Any]:
    """One unanswered try to ring the caller back (each its own event): nobody is told."""
    return _record_and_notify(case_id, event_id, Action.unreachable)


@step
def close_unverified(case_id: int, event_id: int) -> dict[str, Any]:
    """The Collector's closure after the tries went unanswered: tell the operator, and the caller why."""
    return _record_and_notify(case_id, event_id, Action.close_unverified)


@step
def confirm_closure(case_id: int, event_id: int) -> dict[str, Any]:
    """The Collector's confirmation: tell the operator."""
    return _record_and_notify(case_id, event_id, Action.confirm)


@step
def reopen_case(case_id: int, event_id: int) -> dict[str, Any]:
    """The Collector's reopening: tell the officer."""
    return _record_and_notify(case_id, event_id, Action.reopen)


@step
def merge_case(case_id: int, event_id: int) -> dict[str, Any]:
    """The DM's or the Collector's merge into another case: tell its officer they need not act, and its
    callers the number that carries their problem now."""
    return _record_and_notify(case_id, event_id, Action.merge)


RECORD = {
    Action.assign: assign_officer,
    Action.reject: reject_complaint,
    Action.resolve: record_action,
    Action.send_back: send_back,
    Action.satisfied: caller_satisfied,
    Action.not_satisfied: caller_not_satisfied,
    Action.unreachable: caller_unreachable,
    Action.close_unverified: close_unverified,
    Action.confirm: confirm_closure,
    Action.reopen: reopen_case,
    Action.merge: merge_case,
}
