"""What the caller may see of their case: its steps and times and the department, never a person.

The status page and the caller's messages read this; a link to it is signed (itsdangerous, the
same signing key as the app's cookies) so the caller opens it without typing the number and phone,
and a number changed in the link opens nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from itsdangerous import BadSignature, URLSafeSerializer

from models.cases.lifecycle import State
from models.cases.tables import Case

SALT = "case-status"  # a token signed for another purpose (a cookie) never opens a status page

# Event kinds as the caller reads them. Escalations are the office's own business: not shown.
PUBLIC_STEPS = {
    "opened": "registered",
    "reopen_closed": "registered_again",
    "assign": "with_department",
    "send_back": "back_to_dm",
    "resolve": "action_taken",
    "satisfied": "you_confirmed",
    "not_satisfied": "more_work",
    "reopen": "more_work",
    "confirm": "closed",
    "close_unverified": "closed_unverified",
    "reject": "not_taken_up",
    "merge": "merged",
    "unmerge": "handled_alone",
}

# What the caller waits for next, by the case's state.
NEXT_STEP = {
    State.awaiting_assignment: "with_department",
    State.assigned: "action_taken",
    State.callback: "callback",
    State.resolved: "closed",
}


@dataclass(frozen=True)
class PublicStep:
    step: str  # a key of the labels the web app and the messages translate
    at: datetime


@dataclass(frozen=True)
class PublicStatus:
    number: str
    state: str
    department: str
    department_hi: str
    steps: list[PublicStep]
    next_step: str | None  # None once final
    expected_by: datetime | None  # the case's time limit for resolution, while open
    merged_into: str | None = None  # the number of the case that carries the problem, while merged


def public_status(case: Case) -> PublicStatus:
    steps = [PublicStep(PUBLIC_STEPS[e.kind], e.created_at) for e in case.events if e.kind in PUBLIC_STEPS]
    next_step = NEXT_STEP.get(State(case.state))
    department = case.category.department
    return PublicStatus(
        number=case.number or "",
        state=case.state,
        department=department.name,
        department_hi=department.name_hi,
        steps=steps,
        next_step=next_step,
        expected_by=case.resolve_by if next_step in ("with_department", "action_taken") else None,
        merged_into=case.merged_into.number if case.merged_into is not None else None,
    )


def status_token(number: str, secret: str) -> str:
    """The signed part of a case's status link."""
    return str(URLSafeSerializer(secret, salt=SALT).dumps(number))


def number_from_token(token: str, secret: str) -> str | None:
    """The case number a status link was signed for; None for an altered or foreign token."""
    try:
        number = URLSafeSerializer(secret, salt=SALT).loads(token)
    except BadSignature:
        return None
    return number if isinstance(number, str) else None
