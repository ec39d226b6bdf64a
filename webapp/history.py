"""The Collector's history as business steps: who decided what, who was told, and the engine in one line.

Each case event is a step; under it go the deliveries it caused (who was told, on which channel,
whether it arrived) and the task run of the complaint flow that recorded it, if the run history
has one. The engine's full detail (every run state and task run, webapp/runs.merge_timeline) is
one click away; here its names are labelled for a person to read.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flask import render_template
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from models.cases.tables import Case, CaseEvent
from models.messages import CallerMessage, Delivery, DeliveryStatus
from models.times import aware as as_utc
from webapp.runs import RunHistory, merge_timeline

# Prefect's state names (prefect/states.py) for runs and task runs; a name not here falls back
# to its state type's label, then to the name itself.
STATE_LABELS = {
    "Scheduled": _l("Scheduled"),
    "Late": _l("Late to start"),
    "Resuming": _l("Resuming with a decision"),
    "AwaitingRetry": _l("Waiting to try again"),
    "AwaitingConcurrencySlot": _l("Waiting for a free slot"),
    "Pending": _l("Waiting to start"),
    "Submitting": _l("Being handed to a worker"),
    "InfrastructurePending": _l("Waiting for a worker"),
    "NotReady": _l("Waiting for an earlier step"),
    "Running": _l("Running"),
    "Retrying": _l("Trying again"),
    "Paused": _l("Paused"),
    "Suspended": _l("Waiting for a decision"),
    "Completed": _l("Completed"),
    "Cached": _l("Already done (replayed)"),
    "RolledBack": _l("Rolled back"),
    "Failed": _l("Failed"),
    "TimedOut": _l("Timed out"),
    "Crashed": _l("Crashed"),
    "Cancelling": _l("Being cancelled"),
    "Cancelled": _l("Cancelled"),
}
STATE_TYPES = {
    "SCHEDULED": "Scheduled",
    "PENDING": "Pending",
    "RUNNING": "Running",
    "PAUSED": "Paused",
    "COMPLETED": "Completed",
    "FAILED": "Failed",
    "CRASHED": "Crashed",
    "CANCELLING": "Cancelling",
    "CANCELLED": "Cancelled",
}
# State types, and the names for when a type is missing.
UNHAPPY = {"FAILED", "CRASHED", "CANCELLED", "CANCELLING", "Failed", "TimedOut", "Crashed", "Cancelled"}

# The complaint flow's tasks (flows/tasks.py) and the case events each records (flows/complaint.py);
# None: any event (a restarted run rejoins the case at its latest event).
TASK_LABELS = {
    "log_complaint": _l("Logging the complaint"),
    "rejoin_case": _l("Rejoining the case in a new run"),
    "assign_officer": _l("Recording the assignment"),
    "reject_complaint": _l("Recording the rejection"),
    "record_action": _l("Recording the resolution"),
    "send_back": _l("Recording the send-back"),
    "caller_satisfied": _l("Recording the caller's confirmation"),
    "caller_not_satisfied": _l("Recording the caller's complaint that it is not resolved"),
    "caller_unreachable": _l("Recording a call back not answered"),
    "close_unverified": _l("Recording the closure without the caller's word"),
    "confirm_closure": _l("Recording the closure"),
    "reopen_case": _l("Recording the reopening"),
}
TASK_EVENTS: dict[str, set[str] | None] = {
    "log_complaint": {"opened", "reopen_closed"},
    "rejoin_case": None,
    "assign_officer": {"assign"},
    "reject_complaint": {"reject"},
    "record_action": {"resolve"},
    "send_back": {"send_back"},
    "caller_satisfied": {"satisfied"},
    "caller_not_satisfied": {"not_satisfied"},
    "caller_unreachable": {"unreachable"},
    "close_unverified": {"close_unverified"},
    "confirm_closure": {"confirm"},
    "reopen_case": {"reopen"},
}

# Apprise URL schemes (the channel column keeps the URL with its secrets masked).
CHANNEL_LABELS = {
    "mailto": _l("e-mail"),
    "mailtos": _l("e-mail"),
    "tgram": _l("Telegram"),
    "whatsapp": _l("WhatsApp"),
    "twilio": _l("SMS"),
    "msg91": _l("SMS"),
    "sns": _l("SMS"),
    "plivo": _l("SMS"),
    "sinch": _l("SMS"),
    "vonage": _l("SMS"),
    "nexmo": _l("SMS"),
    "clickatell": _l("SMS"),
}


@dataclass
class Told:
    """One delivery as a person reads it: whom, on which channel, whether it arrived."""

    delivery: Delivery | CallerMessage
    who: str
    channel: str
    status: str  # a DELIVERY_LABELS key: a failed row with no next attempt is "given_up"
    sent_at: datetime | None


@dataclass
class Engine:
    """The task run that recorded a step, in one line."""

    step: str
    state: str
    at: datetime
    unhappy: bool


@dataclass
class Step:
    """A case event with the people it told and the engine's state for it."""

    at: datetime
    event: CaseEvent
    told: list[Told] = field(default_factory=list)
    engine: Engine | None = None


