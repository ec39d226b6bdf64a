"""The operator's intake form."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.cases.tables import Case, CaseEvent
from models.outbox import Outbox
from models.reference.tables import User
from tests.conftest import csrf_token, intake_data, login, open_case


def count(session: Session, model: type) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_it_opens_a_case_with_its_event_and_outbox_row(
    client: FlaskClient, session: Session, district: dict[str, User]
) -> None:
    login(client, "operator")
    number = open_case(client, phone="098765 43210", priority="urgent")
    case = session.scalar(select(Case).where(Case.number == number))
    assert case is not None
    assert number == f"SRJ-{case.created_at.year}-{case.id:06d}"
    assert case.phone == "+919876543210"
    assert case.state == "awaiting_assignment" and case.priority == "urgent"
    assert [e.kind for e in case.events] == ["opened"]
    outbox = session.scalars(select(Outbox)).all()
    assert [(o.kind, o.payload["case_number"]) for o in outbox] == [("start", number)]
    page = client.get(f"/cases/{number}").get_data(as_text=True)
    assert f"Case {number} opened" in page


def test_it_reads_a_phone_typed_in_devanagari_digits(
    client: FlaskClient, session: Session, district: dict[str, User]
) -> None:
    login(client, "operator")
    number = open_case(client, phone="+९१ ९८७६५ ४३२१०")
    assert session.scalars(select(Case.phone).where(Case.number == number)).one() == "+919876543210"


def test_it_round_trips_hindi(client: FlaskClient, session: Session, district: dict[str, User]) -> None:
    login(client, "operator")
    text = "मरीज़ को ऑक्सीजन बिस्तर चाहिए — तुरंत। ग्राम पंचायत भवन के पास"
    number = open_case(client, caller_name="रामू यादव", description=text)
    case = session.scalar(select(Case).where(Case.number == number))
    assert case is not None and case.description == text and case.caller_name == "रामू यादव"
    page = client.get(f"/cases/{number}").get_data(as_text=True)
    assert text in page and "रामू यादव" in page


def test_it_escapes_html_in_a_description(client: FlaskClient, district: dict[str, User]) -> None:
    login(client, "operator")
    number = open_case(client, description='<script>alert("x")</script><b>bold</b>')
    page = client.get(f"/cases/{number}").get_data(as_text=True)
    assert "<script>alert" not in page and "<b>bold</b>" not in page
    assert "&lt;script&gt;alert" in page


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"caller_name": ""}, "caller_name", "This field is required."),
        ({"caller_name": "x" * 121}, "caller_name", "Field cannot be longer than 120 characters."),
        ({"phone": ""}, "phone", "This field is required."),
        ({"phone": "12345"}, "phone", "Enter a valid Indian phone number"),
        ({"phone": "not a phone"}, "phone", "Enter a valid Indian phone number"),
        ({"phone": "+1 415 555 0100"}, "phone", "Enter a valid Indian phone number"),  # valid, but not Indian
        ({"village": 0}, "village", "Choose the caller&#39;s village."),
        ({"village": 999}, "village", "Not a valid choice."),
        ({"village": "abc"}, "village", "Invalid Choice: could not coerce."),
        ({"category": 999}, "category", "Not a valid choice."),
        ({"category": 0}, "category", "Choose a category."),
        ({"priority": "panic"}, "priority", "Not a valid choice."),
        ({"description": ""}, "description", "This field is required."),
        ({"description": "x" * 4001}, "description", "Field cannot be longer than 4000 characters."),
    ],
)
def test_it_rejects_bad_input(
    client: FlaskClient,
    session: Session,
    district: dict[str, User],
    overrides: dict[str, object],
    field: str,
    message: str,
) -> None:
    login(client, "operator")
    response = client.post("/cases/new", data=intake_data(client, **overrides))
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert message in page
    assert 'class="field has-error"' in page
    assert count(session, Case) == 0 and count(session, Outbox) == 0


def test_it_keeps_what_was_typed_when_rejecting(client: FlaskClient, district: dict[str, User]) -> None:
    login(client, "operator")
    response = client.post("/cases/new", data=intake_data(client, phone="1", description="सूचना रखी रहे"))
    assert response.status_code == 400
    assert "सूचना रखी रहे" in response.get_data(as_text=True)


def test_it_opens_one_case_when_a_form_is_submitted_twice(
    client: FlaskClient, session: Session, district: dict[str, User]
) -> None:
    login(client, "operator")
    data = intake_data(client)
    first = client.post("/cases/new", data=data)
    second = client.post("/cases/new", data=data)
    assert first.headers["Location"] == second.headers["Location"]
    assert count(session, Case) == 1 and count(session, CaseEvent) == 1 and count(session, Outbox) == 1


def test_it_needs_a_csrf_token(client: FlaskClient, session: Session, district: dict[str, User]) -> None:
    login(client, "operator")
    data = intake_data(client)
    del data["csrf_token"]
    response = client.post("/cases/new", data=data)
    assert response.status_code == 400
    assert "security token" in response.get_data(as_text=True)
    assert count(session, Case) == 0


@pytest.mark.parametrize("username", ["dm", "cmho", "collector"])
def test_it_is_for_operators_only(client: FlaskClient, district: dict[str, User], username: str) -> None:
    login(client, username)
    assert client.get("/cases/new").status_code == 403
    page = client.get("/queue").get_data(as_text=True)
    response = client.post("/cases/new", data={"csrf_token": csrf_token(page)})
    assert response.status_code == 403
