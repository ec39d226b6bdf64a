"""Display helpers: names in the reader's language, state and action labels."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

STATE_LABELS = {
    "awaiting_assignment": _l("Waiting for the DM"),
    "assigned": _l("With the officer"),
    "resolved": _l("Waiting for the Collector"),
    "closed": _l("Closed"),
    "rejected": _l("Rejected"),
}

EVENT_LABELS = {
    "opened": _l("Complaint logged"),
    "assign": _l("Assigned to an officer"),
    "reject": _l("Rejected by the DM"),
    "resolve": _l("Resolved by the officer"),
    "send_back": _l("Sent back for reassignment"),
    "confirm": _l("Closure confirmed"),
    "reopen": _l("Reopened by the Collector"),
}

ACTION_LABELS = {
    "assign": _l("Assign"),
    "reject": _l("Reject"),
    "resolve": _l("Mark resolved"),
    "send_back": _l("Send back to the DM"),
    "confirm": _l("Confirm closure"),
    "reopen": _l("Reopen"),
}

ROLE_LABELS = {
    "operator": _l("Operator"),
    "dm": _l("District Magistrate"),
    "officer": _l("Officer"),
    "collector": _l("Collector"),
    "admin": _l("Administrator"),
}

PRIORITY_LABELS = {"normal": _l("Normal"), "urgent": _l("Urgent")}

DELIVERY_LABELS = {"pending": _l("Pending"), "sent": _l("Sent"), "failed": _l("Failed")}


def localized(row: Any) -> str:
    """A row's Hindi name when reading in Hindi and one exists, else its name."""
    if str(get_locale()) == "hi" and getattr(row, "name_hi", ""):
        return str(row.name_hi)
    return str(row.name)


SOURCE_LABELS = {
    "case": _l("Case"),
    "delivery": _l("Notification"),
    "state": _l("Workflow"),
    "task": _l("Workflow step"),
}

ALL = {
    "state": STATE_LABELS,
    "event": EVENT_LABELS,
    "action": ACTION_LABELS,
    "role": ROLE_LABELS,
    "priority": PRIORITY_LABELS,
    "delivery": DELIVERY_LABELS,
    "source": SOURCE_LABELS,
}


def waited(case: Any, now: datetime | None = None) -> timedelta:
    """How long the case has been in its current state."""
    since = case.state_since if case.state_since.tzinfo else case.state_since.replace(tzinfo=UTC)
    return (now or datetime.now(UTC)) - since
