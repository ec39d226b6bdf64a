"""Many callers, one problem: suggestions at intake, a call attached to an open case, every caller told."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from models.cases.callers import NotOpen, attach_caller, likely_same
from models.cases.lifecycle import Action
from models.cases.tables import Case, CaseCaller, CaseEvent
from models.config import Settings
from models.messages import CallerMessage
from models.outbox import Outbox
from models.reference.tables import User
from notifications.caller import plan_caller_messages
from tests.casedata import ids, make_case, move
from tests.conftest import intake_data, login

NOW = datetime.now(UTC)


@pytest.fixture
def oxygen(session: Session, district: dict[str, User]) -> Case:
    """A village's oxygen complaint, open an hour."""
    case = make_case(
        session, district["operator"], NOW - timedelta(hours=1),
        category="bed", village="Bishrampur", phone="+919876500001",
        description="Oxygen supply failed at the Bishrampur health centre",
    )
    session.commit()
    return case


def test_it_suggests_the_likeliest_open_cases_first(
    session: Session, district: dict[str, User], oxygen: Case
) -> None:
    known = ids(session)
    by = district["operator"]
    elsewhere = make_case(session, by, NOW, village="Jayanagar", description="Oxygen shortage")
    closed = make_case(session, by, NOW, description="Oxygen supply failed again")
    move(session, closed, Action.reject, district["dm"], NOW)
    old = make_case(session, by, NOW - timedelta(days=30), description="Oxygen supply failed")
    session.commit()
    found = likely_same(
        session, NOW, village_id=known["Bishrampur"], category_id=known["bed"], phone="+919876500002",
        text="oxygen supply failed in our village",
    )
    numbers = [f.case.number for f in found]
    assert numbers[0] == oxygen.number and found[0].same_place and found[0].words >= 2
    assert elsewhere.number in numbers  # the words alone
    assert closed.number not in numbers and old.number not in numbers  # open, and of the last two weeks
    by_phone = likely_same(session, NOW, phone="+919876500001")
    assert [f.case.number for f in by_phone] == [oxygen.number] and by_phone[0].same_caller
    assert likely_same(session, NOW) == []


def test_it_shows_the_suggestions_beside_the_intake_form(
    client: FlaskClient, session: Session, district: dict[str, User], oxygen: Case
) -> None:
    login(client, "operator")
    known = ids(session)
    page = client.get("/cases/new").get_data(as_text=True)
    assert 'hx-get="/cases/similar"' in page and 'hx-include="#form-intake"' in page
    answer = client.get(
        "/cases/similar",
        query_string={"village": known["Bishrampur"], "category": known["bed"], "phone": "98765 00002"},
    ).get_data(as_text=True)
    assert oxygen.number in answer
    assert f'formaction="/cases/{oxygen.number}/attach"' in answer and 'form="form-intake"' in answer
    assert client.get("/cases/similar", query_string={"village": "x", "phone": "\u0905"}).status_code == 200


def test_it_attaches_a_call_and_texts_the_caller_the_number(
    client: FlaskClient, session: Session, district: dict[str, User], oxygen: Case, app: Flask
) -> None:
    app.config["SETTINGS"] = replace(app.config["SETTINGS"], sms_url="smscapture://gw/{phone}")
    login(client, "operator")
    data = intake_data(client, caller_name="दूसरे कॉलर", phone="98765 00002", language="en")
    response = client.post(f"/cases/{oxygen.number}/attach", data=data)
    assert response.status_code == 302 and response.location == f"/cases/{oxygen.number}"
    again = client.post(f"/cases/{oxygen.number}/attach", data=intake_data(client, phone="98765 00002"))
    assert again.status_code == 302  # the same caller twice: one caller
    (caller,) = session.scalars(select(CaseCaller).where(CaseCaller.case_id == oxygen.id)).all()
    assert (caller.caller_name, caller.phone, caller.language) == ("दूसरे कॉलर", "+919876500002", "en")
    event = session.get_one(CaseEvent, caller.event_id)
    assert event.kind == "caller_added" and event.to_state == oxygen.state
    (text,) = session.scalars(select(CallerMessage).where(CallerMessage.event_id == event.id)).all()
    assert (text.phone, text.status) == ("+919876500002", "pending")
    assert session.scalars(select(Outbox).where(Outbox.kind == "retries")).first() is not None
    assert session.scalar(select(Case.id).where(Case.phone == "+919876500002")) is None  # no new case
    page = client.get(f"/cases/{oxygen.number}").get_data(as_text=True)
    assert "Another caller about the same problem" in page and "दूसरे कॉलर" in page


@pytest.mark.parametrize(("field", "value"), [("phone", "12"), ("caller_name", ""), ("language", "fr")])
def test_it_refuses_a_bad_attachment_and_keeps_nothing(
    client: FlaskClient, session: Session, district: dict[str, User], oxygen: Case, field: str, value: str
) -> None:
    login(client, "operator")
    response = client.post(f"/cases/{oxygen.number}/attach", data=intake_data(client, **{field: value}))
    assert response.status_code == 400
    assert session.scalars(select(CaseCaller)).all() == []


def test_it_will_not_attach_to_a_case_no_longer_open(
    client: FlaskClient, session: Session, district: dict[str, User], oxygen: Case
) -> None:
    move(session, oxygen, Action.reject, district["dm"], NOW)
    session.commit()
    login(client, "operator")
    response = client.post(f"/cases/{oxygen.number}/attach", data=intake_data(client, phone="98765 00003"))
    assert response.status_code == 400 and "no longer open" in response.get_data(as_text=True)
    with pytest.raises(NotOpen):
        attach_caller(session, oxygen, caller_name="x", phone="+919876500003", language="hi",
                      by_user_id=district["operator"].id, now=NOW, text_caller=True)
    assert client.post("/cases/SRJ-2000-000000/attach", data=intake_data(client)).status_code == 404


def test_it_tells_every_caller_of_the_later_steps(
    session: Session, district: dict[str, User], oxygen: Case, settings: Settings
) -> None:
    for n, phone in enumerate(("+919876500002", "+919876500003")):
        attach_caller(session, oxygen, caller_name=f"caller {n}", phone=phone, language="hi",
                      by_user_id=district["operator"].id, now=NOW, text_caller=True)
    move(session, oxygen, Action.assign, district["dm"], NOW, officer=district["cmho"])
    session.commit()
    events = select(CaseEvent).where(CaseEvent.case_id == oxygen.id).order_by(CaseEvent.id)
    assign = session.scalars(events).all()[-1]
    gateway = replace(settings, sms_url="smscapture://gw/{phone}")
    planned = plan_caller_messages(session, oxygen.id, assign.id, gateway)
    assert plan_caller_messages(session, oxygen.id, assign.id, gateway) == planned  # once each
    phones = session.scalars(select(CallerMessage.phone).where(CallerMessage.id.in_(planned))).all()
    assert sorted(phones) == ["+919876500001", "+919876500002", "+919876500003"]
