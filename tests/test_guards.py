"""The guards at the door (webapp/guards.py): ids beyond 64 bits, NUL characters, refused hidden fields."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.exceptions import BadRequest

from models.cases.tables import Case, CaseEvent
from models.desk.tables import Call
from models.reference.tables import User
from tests.casedata import build
from tests.conftest import csrf_token, decision_data, intake_data, login
from webapp.guards import bad_request

HUGE = "99999999999999999999999"
FORM_ALTERED = "The form was out of date or altered; reload the page and try again."
NUL_REFUSED = "invisible control character (NUL)"


def rows(session: Session) -> tuple[int, int, int]:
    session.expire_all()
    counts = [session.scalar(select(func.count()).select_from(t)) for t in (Case, CaseEvent, Call)]
    return counts[0] or 0, counts[1] or 0, counts[2] or 0


@pytest.mark.parametrize(
    ("username", "path"),
    [
        ("admin", f"/patients/{HUGE}"),
        ("admin", f"/patients/{2**63}"),  # one beyond the largest BIGINT
        ("operator", f"/follow-ups/{2**64}"),
        ("dm", f"/advisories/{HUGE}"),
    ],
)
def test_it_answers_an_id_beyond_64_bits_in_a_url_with_404(
    client: FlaskClient, district: dict[str, User], username: str, path: str
) -> None:
    login(client, username)
    assert client.get(path).status_code == 404


@pytest.mark.parametrize(
    ("username", "path"), [("dm", f"/deliveries/{2**64}/retry"), ("admin", f"/admin/outbox/{HUGE}/retry")]
)
def test_it_answers_a_post_to_an_id_beyond_64_bits_with_404(
    client: FlaskClient, district: dict[str, User], username: str, path: str
) -> None:
    login(client, username)
    token = csrf_token(client.get("/queue").get_data(as_text=True))
    assert client.post(path, data={"csrf_token": token}).status_code == 404


@pytest.mark.parametrize(
    ("username", "path"),
    [
        ("operator", f"/cases/new?call={HUGE}"),
        ("operator", f"/emergencies/new?call={2**64}"),
        ("operator", f"/directory?village={HUGE}"),
        ("dm", f"/patients?village={HUGE}&page={HUGE}"),
        ("dm", f"/advisories/new?village={HUGE}"),
    ],
)
def test_it_ignores_an_id_beyond_64_bits_in_a_query_string(
    client: FlaskClient, district: dict[str, User], username: str, path: str
) -> None:
    login(client, username)
    assert client.get(path).status_code == 200


def test_it_refuses_a_hidden_call_id_beyond_64_bits_and_says_why(
    client: FlaskClient, session: Session, district: dict[str, User]
) -> None:
    login(client, "operator")
    before = rows(session)
    for path in ("/cases/new", "/emergencies/new"):
        page = client.get(path).get_data(as_text=True)
        data = {**intake_data(client), "csrf_token": csrf_token(page), "call": HUGE}
        response = client.post(path, data=data)
        assert response.status_code == 400 and FORM_ALTERED in response.get_data(as_text=True)
    assert rows(session) == before


@pytest.mark.parametrize("version", ["abc", HUGE, "-1", ""])
def test_it_refuses_a_decision_with_an_altered_version_and_says_why(
    client: FlaskClient, session: Session, district: dict[str, User], version: str
) -> None:
    number = build(session, district)["a"]
    login(client, "dm")
    before = rows(session)
    data = decision_data(client, number, "reject", text="Not a grievance")
    response = client.post(f"/cases/{number}/reject", data={**data, "reject-version": version})
    assert response.status_code == 400 and FORM_ALTERED in response.get_data(as_text=True)
    assert rows(session) == before


def test_it_explains_a_bare_400_as_an_altered_form(app: Flask) -> None:
    with app.test_request_context("/patients/1/discharge", method="POST"):
        page, status = bad_request(BadRequest())
    assert status == 400 and FORM_ALTERED in page


def test_it_says_nothing_of_altered_fields_when_a_visible_one_is_wrong(
    client: FlaskClient, session: Session, district: dict[str, User]
) -> None:
    number = build(session, district)["a"]
    login(client, "dm")
    response = client.post(f"/cases/{number}/reject", data=decision_data(client, number, "reject", text=""))
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "This field is required." in page and FORM_ALTERED not in page


@pytest.mark.parametrize("path", ["/cases?q=a%00b", "/cases/export.csv?q=a%00b", "/cases?state=open&q=%00"])
def test_it_refuses_a_nul_in_the_case_search_with_400(
    client: FlaskClient, district: dict[str, User], path: str
) -> None:
    login(client, "dm")
    response = client.get(path)
    assert response.status_code == 400 and NUL_REFUSED in response.get_data(as_text=True)


def test_it_refuses_a_nul_in_a_form_or_a_path_with_400_and_writes_nothing(
    client: FlaskClient, session: Session, district: dict[str, User]
) -> None:
    login(client, "operator")
    before = rows(session)
    response = client.post("/cases/new", data=intake_data(client, caller_name="Ramu\x00 Yadav"))
    assert response.status_code == 400 and NUL_REFUSED in response.get_data(as_text=True)
    assert rows(session) == before
    assert client.get("/cases/SRJ%00-1").status_code == 400
