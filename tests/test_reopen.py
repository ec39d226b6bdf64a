"""A caller's new complaint about a recently closed case offers to reopen it instead."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.cases.decisions import decide
from models.cases.lifecycle import Action, State
from models.cases.tables import Case
from models.outbox import Outbox
from models.reference.tables import User
from tests.conftest import decide as decide_by_form
from tests.conftest import intake_data, login, open_case


def close(session: Session, number: str, users: dict[str, User], at: datetime) -> Case:
    case = session.scalar(select(Case).where(Case.number == number))
    assert case is not None
    steps = [
        (Action.assign, "dm", {"officer_id": users["cmho"].id}),
        (Action.resolve, "cmho", {"text": "Bed 4"}),
        (Action.satisfied, "operator", {"rating": 5}),
        (Action.confirm, "collector", {}),
    ]
    for version, (action, who, extra) in enumerate(steps):
        decide(session, case, action, users[who], version=version, now=at, **extra)
    session.commit()
    return case


def test_it_offers_to_reopen_and_reopens_with_a_new_run(
    client: FlaskClient, session: Session, district: dict[str, User]
) -> None:
    login(client, "operator")
    number = open_case(client, phone="98765 11111")
    case = close(session, number, district, datetime.now(UTC) - timedelta(days=2))
    cases_before = session.scalar(select(func.count()).select_from(Case))

    page = client.post(
        "/cases/new", data=intake_data(client, phone="9876511111", description="फिर से बिस्तर नहीं")
    )
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert f"This caller's case {number} was closed recently" in html
    assert "फिर से बिस्तर नहीं" in html  # carried into the reopen form
    # The other way out looks like the app's other second choices, not a bare browser button.
    assert (
        '<button type="submit" name="new_anyway" value="y" class="secondary">Open a new case anyway</button>'
        in html
    )
    assert session.scalar(select(func.count()).select_from(Case)) == cases_before

    response = decide_by_form(client, number, "reopen_closed", text="फिर से बिस्तर नहीं")
    assert response.status_code == 302
    session.refresh(case)
    assert (case.state, case.decisions, case.closed_at) == (State.awaiting_assignment, 5, None)
    assert case.due_at is not None
    start = session.scalars(select(Outbox).where(Outbox.case_id == case.id).order_by(Outbox.id)).all()[-1]
    assert start.kind == "start"
    assert start.payload["first_decision"] == 5 and start.payload["case_number"] == number
    assert case.events[-1].kind == "reopen_closed" and case.events[-1].text == "फिर से बिस्तर नहीं"


def test_it_opens_a_new_case_when_asked_or_when_the_closure_is_old(
    client: FlaskClient, session: Session, district: dict[str, User]
) -> None:
    login(client, "operator")
    recent = open_case(client, phone="98765 22222")
    close(session, recent, district, datetime.now(UTC) - timedelta(hours=3))
    anyway = client.post("/cases/new", data=intake_data(client, phone="9876522222", new_anyway="y"))
    assert anyway.status_code == 302 and not anyway.headers["Location"].endswith(recent)

    old = open_case(client, phone="98765 33333")
    close(session, old, district, datetime.now(UTC) - timedelta(days=8))  # the bed category keeps 7 days
    fresh = client.post("/cases/new", data=intake_data(client, phone="9876533333"))
    assert fresh.status_code == 302
    # Nor may the old one be reopened by hand.
    page = client.get(f"/cases/{old}").get_data(as_text=True)
    assert "form-reopen_closed" not in page


def test_it_lets_only_operators_reopen_closed_cases(
    client: FlaskClient, session: Session, district: dict[str, User]
) -> None:
    login(client, "operator")
    number = open_case(client, phone="98765 44444")
    close(session, number, district, datetime.now(UTC) - timedelta(hours=1))
    assert "form-reopen_closed" in client.get(f"/cases/{number}").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": ""})
    login(client, "dm")
    response = client.post(f"/cases/{number}/reopen_closed", data={"reopen_closed-version": "3"})
    assert response.status_code in (400, 403)
    session.expire_all()
    assert session.scalar(select(Case.state).where(Case.number == number)) == State.closed
