"""Emergencies: straight to the officer on duty, the DM and the Collector told, the admission kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.cases.lifecycle import State
from models.cases.tables import Case
from models.db import get_sessionmaker
from models.duty.tables import Duty, DutyShift
from models.emergency.tables import Admission
from models.outbox import Outbox
from models.reference.tables import User
from notifications import plan_deliveries
from tests.conftest import csrf_token, decide, hidden, login


def on_duty(session: Session, user: User, duty: str = Duty.admission) -> None:
    now = datetime.now(UTC)
    session.add(
        DutyShift(
            duty=duty, user_id=user.id, starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=7)
        )
    )
    session.commit()


def emergency_data(client: FlaskClient, **overrides: object) -> dict[str, object]:
    page = client.get("/emergencies/new").get_data(as_text=True)
    return {
        "csrf_token": csrf_token(page),
        "token": hidden(page, "token"),
        "caller_name": "कमला बाई",
        "phone": "94252 00011",
        "village": 1,
        "description": "SpO2 88, साँस फूल रही है",
        **overrides,
    }


def test_it_sends_an_emergency_straight_to_the_officer_on_duty(
    client: FlaskClient, session: Session, district: dict[str, User]
) -> None:
    on_duty(session, district["bmo"])  # an earlier shift, overridden by the later one
    on_duty(session, district["cmho"])
    login(client, "operator")
    response = client.post("/emergencies/new", data=emergency_data(client), follow_redirects=True)
    assert response.status_code == 200
    assert "sent to" in response.get_data(as_text=True)
    case = session.scalars(select(Case).order_by(Case.id.desc())).first()
    assert case is not None
    assert (case.emergency, case.priority, case.state, case.officer_id) == (
        True, "urgent", State.assigned, district["cmho"].id,
    )  # fmt: skip
    assert case.caller_name == "कमला बाई" and case.category.code == "emergency"
    assert [(e.kind, e.by_user_id) for e in case.events] == [
        ("opened", district["operator"].id),
        ("assign", None),
    ]
    rows = session.scalars(select(Outbox).where(Outbox.case_id == case.id).order_by(Outbox.id)).all()
    assert [(r.kind, r.pause_key, r.payload.get("action")) for r in rows] == [
        ("start", "", None),
        ("resume", "decision-0", "assign"),
    ]
    # The DM and the Collector on every channel they have; the officer by the assignment.
    told = {d.user.username for d in _deliveries(session, case, 0)}
    assert told == {"dm", "collector"}
    assert {d.user.username for d in _deliveries(session, case, 1)} == {"cmho"}


def _deliveries(session: Session, case: Case, index: int) -> list:  # type: ignore[type-arg]
    from models.messages import Delivery

    ids = plan_deliveries(session, case.id, case.events[index].id)
    session.commit()
    return [session.get_one(Delivery, i) for i in ids]


def test_it_leaves_it_to_the_dm_when_nobody_is_on_duty(
    client: FlaskClient, session: Session, district: dict[str, User]
) -> None:
    session.query(DutyShift).delete()  # the demo district's roster
    session.commit()
    login(client, "operator")
    response = client.post("/emergencies/new", data=emergency_data(client), follow_redirects=True)
    assert "nobody is on duty" in response.get_data(as_text=True)
    case = session.scalars(select(Case).order_by(Case.id.desc())).first()
    assert case is not None and case.state == State.awaiting_assignment and case.emergency


def test_it_refuses_bad_input_and_other_roles(
    client: FlaskClient, session: Session, district: dict[str, User]
) -> None:
    login(client, "operator")
    response = client.post("/emergencies/new", data=emergency_data(client, phone="12", village=0))
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Enter a valid Indian phone number" in html and "Choose the caller" in html
    assert session.scalar(select(func.count()).select_from(Case)) == 0
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/queue").get_data(as_text=True))})
    login(client, "dm")
    assert client.get("/emergencies/new").status_code == 403


def test_it_records_the_admission_when_the_officer_resolves(
    client: FlaskClient, session: Session, district: dict[str, User], settings
) -> None:  # type: ignore[no-untyped-def]
    on_duty(session, district["cmho"])
    login(client, "operator")
    client.post("/emergencies/new", data=emergency_data(client))
    number = session.scalar(select(Case.number).order_by(Case.id.desc()))
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/queue").get_data(as_text=True))})
    login(client, "cmho")
    page = client.get(f"/cases/{number}").get_data(as_text=True)
    assert 'name="resolve-hospital"' in page
    missing = decide(client, number, "resolve", hospital="", bed="7")
    assert missing.status_code == 400
    done = decide(client, number, "resolve", hospital="जिला अस्पताल सूरजपुर", bed="ICU-3", ambulance="CG15 108")
    assert done.status_code == 302
    with get_sessionmaker(settings.database_url)() as fresh:
        admission = fresh.scalar(select(Admission))
        assert admission is not None
        assert (admission.hospital, admission.bed, admission.ambulance) == (
            "जिला अस्पताल सूरजपुर",
            "ICU-3",
            "CG15 108",
        )
        assert fresh.scalar(select(Case.state).where(Case.number == number)) == State.callback
    assert "जिला अस्पताल सूरजपुर" in client.get(f"/cases/{number}").get_data(as_text=True)


def test_it_turns_an_emergency_call_into_an_emergency_case(
    client: FlaskClient, session: Session, district: dict[str, User]
) -> None:
    from models.desk.tables import Call
    from tests.test_calls import call_data

    on_duty(session, district["cmho"])
    login(client, "operator")
    response = client.post("/calls", data=call_data(client, kind="emergency", note="साँस नहीं ले पा रहे"))
    call = session.scalars(select(Call)).one()
    assert response.headers["Location"] == f"/emergencies/new?call={call.id}"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "साँस नहीं ले पा रहे" in page and 'value="+919876543210"' in page
    data = emergency_data(client, call=str(call.id), phone="+919876543210", description="साँस नहीं ले पा रहे")
    assert client.post(f"/emergencies/new?call={call.id}", data=data).status_code == 302
    session.expire_all()
    case = session.scalars(select(Case)).one()
    assert session.get_one(Call, call.id).case_id == case.id and case.officer_id == district["cmho"].id


def test_it_badges_an_emergency_as_one_in_the_queue_and_the_case_list(
    client: FlaskClient, session: Session, district: dict[str, User]
) -> None:
    on_duty(session, district["cmho"])
    login(client, "operator")
    client.post("/emergencies/new", data=emergency_data(client))
    number = session.scalar(select(Case.number).order_by(Case.id.desc()))
    login(client, "cmho")
    for path in ("/queue", "/cases"):
        page = client.get(path).get_data(as_text=True)
        assert number in page
        # Its priority is urgent, but the officer must see at a glance that it is an emergency.
        assert '<span class="badge urgent">Emergency</span>' in page, path
        assert '<span class="badge urgent">Urgent</span>' not in page, path
