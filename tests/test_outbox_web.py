"""What people see of a hand-off the engine gave up on: the red line on the case, the admin's page with
*Try again* and *Start a new run*, the count on the dashboard."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from models.cases.tables import Case
from models.outbox import Outbox
from models.reference.tables import User
from tests.casedata import make_case
from tests.conftest import csrf_token, login

REASON = "the run was cancelled in Prefect (Cancelled)"


@pytest.fixture
def stuck(session: Session, district: dict[str, User]) -> tuple[Case, Outbox]:
    """A case waiting on the DM whose start row was parked."""
    case = make_case(session, district["operator"], datetime.now(UTC), description="ऑक्सीजन चाहिए")
    session.flush()
    row = session.scalars(select(Outbox).where(Outbox.case_id == case.id)).one()
    row.parked_at, row.last_error, row.attempts = datetime.now(UTC), REASON, 3
    session.commit()
    return case, row


@pytest.mark.parametrize("username", ["dm", "collector", "admin"])
def test_it_shows_the_case_in_red_to_those_who_answer_for_it(
    client: FlaskClient, stuck: tuple[Case, Outbox], username: str
) -> None:
    login(client, username)
    page = client.get(f"/cases/{stuck[0].number}").get_data(as_text=True)
    assert f"The engine could not continue this case: {REASON}" in page
    assert ("/admin/outbox" in page) == (username == "admin")
    dashboard = client.get("/dashboard").get_data(as_text=True)
    assert "1 hand-off the engine gave up on" in dashboard


def test_it_does_not_alarm_the_officer_or_a_quiet_dashboard(
    client: FlaskClient, session: Session, district: dict[str, User]
) -> None:
    make_case(session, district["operator"], datetime.now(UTC))
    session.commit()
    login(client, "collector")
    assert "gave up on" not in client.get("/dashboard").get_data(as_text=True)


@pytest.mark.parametrize("username", ["operator", "dm", "collector", "cmho"])
def test_it_keeps_the_outbox_page_for_the_admin(
    client: FlaskClient, stuck: tuple[Case, Outbox], username: str
) -> None:
    login(client, username)
    assert client.get("/admin/outbox").status_code == 403
    assert client.post(f"/admin/outbox/{stuck[1].id}/retry").status_code in (400, 403)


def test_it_tries_a_parked_row_again(
    client: FlaskClient, session: Session, stuck: tuple[Case, Outbox]
) -> None:
    login(client, "admin")
    page = client.get("/admin/outbox").get_data(as_text=True)
    assert stuck[0].number in page and REASON in page
    assert client.post(f"/admin/outbox/{stuck[1].id}/retry").status_code == 400  # no CSRF token
    response = client.post(f"/admin/outbox/{stuck[1].id}/retry", data={"csrf_token": csrf_token(page)})
    assert response.status_code == 302 and response.headers["Location"] == "/admin/outbox"
    session.expire_all()
    row = session.get_one(Outbox, stuck[1].id)
    assert (row.parked_at, row.attempts, row.done_at, row.last_error) == (None, 0, None, "")
    # A second click finds nothing parked.
    assert (
        client.post(f"/admin/outbox/{row.id}/retry", data={"csrf_token": csrf_token(page)}).status_code == 404
    )


def test_it_starts_a_new_run_from_the_current_step(
    client: FlaskClient, session: Session, stuck: tuple[Case, Outbox]
) -> None:
    case, row = stuck
    login(client, "admin")
    page = client.get("/admin/outbox").get_data(as_text=True)
    response = client.post(f"/admin/outbox/{row.id}/restart", data={"csrf_token": csrf_token(page)})
    assert response.status_code == 302
    session.expire_all()
    rows = session.scalars(select(Outbox).where(Outbox.case_id == case.id).order_by(Outbox.id)).all()
    assert [(r.kind, r.done_at is not None) for r in rows] == [("start", True), ("restart", False)]
    assert rows[1].payload == {
        "case_number": case.number,
        "event_id": case.events[0].id,
        "first_decision": 0,
        "step": "dm",
    }
    assert "Nothing: every hand-off went through." in client.get("/admin/outbox").get_data(as_text=True)
    login(client, "dm")
    assert "could not continue" not in client.get(f"/cases/{case.number}").get_data(as_text=True)


def test_it_answers_a_row_that_is_not_parked_with_404(
    client: FlaskClient, stuck: tuple[Case, Outbox]
) -> None:
    login(client, "admin")
    page = client.get("/admin/outbox").get_data(as_text=True)
    assert (
        client.post("/admin/outbox/999999/restart", data={"csrf_token": csrf_token(page)}).status_code == 404
    )
