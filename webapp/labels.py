"""Display helpers: names in the reader's language, state and action labels."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask_babel import format_timedelta, get_locale, gettext
from flask_babel import lazy_gettext as _l

from models.cases.sla import overdue, running_clock
from models.homecare.wording import case_description
from models.times import aware
from webapp.dates import when
from webapp.db import get_session

STATE_LABELS = {
    "awaiting_assignment": _l("Waiting for the DM"),
    "assigned": _l("With the officer"),
    "callback": _l("Waiting for a call back to the caller"),
    "resolved": _l("Waiting for the Collector"),
    "closed": _l("Closed"),
    "rejected": _l("Rejected"),
    "merged": _l("Merged into another case"),
}

EVENT_LABELS = {
    "opened": _l("Complaint logged"),
    "assign": _l("Assigned to an officer"),
    "reject": _l("Rejected by the DM"),
    "resolve": _l("Resolved by the officer"),
    "send_back": _l("Sent back for reassignment"),
    "satisfied": _l("Caller confirmed it is resolved"),
    "not_satisfied": _l("Caller says it is not resolved"),
    "unreachable": _l("Caller not reachable on the call back"),
    "close_unverified": _l("Closed without the caller's word"),
    "confirm": _l("Closure confirmed"),
    "reopen": _l("Reopened by the Collector"),
    "escalation": _l("Time limit escalation"),
    "reopen_closed": _l("Reopened on the caller's new complaint"),
    "caller_added": _l("Another caller about the same problem"),
    "merge": _l("Merged into another case about the same problem"),
    "unmerge": _l("Merge undone: its own case again"),
    "merged_in": _l("A case about the same problem merged into this one"),
    "merge_undone": _l("A merged case taken out again"),
}

AUDIENCE_LABELS = {
    "assignee": _l("the person it waits on"),
    "dm": _l("the DM"),
    "collector": _l("the Collector"),
}

ACTION_LABELS = {
    "assign": _l("Assign"),
    "reject": _l("Reject"),
    "resolve": _l("Mark resolved"),
    "send_back": _l("Send back to the DM"),
    "satisfied": _l("Satisfied"),
    "not_satisfied": _l("Not satisfied"),
    "unreachable": _l("Not reachable"),
    "close_unverified": _l("Close without the caller's word"),
    "confirm": _l("Confirm closure"),
    "reopen": _l("Reopen"),
    "reopen_closed": _l("Reopen on the caller's complaint"),
    "merge": _l("Merge into that case"),
    "unmerge": _l("Undo the merge"),
}

ROLE_LABELS = {
    "operator": _l("Operator"),
    "dm": _l("District Magistrate"),
    "officer": _l("Officer"),
    "collector": _l("Collector"),
    "admin": _l("Administrator"),
}

PRIORITY_LABELS = {"normal": _l("Normal"), "urgent": _l("Urgent")}

# How a complaint reached the control room (models/cases/tables.Channel).
CHANNEL_LABELS = {"phone": _l("by phone"), "api": _l("through the Open311 API")}

# A final case waits on nobody: its list row says when it ended instead.
ENDED_LABELS = {
    "closed": _l("closed %(when)s"),
    "rejected": _l("rejected %(when)s"),
    "merged": _l("merged %(when)s"),
}

DELIVERY_LABELS = {
    "pending": _l("Pending"),
    "sending": _l("Sending"),
    "sent": _l("Sent"),
    "failed": _l("Failed"),
    "given_up": _l("Given up"),  # failed, with no next attempt until someone sends it again
    "passed_on": _l("Passed to the next channel"),  # failed, and the message went on (a fallback)
}

# Why a case's delivery row was made (models/messages.Reason), when not the hand-off itself.
REASON_LABELS = {
    "fallback": _l("after the channel before refused it"),
    "unseen": _l("again: not acknowledged in time on the channel before"),
    "stand_in": _l("Stand-in: nobody acknowledged it in time"),
    "escalated": _l("Not acknowledged: the level above"),
}


def localized(row: Any) -> str:
    """A row's Hindi name when reading in Hindi and one exists, else its name."""
    if str(get_locale()) == "hi" and getattr(row, "name_hi", ""):
        return str(row.name_hi)
    return str(row.name)


