"""The citizen's status lookup: no login, needs the number and the phone."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from models.reference.tables import User
from tests.conftest import csrf_token, login, open_case


@pytest.fixture
def number(client: FlaskClient, district: dict[str, User]) -> str:
    login(client, "operator")
    number = open_case(client, phone="+91 98765 43210")
    client.delete_cookie("session")
    return number


def lookup(client: FlaskClient, number: str, phone: str):  # type: ignore[no-untyped-def]
    page = client.get("/status").get_data(as_text=True)
    return client.post("/status", data={"csrf_token": csrf_token(page), "number": number, "phone": phone})


def test_it_shows_the_state_without_a_login(client: FlaskClient, number: str) -> None:
    response = lookup(client, number.lower(), "9876543210")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Complaint registered" in page and "Next: Sent to the department" in page


@pytest.mark.parametrize("phone", ["9876500000", "garbage", ""])
def test_it_needs_the_callers_phone(client: FlaskClient, number: str, phone: str) -> None:
    response = lookup(client, number, phone)
    assert response.status_code == 400
    assert "Complaint registered" not in response.get_data(as_text=True)
