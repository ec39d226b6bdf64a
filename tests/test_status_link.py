"""The caller's status page by the signed link in their messages: the steps and times, no person."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskClient
from itsdangerous import URLSafeSerializer
from sqlalchemy.orm import Session

from models.cases.lifecycle import Action
from models.cases.public import SALT, number_from_token, status_token
from models.cases.tables import Case
from models.reference.tables import User
from tests.casedata import make_case, move
from tests.conftest import csrf_token

SECRET = "test-secret"  # tests/conftest.py's settings


@pytest.fixture
def resolved(session: Session, district: dict[str, User]) -> Case:
    """A case the CMHO resolved, with words in its history that are the office's, not the caller's."""
    p = district
    start = datetime.now(UTC) - timedelta(hours=2)
    case = make_case(session, p["operator"], start, caller="Sunita Devi", phone="+919876512345")
    move(session, case, Action.assign, p["dm"], start + timedelta(minutes=10), officer=p["cmho"])
    move(session, case, Action.resolve, p["cmho"], start + timedelta(minutes=50))
    case.language = "en"  # the caller's texts in English: so is the page their link opens
    session.commit()
    return case


def test_it_shows_the_steps_and_the_department_without_a_login(client: FlaskClient, resolved: Case) -> None:
    response = client.get(f"/status/{status_token(resolved.number or '', SECRET)}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    steps = [
        "Complaint registered",
        "Sent to the department",
        "The department has acted",
        "Next: We will call you to confirm",
    ]
    positions = [page.index(step) for step in steps]
    assert positions == sorted(positions)
    assert "Health" in page  # the hospital-bed category's department
    # Nothing about a person: not the caller, not the officer, not the office's notes.
    for private in ("Sunita", "98765", "Ramesh", "CMHO", "noted", "Log out"):
        assert private not in page, private


def test_it_speaks_hindi_to_a_hindi_reader(client: FlaskClient, resolved: Case) -> None:
    page = client.get("/status").get_data(as_text=True)
    client.post("/language", data={"csrf_token": csrf_token(page), "language": "hi", "next": "/status"})
    page = client.get(f"/status/{status_token(resolved.number or '', SECRET)}").get_data(as_text=True)
    assert "शिकायत दर्ज हुई" in page and "स्वास्थ्य" in page


def test_it_opens_in_the_language_of_the_callers_texts(
    client: FlaskClient, session: Session, resolved: Case
) -> None:
    """A Hindi caller's link opens in Hindi on a phone set to English, until they choose English."""
    resolved.language = "hi"
    session.commit()
    link = f"/status/{status_token(resolved.number or '', SECRET)}"
    page = client.get(link, headers={"Accept-Language": "en-IN,en"}).get_data(as_text=True)
    assert '<html lang="hi"' in page and "शिकायत दर्ज हुई" in page
    client.post("/language", data={"csrf_token": csrf_token(page), "language": "en", "next": link})
    page = client.get(link, headers={"Accept-Language": "en-IN,en"}).get_data(as_text=True)
    assert '<html lang="en"' in page and "Complaint registered" in page


@pytest.mark.parametrize(
    "token",
    [
        "x" * 30,
        "a" * 5000,
        URLSafeSerializer("another key", salt=SALT).dumps("SRJ-2026-000001"),  # signed elsewhere
        URLSafeSerializer(SECRET, salt="cookie-session").dumps("SRJ-2026-000001"),  # for another purpose
        status_token("SRJ-2026-999999", SECRET),  # no such case
    ],
)
def test_it_opens_nothing_for_a_link_it_did_not_sign(client: FlaskClient, resolved: Case, token: str) -> None:
    response = client.get(f"/status/{token}")
    assert response.status_code == 404
    assert "This status link is not valid" in response.get_data(as_text=True)


def test_it_refuses_a_link_with_one_character_changed(client: FlaskClient, resolved: Case) -> None:
    token = status_token(resolved.number or "", SECRET)
    altered = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert client.get(f"/status/{altered}").status_code == 404
    assert number_from_token(altered, SECRET) is None


def test_it_shows_a_closed_case_without_a_next_step(
    client: FlaskClient, session: Session, district: dict[str, User], resolved: Case
) -> None:
    move(session, resolved, Action.satisfied, district["operator"], datetime.now(UTC))
    move(session, resolved, Action.confirm, district["collector"], datetime.now(UTC))
    session.commit()
    page = client.get(f"/status/{status_token(resolved.number or '', SECRET)}").get_data(as_text=True)
    assert page.count("Closed") == 1 and "Next:" not in page