def case_text(case: Any) -> str:
    """A case's description for the reader: an emergency a reading opened, told in the reader's language."""
    return case_description(get_session(), case, str(get_locale() or "en"))


def event_text(event: Any) -> str:
    """An event's text for the reader; an emergency's opening (its description) as `case_text` tells it."""
    if event.kind == "opened" and event.text == event.case.description:
        return case_text(event.case)
    return str(event.text)


SOURCE_LABELS = {
    "case": _l("Case"),
    "delivery": _l("Notification"),
    "state": _l("Workflow"),
    "task": _l("Workflow step"),
}

# What an outbox row asked of Prefect (models/outbox.py), for the admin's page of parked rows.
OUTBOX_LABELS = {
    "start": _l("Start the case's run"),
    "resume": _l("Hand a decision to the run"),
    "restart": _l("Start a new run"),
    "revive": _l("Bring a crashed run back"),
    "advisory": _l("Send an advisory"),
    "retries": _l("Send messages again"),
    "follow-up-list": _l("Make today's follow-up list"),
}

# A patient's sex as the register stores it (models/homecare/tables.py), after the age: "31, male".
SEX_LABELS = {"M": _l("male"), "F": _l("female"), "O": _l("other")}

ALL = {
    "state": STATE_LABELS,
    "event": EVENT_LABELS,
    "action": ACTION_LABELS,
    "role": ROLE_LABELS,
    "priority": PRIORITY_LABELS,
    "channel": CHANNEL_LABELS,
    "delivery": DELIVERY_LABELS,
    "reason": REASON_LABELS,
    "source": SOURCE_LABELS,
    "outbox": OUTBOX_LABELS,
    "sex": SEX_LABELS,
}


def clock_label(case: Any, now: datetime | None = None) -> tuple[str, str]:
    """The case's step clock as (text, css class): time left, or time overdue; empty once final."""
    running = running_clock(case.state, case.state_since, case.due_at)
    if running is None:
        return "", ""
    now = now or datetime.now(UTC)
    left = running.left(now)
    if overdue(case.state, case.due_at, now):
        return gettext("%(time)s overdue", time=format_timedelta(-left, threshold=1.1)), "late"
    soon = running.percent(now) > 80
    return gettext("%(time)s left", time=format_timedelta(left, threshold=1.1)), "soon" if soon else "ok"


def event_label(event: Any) -> str:
    """What an event says on the case page; escalations say which rung and whom it told."""
    if event.kind != "escalation" or event.escalation is None:
        return str(EVENT_LABELS.get(event.kind, event.kind))
    rung = event.escalation.rung
    audience = AUDIENCE_LABELS.get(rung.audience, rung.audience)
    if rung.percent < 100:
        return str(
            _l(
                "Reminder to %(who)s: %(percent)s%% of the time limit used",
                who=audience,
                percent=rung.percent,
            )
        )
    return str(
        _l("Overdue (%(percent)s%% of the time limit): %(who)s told", who=audience, percent=rung.percent)
    )


def waited(case: Any, now: datetime | None = None) -> timedelta:
    """How long the case has been in its current state."""
    return (now or datetime.now(UTC)) - aware(case.state_since)


def waiting_label(case: Any, now: datetime | None = None) -> tuple[str, str]:
    """How long the case has waited on its step, or when it ended once final, as (text, css class)."""
    ended = ENDED_LABELS.get(case.state)
    if ended is not None:
        return str(ended % {"when": when(case.state_since)}), "muted"
    return format_timedelta(waited(case, now)), ""


def urgency_label(case: Any) -> str:
    """The badge a case's number carries: an emergency says so (its priority is urgent too); else ""."""
    if case.emergency:
        return gettext("Emergency")
    if case.priority == "urgent":
        return str(PRIORITY_LABELS["urgent"])
    return ""
