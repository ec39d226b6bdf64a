"""One-tap links: the step a message asks for, taken without a sign-in, refused clearly otherwise; "Seen"."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from models.access.act_links import Grant, Refused, make_token, read_token
from models.cases.lifecycle import Action, State
from models.cases.tables import Case, CaseEvent
from models.config import Settings
from models.messages import Delivery
from models.oversight.tables import AuditEntry
from models.reference.tables import User
from notifications.delivery import compose, plan_deliveries
from tests.casedata import make_case, move
from tests.conftest import csrf_token, hidden, login

SECRET = "test-secret"  # the settings fixture's


def awaiting(session: Session, district: dict[str, User]) -> Case:
    """A case waiting on the DMs, with its messages to them planned."""
    case = make_case(session, district["operator"], datetime.now(UTC))
    session.flush()
    plan_deliveries(session, case.id, case.events[0].id)
    session.commit()
    return case


def token_for(user: User, case: Case, at: datetime | None = None) -> str:
    return make_token(user.id, case.id, case.decisions, SECRET, at or datetime.now(UTC))


def assign_data(page: str, officer: User, **extra: str) -> dict[str, object]:
    return {
        "assign-csrf_token": csrf_token(page, "assign"),
        "assign-version": hidden(page, "assign-version"),
        "assign-officer": officer.id,
        "assign-text": "Go today",
        **extra,
    }


def fresh(session: Session, case: Case) -> Case:
    session.expire_all()
    return session.get_one(Case, case.id)


def test_it_reads_back_what_it_signed() -> None:
    now = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)
    token = make_token(3, 14, 2, SECRET, now)
    assert read_token(token, SECRET, timedelta(hours=72), now + timedelta(hours=71)) == Grant(3, 14, 2)
    assert read_token(token, SECRET, timedelta(hours=72), now + timedelta(hours=73)) == Refused.expired
    assert read_token(token, "another key", timedelta(hours=72), now) == Refused.bad
    assert (
        read_token(token[:-1] + ("A" if token[-1] != "A" else "B"), SECRET, timedelta(hours=1), now)
        == Refused.bad
    )


def test_it_opens_the_step_without_login_and_acts(
    client: FlaskClient, session: Session, district: dict[str, User]
) -> None:
    case = awaiting(session, district)
    dm, cmho = district["dm"], district["cmho"]
    url = f"/act/{token_for(dm, case)}"
    response = client.get(url)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert case.number in page and 'id="form-assign"' in page and 'id="form-reject"' in page
    assert "Needs a hospital bed" in page
    assert client.get("/queue").status_code == 302  # the browser is signed in as nobody

    response = client.post(f"{url}/assign", data=assign_data(page, cmho))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert 'id="done"' in response.get_data(as_text=True)
    case = fresh(session, case)
    assert case.state == State.assigned and case.officer_id == cmho.id
    event = session.scalars(
        select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)
    ).all()[-1]
    assert (event.kind, event.by_user_id, event.via, event.text) == ("assign", dm.id, "link", "Go today")
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "act-link")).one()
    assert (entry.user_id, entry.target) == (dm.id, case.number)
    assert client.get("/queue").status_code == 302  # still nobody

    login(client, "collector")
    assert "by link" in client.get(f"/cases/{case.number}").get_data(as_text=True)
    assert "by link" in client.get(f"/cases/{case.number}/timeline").get_data(as_text=True)


def test_it_takes_the_officers_step_by_the_officers_link(
    client: FlaskClient, session: Session, district: dict[str, User]
) -> None:
    case = make_case(session, district["operator"], datetime.now(UTC))
    move(session, case, Action.assign, district["dm"], datetime.now(UTC), officer=district["cmho"])
    session.commit()
    url = f"/act/{token_for(district['cmho'], case)}"
    page = client.get(url).get_data(as_text=True)
    assert 'id="form-resolve"' in page and 'id="form-send_back"' in page and "form-assign" not in page
    data = {
        "resolve-csrf_token": csrf_token(page, "resolve"),
        "resolve-version": hidden(page, "resolve-version"),
        "resolve-text": "Bed arranged",
    }
    assert client.post(f"{url}/resolve", data=data).status_code == 200
    assert fresh(session, case).state == State.callback


@pytest.mark.parametrize("how", ["altered", "expired", "moved_on", "replayed", "wrong_role", "inactive"])
def test_it_refuses_a_dead_link_clearly_and_changes_nothing(
    client: FlaskClient, session: Session, district: dict[str, User], how: str
) -> None:
    case = awaiting(session, district)
    dm = district["dm"]
    token = token_for(dm, case)
    page = client.get(f"/act/{token}").get_data(as_text=True)  # a good page, to post from later
    expected = {"altered": 404, "expired": 410, "moved_on": 410, "replayed": 410, "wrong_role": 403}
    expected["inactive"] = 403
    if how == "altered":
        token = token[:-3] + ("abc" if not token.endswith("abc") else "xyz")
    elif how == "expired":
        token = token_for(dm, case, at=datetime.now(UTC) - timedelta(hours=73))
    elif how == "moved_on":
        move(session, case, Action.reject, district["dm"], datetime.now(UTC))
        session.commit()
    elif how == "replayed":
        assert (
            client.post(f"/act/{token}/assign", data=assign_data(page, district["cmho"])).status_code == 200
        )
    elif how == "wrong_role":
        token = token_for(district["operator"], case)
    else:
        session.get_one(User, dm.id).active = False
        session.commit()
    before = fresh(session, case).decisions
    events = len(fresh(session, case).events)

    shown = client.get(f"/act/{token}")
    posted = client.post(f"/act/{token}/assign", data=assign_data(page, district["dm"]))

    assert shown.status_code == posted.status_code == expected[how]
    assert 'id="refused"' in shown.get_data(as_text=True)
    if how in ("moved_on", "replayed"):
        assert "already taken" in shown.get_data(as_text=True)
    case = fresh(session, case)
    assert (case.decisions, len(case.events)) == (before, events)


def test_it_asks_the_pin_and_refuses_a_wrong_one(
    client: FlaskClient, session: Session, district: dict[str, User]
) -> None:
    case = awaiting(session, district)
    session.get_one(User, district["dm"].id).link_pin = generate_password_hash(
        "4821", method="pbkdf2:sha256:1000"
    )
    session.commit()
    url = f"/act/{token_for(district['dm'], case)}"
    page = client.get(url).get_data(as_text=True)
    assert 'name="assign-link-pin"' in page

    wrong = client.post(
        f"{url}/assign", data=assign_data(page, district["cmho"], **{"assign-link-pin": "1111"})
    )
    assert wrong.status_code == 400 and "Wrong PIN." in wrong.get_data(as_text=True)
    missing = client.post(f"{url}/assign", data=assign_data(page, district["cmho"]))
    assert missing.status_code == 400
    assert fresh(session, case).state == State.awaiting_assignment

    right = client.post(
        f"{url}/assign", data=assign_data(page, district["cmho"], **{"assign-link-pin": "4821"})
    )
    assert right.status_code == 200
    assert fresh(session, case).state == State.assigned


def test_it_records_seen_once_on_opening(
    client: FlaskClient, session: Session, district: dict[str, User]
) -> None:
    case = awaiting(session, district)
    dm = district["dm"]
    url = f"/act/{token_for(dm, case)}"
    assert client.get(url).status_code == 200
    session.expire_all()
    rows = session.scalars(select(Delivery).where(Delivery.case_id == case.id)).all()
    mine = [d for d in rows if d.user_id == dm.id]
    assert mine and all(d.seen_at is not None for d in mine)
    assert all(d.seen_at is None for d in rows if d.user_id != dm.id)
    first = [d.seen_at for d in mine]

    client.get(url)
    session.expire_all()
    assert [session.get_one(Delivery, d.id).seen_at for d in mine] == first


def test_it_sends_a_link_that_works(
    client: FlaskClient, session: Session, district: dict[str, User], settings: Settings
) -> None:
    case = awaiting(session, district)
    delivery = session.scalars(
        select(Delivery).where(Delivery.case_id == case.id, Delivery.user_id == district["dm"].id)
    ).first()
    assert delivery is not None
    body = compose(session, delivery, settings).body
    assert f"{settings.public_url}/cases/{case.number}" in body  # the case page, as before
    found = re.search(r"Act in one tap: (\S+)", body)
    assert found, body
    path = urlsplit(found.group(1)).path
    page = client.get(path).get_data(as_text=True)
    assert client.post(f"{path}/assign", data=assign_data(page, district["cmho"])).status_code == 200

    # Composed after the case moved on, the DM's message offers no step; the officer's does.
    session.expire_all()
    assert "Act in one tap" not in compose(session, session.get_one(Delivery, delivery.id), settings).body
    case = fresh(session, case)
    plan_deliveries(session, case.id, case.events[-1].id)
    session.commit()
    to_officer = session.scalars(
        select(Delivery).where(Delivery.case_id == case.id, Delivery.user_id == district["cmho"].id)
    ).first()
    assert to_officer is not None
    assert "Act in one tap" in compose(session, to_officer, settings).body


def test_it_marks_seen_from_the_case_page_and_shows_it(
    client: FlaskClient, session: Session, district: dict[str, User]
) -> None:
    case = awaiting(session, district)
    login(client, "dm")
    assert "not seen yet" in client.get("/queue").get_data(as_text=True)
    page = client.get(f"/cases/{case.number}").get_data(as_text=True)
    assert 'id="form-seen"' in page
    response = client.post(f"/cases/{case.number}/seen", data={"csrf_token": csrf_token(page)})
    assert response.headers["Location"] == f"/cases/{case.number}"
    page = client.get(f"/cases/{case.number}").get_data(as_text=True)
    assert 'id="seen-mine"' in page and "min after it was sent" in page and 'id="form-seen"' not in page
    queue = client.get("/queue").get_data(as_text=True)
    assert "not seen yet" not in queue and "seen " in queue


def test_it_sets_and_clears_a_link_pin_from_the_command_line(
    app: Flask, session: Session, district: dict[str, User]
) -> None:
    runner = app.test_cli_runner()
    assert runner.invoke(args=["set-link-pin", "dm"], input="12\n").exit_code != 0  # too short
    result = runner.invoke(args=["set-link-pin", "dm"], input="4821\n")
    assert result.exit_code == 0, result.output
    session.expire_all()
    stored = session.get_one(User, district["dm"].id).link_pin
    assert stored and check_password_hash(stored, "4821")
    assert runner.invoke(args=["set-link-pin", "dm", "--clear"]).exit_code == 0
    session.expire_all()
    assert session.get_one(User, district["dm"].id).link_pin is None


def test_it_stops_guessing_pins(settings: Settings, session: Session, district: dict[str, User]) -> None:
    from webapp import create_app

    client = create_app(replace(settings, login_limit_account="2 per 15 minutes")).test_client()
    case = awaiting(session, district)
    session.get_one(User, district["dm"].id).link_pin = generate_password_hash(
        "4821", method="pbkdf2:sha256:1000"
    )
    session.commit()
    url = f"/act/{token_for(district['dm'], case)}"
    page = client.get(url).get_data(as_text=True)
    wrong = assign_data(page, district["cmho"], **{"assign-link-pin": "1111"})
    assert [client.post(f"{url}/assign", data=wrong).status_code for _ in range(3)] == [400, 400, 429]
    right = assign_data(page, district["cmho"], **{"assign-link-pin": "4821"})
    assert client.post(f"{url}/assign", data=right).status_code == 429
    assert fresh(session, case).state == State.awaiting_assignment
