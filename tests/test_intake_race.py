"""One intake form submitted twice at the same moment: one case, and both requests are sent to it.

Two real requests in two threads, each its own logged-in client, meet just before their first
write (tests/races.py): both have looked the token up and found nothing, so only the database
(its unique token, ON CONFLICT DO NOTHING) keeps the second from opening a second case.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.cases.tables import Case, CaseEvent
from models.config import Settings
from models.db import get_engine
from models.desk.calls import log_call
from models.desk.tables import Call, CallKind
from models.emergency.cases import emergency_category
from models.outbox import Outbox
from models.reference.tables import Category, User
from tests.conftest import csrf_token, intake_data, login
from tests.races import meeting_before, race
from tests.test_emergency import emergency_data, on_duty


def operator(app: Flask) -> FlaskClient:
    client = app.test_client()
    login(client, "operator")
    return client


def count(session: Session, model: type) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model)) or 0


def submit_together(
    settings: Settings, path: str, posts: list[tuple[FlaskClient, dict[str, Any]]]
) -> list[Any]:
    with meeting_before(get_engine(settings.database_url), "INSERT"):
        return race(*(lambda c=client, d=data: c.post(path, data=d) for client, data in posts))


def complaint_call(session: Session, district: dict[str, User]) -> Call:
    call = log_call(
        session,
        phone="+919876543210",
        kind=CallKind.complaint,
        by=district["operator"],
        now=datetime.now(UTC),
        caller_name="Ramu Yadav",
        village_id=1,
        note="Needs a hospital bed with oxygen",
    )
    session.commit()
    return call


def test_it_opens_one_case_when_a_form_is_submitted_twice_at_once(
    app: Flask, settings: Settings, session: Session, district: dict[str, User]
) -> None:
    call = complaint_call(session, district)
    first, second = operator(app), operator(app)
    data = intake_data(first, call=call.id)
    page = second.get(f"/cases/new?call={call.id}").get_data(as_text=True)
    again = {**data, "csrf_token": csrf_token(page)}  # the same form, its token, from another request
    responses = submit_together(settings, f"/cases/new?call={call.id}", [(first, data), (second, again)])
    assert [getattr(r, "status_code", r) for r in responses] == [302, 302]
    assert responses[0].headers["Location"] == responses[1].headers["Location"]
    assert count(session, Case) == 1 and count(session, CaseEvent) == 1 and count(session, Outbox) == 1
    case = session.scalars(select(Case)).one()
    assert responses[0].headers["Location"].endswith(f"/cases/{case.number}")
    assert session.get_one(Call, call.id).case_id == case.id  # the call stays linked, whoever won


@pytest.mark.parametrize(
    "first_emergency", [True, False], ids=["category-made-by-the-race", "category-there"]
)
def test_it_opens_one_emergency_when_a_form_is_submitted_twice_at_once(
    app: Flask, settings: Settings, session: Session, district: dict[str, User], first_emergency: bool
) -> None:
    """With nobody filed under emergency yet, the two requests race to make its category first."""
    on_duty(session, district["cmho"])  # the loser must not hand the winner's case over again
    if not first_emergency:
        emergency_category(session)
        session.commit()
    first, second = operator(app), operator(app)
    data = emergency_data(first)
    again = {**data, "csrf_token": csrf_token(second.get("/emergencies/new").get_data(as_text=True))}
    responses = submit_together(settings, "/emergencies/new", [(first, data), (second, again)])
    assert [getattr(r, "status_code", r) for r in responses] == [302, 302]
    assert responses[0].headers["Location"] == responses[1].headers["Location"]
    case = session.scalars(select(Case)).one()
    assert (case.emergency, case.state, case.officer_id) == (True, "assigned", district["cmho"].id)
    assert [e.kind for e in case.events] == ["opened", "assign"]
    assert count(session, Outbox) == 2  # start, and the resume with the assignment
    assert session.scalar(select(func.count()).where(Category.code == "emergency")) == 1