def _aware(at: datetime | None) -> datetime:
    return as_utc(at) if at is not None else datetime.min.replace(tzinfo=UTC)


def state_label(name: str, kind: str = "") -> str:
    """A Prefect state's name (or, failing that, its type) in the reader's language."""
    label = STATE_LABELS.get(name) or STATE_LABELS.get(STATE_TYPES.get(kind.upper(), ""))
    return str(label) if label is not None else name


def task_name(run_name: str) -> str:
    """The task's name of a task run named like "log_complaint-e64"."""
    if run_name in TASK_EVENTS:
        return run_name
    stem = run_name.rsplit("-", 1)[0]
    return stem if stem in TASK_EVENTS else run_name


def task_label(run_name: str) -> str:
    """What a task run of the complaint flow does, in the reader's language; other names as they are."""
    label = TASK_LABELS.get(task_name(run_name))
    return str(label) if label is not None else run_name


def channel_label(channel: str) -> str:
    """The kind of channel a (masked) Apprise URL sends on: e-mail, SMS, ...; else its scheme."""
    scheme = channel.split("://", 1)[0].lower() if "://" in channel else channel
    label = CHANNEL_LABELS.get(scheme)
    return str(label) if label is not None else scheme


def told(delivery: Delivery | CallerMessage) -> Told:
    """A delivery row (or a text to the caller) as its step shows it."""
    status = delivery.status
    if status == DeliveryStatus.failed and not delivery.next_attempt_at:
        status = "given_up"
    sent_at = _aware(delivery.sent_at) if status == DeliveryStatus.sent and delivery.sent_at else None
    who = delivery.user.name if isinstance(delivery, Delivery) else str(_("The caller"))
    return Told(delivery, who, channel_label(delivery.channel), str(status), sent_at)


def _recorded_by(task: dict[str, Any], events: list[CaseEvent]) -> CaseEvent | None:
    """The event a task run recorded: the latest of its kinds logged before the task started."""
    kinds = TASK_EVENTS.get(task_name(task["name"]), set())
    candidates = [e for e in events if kinds is None or e.kind in kinds]
    if not candidates:
        return None
    started = _aware(task["at"])
    before = [e for e in candidates if _aware(e.created_at) <= started]
    # With nothing before it (the engine's clock behind the app's), the earliest is the best guess.
    return before[-1] if before else candidates[0]


def _engine(tasks: list[dict[str, Any]]) -> Engine:
    """One line for an event's task runs: the last that did the work, else the first replay of it."""
    # A resumed run replays from the top: each earlier step shows again as a "Cached" task run,
    # which did nothing. A failed step is run again on the next replay, so the last counts.
    worked = [t for t in tasks if t.get("state") != "Cached"]
    task = worked[-1] if worked else tasks[0]
    return Engine(
        step=task_label(task["name"]),
        state=state_label(task.get("state", ""), task.get("type", "")),
        at=_aware(task["at"]),
        unhappy=bool({task.get("type"), task.get("state")} & UNHAPPY),
    )


def business_steps(
    case: Case,
    deliveries: Iterable[Delivery],
    run: RunHistory | None,
    to_caller: Iterable[CallerMessage] = (),
) -> list[Step]:
    """One step per case event, in time order, with its deliveries and its task run's state."""
    events = sorted(case.events, key=lambda e: (_aware(e.created_at), e.id))
    steps = {event.id: Step(_aware(event.created_at), event) for event in events}
    rows: list[Delivery | CallerMessage] = [*deliveries, *to_caller]
    for delivery in sorted(rows, key=lambda d: (_aware(d.created_at), d.id)):
        if delivery.event_id not in steps:  # not one of the case's events: keep it in view all the same
            steps[delivery.event_id] = Step(_aware(delivery.event.created_at), delivery.event)
        steps[delivery.event_id].told.append(told(delivery))
    if run is not None and not run.error:
        matched: dict[int, list[dict[str, Any]]] = {}
        for task in sorted(run.tasks, key=lambda t: _aware(t["at"])):
            event = _recorded_by(task, events)
            if event is not None:
                matched.setdefault(event.id, []).append(task)
        for event_id, tasks in matched.items():
            steps[event_id].engine = _engine(tasks)
    return sorted(steps.values(), key=lambda s: (s.at, s.event.id))


def page(
    case: Case,
    deliveries: list[Delivery] | Any,
    run: RunHistory | None,
    detail: bool = False,
    to_caller: Iterable[CallerMessage] = (),
) -> str:
    """The timeline page: the business steps, or every case, delivery, run state and task row."""
    return render_template(
        "cases/timeline.html",
        case=case,
        run=run,
        detail=detail,
        entries=merge_timeline(case, deliveries, run) if detail else [],
        steps=[] if detail else business_steps(case, deliveries, run, to_caller),
        state_label=state_label,
        task_label=task_label,
    )
