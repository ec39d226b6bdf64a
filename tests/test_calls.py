"""The call log: one screen per call, the caller's history, complaint calls opening a case."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.cases.tables import Case
from models.desk.calls import log_call
from models.desk.tables import Call
from models.reference.tables import Block, User, Village
from models.reference.villages import AmbiguousVillage, UnknownVillage, resolve_village
from tests.conftest import csrf_token, hidden, intake_data, login, open_case


def call_data(client: FlaskClient, **overrides: Any) -> dict[str, Any]:
    page = client.get("/calls").get_data(as_text=True)
    data = {
        "csrf_token": csrf_token(page),
        "phone": "98765 43210",
        "caller_name": "रामू यादव",
        "village": "Chando",
        "kind": "information",
        "note": "Asked where to get tested",
        "duration": "1:30",
    }
    data.update(overrides)
    return data


def calls(session: Session) -> list[Call]:
    session.expire_all()
    return list(session.scalars(select(Call).order_by(Call.id)))


@pytest.mark.parametrize("kind", ["information", "follow_up", "other"])
def test_it_logs_a_call_of_each_kind(
    client: FlaskClient, session: Session, district: dict[str, User], kind: str
) -> None:
    login(client, "operator")
    response = client.post("/calls", data=call_data(client, kind=kind))
    assert response.status_code == 302 and response.headers["Location"] == "/calls"
    [call] = calls(session)
    chando = session.scalars(select(Village).where(Village.name == "Chando")).one()
    assert (call.phone, call.caller_name, call.village_id, call.kind) == (
        "+919876543210",
        "रामू यादव",
        chando.id,
        kind,
    )
    assert (call.duration_seconds, call.by_user_id, call.case_id) == (90, district["operator"].id, None)
    page = client.get("/calls").get_data(as_text=True)
    assert "Call logged." in page and "Asked where to get tested" in page  # in the recent calls


def test_it_accepts_a_hindi_village_name_and_no_village(
    client: FlaskClient, session: Session, district: dict[str, User]
) -> None:
    login(client, "operator")
    assert client.post("/calls", data=call_data(client, village="चांदो (प्रतापपुर)")).status_code == 302
    assert client.post("/calls", data=call_data(client, village="", duration="")).status_code == 302
    first, second = calls(session)
    assert first.village is not None and first.village.name == "Chando"
    assert (second.village_id, second.duration_seconds) == (None, 0)


def test_it_reads_a_phone_typed_in_devanagari_digits(
    client: FlaskClient, session: Session, district: dict[str, User]
) -> None:
    login(client, "operator")
    assert client.post("/calls", data=call_data(client, phone="०९८७६५ ४३२१०")).status_code == 302
    assert [c.phone for c in calls(session)] == ["+919876543210"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"phone": "12345"}, "Enter a valid Indian phone number"),
        ({"phone": "+1 415 555 0100"}, "Enter a valid Indian phone number"),  # valid, but not Indian
        ({"phone": ""}, "This field is required."),
        ({"village": "Atlantis"}, "No village is called that"),
        ({"kind": "gossip"}, "Not a valid choice."),
        ({"duration": "soon"}, "Write the duration as minutes:seconds"),
        ({"duration": "25:00:00"}, "A call cannot last more than a day."),
        ({"note": "x" * 2001}, "Field cannot be longer than 2000 characters."),
    ],
)
def test_it_rejects_bad_input(
    client: FlaskClient, session: Session, district: dict[str, User], overrides: dict[str, str], message: str
) -> None:
    login(client, "operator")
    response = client.post("/calls", data=call_data(client, **overrides))
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert message in page and 'class="field has-error"' in page
    assert "रामू यादव" in page  # what was typed is kept
    assert calls(session) == []


def test_it_asks_for_the_block_when_a_village_name_is_in_two(
    client: FlaskClient, session: Session, district: dict[str, User]
) -> None:
    block = session.scalars(select(Block).where(Block.name == "Surajpur")).one()
    session.add(Village(block_id=block.id, name="Chando", name_hi="चांदो"))
    session.commit()
    login(client, "operator")
    response = client.post("/calls", data=call_data(client))
    assert response.status_code == 400
    assert "Chando (Pratappur), Chando (Surajpur)" in response.get_data(as_text=True)
    assert client.post("/calls", data=call_data(client, village="chando (surajpur)")).status_code == 302
    assert [c.village_id for c in calls(session)] == [
        block.id
        and session.scalars(
            select(Village.id).where(Village.name == "Chando", Village.block_id == block.id)
        ).one()
    ]


def test_it_resolves_villages(session: Session, district: dict[str, User]) -> None:
    assert resolve_village(session, " chando ").name == "Chando"
    assert resolve_village(session, "खरसुरा (प्रतापपुर)").name == "Kharsura"
    with pytest.raises(UnknownVillage):
        resolve_village(session, "Chando (Surajpur)")
    block = session.scalars(select(Block).where(Block.name == "Surajpur")).one()
    session.add(Village(block_id=block.id, name="Chando"))
    session.flush()
    with pytest.raises(AmbiguousVillage):
        resolve_village(session, "Chando")


def test_it_shows_a_callers_earlier_calls_and_cases(client: FlaskClient, district: dict[str, User]) -> None:
    login(client, "operator")
    number = open_case(client, phone="98765 43210")
    client.post("/calls", data=call_data(client, note="Second call about the bed"))
    page = client.get("/calls/history?phone=098765-43210").get_data(as_text=True)
    assert number in page and "Second call about the bed" in page and "<html" not in page
    other = client.get("/calls/history?phone=9425100001").get_data(as_text=True)
    assert "No earlier calls or cases from +919425100001" in other
    assert "सुनीता देवी" in other  # the Mitanin of Bishrampur calling
    assert client.get("/calls/history?phone=98").get_data(as_text=True).strip() == ""


def test_it_looks_up_a_caller_without_javascript(
    client: FlaskClient, session: Session, district: dict[str, User]
) -> None:
    login(client, "operator")
    number = open_case(client, phone="98765 43210")
    response = client.post("/calls", data=call_data(client, lookup="1", note="still typing"))
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert number in page and "still typing" in page
    assert calls(session) == []


def test_it_suggests_villages_as_typed(client: FlaskClient, district: dict[str, User]) -> None:
    login(client, "operator")
    assert client.get("/calls/villages?q=kh").get_json() == ["Kharsura (Pratappur)"]
    assert client.get("/calls/villages?q=बिश").get_json() == ["Bishrampur (Surajpur)"]
    assert client.get("/calls/villages?q=k").get_json() == []


def test_it_opens_a_case_from_a_complaint_call(
    client: FlaskClient, session: Session, district: dict[str, User]
) -> None:
    login(client, "operator")
    response = client.post("/calls", data=call_data(client, kind="complaint", note="Needs oxygen"))
    [call] = calls(session)
    assert response.headers["Location"] == f"/cases/new?call={call.id}"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'value="+919876543210"' in page and 'value="रामू यादव"' in page and "Needs oxygen" in page
    assert f'name="call" type="hidden" value="{call.id}"' in page
    assert f'<option selected value="{call.village_id}">' in page
    data = {
        "csrf_token": csrf_token(page),
        "token": hidden(page, "token"),
        "call": str(call.id),
        "caller_name": "रामू यादव",
        "phone": "+919876543210",
        "village": str(call.village_id),
        "category": "3",
        "priority": "urgent",
        "description": "Needs oxygen",
    }
    response = client.post(f"/cases/new?call={call.id}", data=data)
    assert response.status_code == 302
    case = session.scalars(select(Case)).one()
    assert response.headers["Location"] == f"/cases/{case.number}"
    assert calls(session)[0].case_id == case.id
    assert (case.caller_name, case.village_id) == ("रामू यादव", call.village_id)


def test_it_keeps_another_operators_call_private(
    client: FlaskClient, session: Session, district: dict[str, User]
) -> None:
    call = log_call(
        session, phone="+919876543210", kind="complaint", by=district["admin"], now=datetime.now(UTC)
    )
    session.commit()
    login(client, "operator")
    assert client.get(f"/cases/new?call={call.id}").status_code == 403
    assert client.get("/cases/new?call=999").status_code == 404
    response = client.post("/cases/new", data=intake_data(client, call=str(call.id)))
    assert response.status_code == 403
    assert session.scalar(select(func.count()).select_from(Case)) == 0


def test_it_needs_a_csrf_token(client: FlaskClient, session: Session, district: dict[str, User]) -> None:
    login(client, "operator")
    data = call_data(client)
    del data["csrf_token"]
    assert client.post("/calls", data=data).status_code == 400
    assert calls(session) == []


@pytest.mark.parametrize("username", ["dm", "cmho", "collector"])
def test_it_is_for_operators_only(client: FlaskClient, district: dict[str, User], username: str) -> None:
    login(client, username)
    assert client.get("/calls").status_code == 403
    assert client.get("/calls/history?phone=9876543210").status_code == 403
    page = client.get("/queue").get_data(as_text=True)
    assert client.post("/calls", data={"csrf_token": csrf_token(page)}).status_code == 403
