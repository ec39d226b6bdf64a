"""The Open311 GeoReport v2 API over HTTP, in JSON and XML, checked against the spec's field lists."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.etree import ElementTree

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from models.api.tables import ApiKey
from models.cases.lifecycle import Action
from models.cases.tables import Case, CaseEvent
from models.config import Settings
from models.emergency.cases import emergency_category
from models.outbox import Outbox
from models.oversight.tables import AuditEntry
from models.reference.tables import User
from models.times import india_day
from tests.casedata import make_case, move
from tests.conftest import login

# The spec's fields (http://wiki.open311.org/GeoReport_v2), in its order.
SERVICE = ["service_code", "service_name", "description", "metadata", "type", "keywords", "group"]
DEFINITION = ["service_code", "attributes"]
ATTRIBUTE = [
    "variable",
    "code",
    "datatype",
    "required",
    "datatype_description",
    "order",
    "description",
    "values",
]
REQUEST = [
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
]
FILED = ["service_request_id", "service_notice", "account_id"]
ERROR = ["code", "description"]
CALLER = {"first_name": "Ramkali", "last_name": "Paikra", "phone": "98271 55512"}
FORMATS = ("json", "xml")


@pytest.fixture
def key(app: Flask, district: dict[str, User]) -> str:
    """A key made through the CLI, as an administrator makes one."""
    result = app.test_cli_runner().invoke(args=["api-key", "make", "cg-portal"])
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1]


def read(response: Any, fmt: str) -> Any:
    """The body as plain data: JSON as it is; XML as (root tag, [children as dicts or lists])."""
    if fmt == "json":
        assert response.content_type == "application/json; charset=utf-8"
        return json.loads(response.get_data(as_text=True))
    assert response.content_type == "text/xml; charset=utf-8"
    return ElementTree.fromstring(response.get_data())


def fields_of(node: ElementTree.Element) -> list[str]:
    return [child.tag for child in node]


def items(body: Any, fmt: str, root: str, item: str) -> list[dict[str, Any]]:
    """The list a call answers, each item's fields by name (XML text; "" for an empty element)."""
    if fmt == "json":
        assert isinstance(body, list)
        return body  # type: ignore[no-any-return]
    assert body.tag == root
    assert all(child.tag == item for child in body)
    return [{f.tag: f.text or "" for f in child} | {"_fields": fields_of(child)} for child in body]


def keys_of(entry: dict[str, Any], fmt: str) -> list[str]:
    return list(entry["_fields"]) if fmt == "xml" else list(entry)


def post(client: FlaskClient, fmt: str = "json", **fields: Any) -> Any:
    data = {"service_code": "bed", "attribute[village]": "Chando", "description": "Needs a bed"} | CALLER
    data.update(fields)
    return client.post(f"/open311/v2/requests.{fmt}", data={k: v for k, v in data.items() if v is not None})


def error_of(response: Any, fmt: str, status: int) -> str:
    """The description of the spec's error answer, after checking its shape and status."""
    assert response.status_code == status, response.get_data(as_text=True)
    body = read(response, fmt)
    [error] = items(body, fmt, "errors", "error")
    assert keys_of(error, fmt) == ERROR
    assert str(error["code"]) == str(status)
    return str(error["description"])


@pytest.mark.parametrize("fmt", FORMATS)
def test_it_lists_the_categories_as_services_but_not_the_emergency_path(
    client: FlaskClient, session: Session, district: dict[str, User], fmt: str
) -> None:
    emergency_category(session)
    session.commit()
    response = client.get(f"/open311/v2/services.{fmt}")
    assert response.status_code == 200
    services = items(read(response, fmt), fmt, "services", "service")
    assert {s["service_code"] for s in services} == {
        "bed",
        "ambulance",
        "oxygen",
        "medicine",
        "home_isolation",
        "ration",
        "other",
    }
    assert all(keys_of(s, fmt) == SERVICE for s in services)
    bed = next(s for s in services if s["service_code"] == "bed")
    assert bed["service_name"] == "Hospital bed" and bed["group"] == "Health"
    assert str(bed["metadata"]).lower() == "true" and bed["type"] == "realtime"


@pytest.mark.parametrize("fmt", FORMATS)
def test_it_defines_the_village_attribute(client: FlaskClient, district: dict[str, User], fmt: str) -> None:
    response = client.get(f"/open311/v2/services/bed.{fmt}")
    assert response.status_code == 200
    body = read(response, fmt)
    if fmt == "xml":
        assert body.tag == "service_definition" and fields_of(body) == DEFINITION
        [attribute] = body.find("attributes")  # type: ignore[union-attr]
        assert attribute.tag == "attribute" and fields_of(attribute) == ATTRIBUTE
        values = [(v.findtext("key"), v.findtext("name")) for v in attribute.find("values")]  # type: ignore[union-attr]
        assert attribute.findtext("code") == "village" and attribute.findtext("required") == "true"
    else:
        assert list(body) == DEFINITION and body["service_code"] == "bed"
        [attribute] = body["attributes"]
        assert (
            list(attribute) == ATTRIBUTE and attribute["code"] == "village" and attribute["required"] is True
        )
        assert attribute["datatype"] == "singlevaluelist"
        values = [(v["key"], v["name"]) for v in attribute["values"]]
    assert ("Chando (Pratappur)" in [name for _, name in values]) and len(values) == 5


@pytest.mark.parametrize("fmt", FORMATS)
def test_it_files_a_request_as_a_case_with_its_outbox_row(
    client: FlaskClient, session: Session, key: str, fmt: str
) -> None:
    response = post(client, fmt, api_key=key, description="बिस्तर चाहिए, ऑक्सीजन कम है")
    assert response.status_code == 200, response.get_data(as_text=True)
    [filed] = items(read(response, fmt), fmt, "service_requests", "request")
    assert keys_of(filed, fmt) == FILED
    case = session.scalars(select(Case).where(Case.number == filed["service_request_id"])).one()
    assert case.channel == "api" and case.phone == "+919827155512" and case.caller_name == "Ramkali Paikra"
    assert (
        case.village.name == "Chando" and case.category.code == "bed" and case.state == "awaiting_assignment"
    )
    assert case.created_by.name == "API client cg-portal" and not case.created_by.active
    assert case.description == "बिस्तर चाहिए, ऑक्सीजन कम है"
    start = session.scalars(select(Outbox).where(Outbox.case_id == case.id)).one()
    assert start.kind == "start" and start.payload["case_number"] == case.number
    opened = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id)).one()
    assert opened.kind == "opened" and opened.by_user_id == case.created_by_id
    audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "api-request")).one()
    assert audit.target == case.number and audit.user_id == case.created_by_id
    assert session.scalars(select(ApiKey)).one().last_used_at is not None
    # The Hindi description comes back as it went in, in either format.
    again = client.get(f"/open311/v2/requests/{case.number}.{fmt}")
    [request] = items(read(again, fmt), fmt, "service_requests", "request")
    assert request["description"] == "बिस्तर चाहिए, ऑक्सीजन कम है"


def test_the_case_page_shows_the_channel(
    client: FlaskClient, session: Session, district: dict[str, User], key: str
) -> None:
    number = post(client, api_key=key).get_json()[0]["service_request_id"]
    desk = make_case(session, district["operator"], datetime.now(UTC))
    session.commit()
    assert desk.channel == "phone"
    login(client, "dm")
    page = client.get(f"/cases/{number}").get_data(as_text=True)
    assert "API client cg-portal" in page and "through the Open311 API" in page
    page = client.get(f"/cases/{desk.number}").get_data(as_text=True)
    assert "Sunita Operator" in page and "by phone" in page and "Open311" not in page


@pytest.mark.parametrize("fmt", FORMATS)
def test_it_refuses_a_body_over_the_size_limit_in_the_spec_format(
    client: FlaskClient, session: Session, key: str, fmt: str
) -> None:
    response = post(client, fmt, api_key=key, description="x" * 2_000_000)
    assert error_of(response, fmt, 413)
    assert session.scalars(select(Case)).all() == []


@pytest.mark.parametrize(
    ("fields", "village"),
    [
        ({"attribute[village]": "चांदो"}, "Chando"),
        ({"attribute[village]": "4"}, "Kharsura"),
        ({"attribute[village]": None, "address_string": "Near the school, Jayanagar, Surajpur"}, "Jayanagar"),
        ({"attribute[village]": None, "address_id": "1"}, "Bishrampur"),
    ],
)
def test_it_finds_the_village_by_name_key_or_address(
    client: FlaskClient, session: Session, key: str, fields: dict[str, Any], village: str
) -> None:
    response = post(client, api_key=key, **fields)
    assert response.status_code == 200, response.get_data(as_text=True)
    number = response.get_json()[0]["service_request_id"]
    assert session.scalars(select(Case).where(Case.number == number)).one().village.name == village


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    ("fields", "status", "says"),
    [
        ({"api_key": None}, 403, "api_key"),
        ({"api_key": "not-a-key"}, 403, "api_key"),
        ({"service_code": "nothing"}, 400, "service_code"),
        ({"service_code": "emergency"}, 400, "service_code"),
        ({"service_code": None}, 400, "service_code"),
        ({"phone": None}, 400, "phone"),
        ({"phone": "12345"}, 400, "phone"),
        ({"attribute[village]": None}, 400, "village"),
        ({"attribute[village]": "Atlantis"}, 400, "village"),
        ({"attribute[village]": "999"}, 400, "village"),
        ({"attribute[village]": None, "address_string": "Main road"}, 400, "village"),
        ({"description": None}, 400, "description"),
        ({"description": "x" * 100_000}, 400, "description"),
        ({"description": "a\x00b"}, 400, "NUL"),
        ({"first_name": "\x00"}, 400, "NUL"),
        ({"jurisdiction_id": "another-district"}, 404, "jurisdiction_id"),
    ],
)
def test_it_refuses_a_bad_post_in_the_spec_format(
    client: FlaskClient, session: Session, key: str, fmt: str, fields: dict[str, Any], status: int, says: str
) -> None:
    response = post(client, fmt, **({"api_key": key} | fields))
    assert says in error_of(response, fmt, status)
    assert session.scalars(select(Case)).all() == []
    assert session.scalars(select(Outbox)).all() == []


def test_it_refuses_a_revoked_key_and_records_every_post(
    app: Flask, client: FlaskClient, session: Session, key: str
) -> None:
    assert post(client, api_key=key).status_code == 200
    result = app.test_cli_runner().invoke(args=["api-key", "revoke", "cg-portal"])
    assert result.exit_code == 0, result.output
    assert "api_key" in error_of(post(client, api_key=key), "json", 403)
    assert session.scalars(select(ApiKey)).one().revoked_at is not None
    assert [e.action for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))] == [
        "api-request",
        "api-refused",
    ]
    # A revoked client gets a new key; the old one stays refused.
    again = app.test_cli_runner().invoke(args=["api-key", "make", "cg-portal"])
    assert again.exit_code == 0, again.output
    new_key = again.output.strip().splitlines()[-1]
    assert new_key != key
    assert post(client, api_key=new_key).status_code == 200
    assert post(client, api_key=key).status_code == 403


def test_the_cli_refuses_a_second_key_in_use_and_an_unknown_name(app: Flask, key: str) -> None:
    runner = app.test_cli_runner()
    assert runner.invoke(args=["api-key", "make", "cg-portal"]).exit_code != 0
    assert runner.invoke(args=["api-key", "revoke", "nobody"]).exit_code != 0
    assert runner.invoke(args=["api-key", "make", "bad name!"]).exit_code != 0


@pytest.fixture
def cases(session: Session, district: dict[str, User], key: str, client: FlaskClient) -> dict[str, str]:
    """Desk cases: open (a Hindi caller, an officer), closed, 100 days old, an emergency; one from the API."""
    now = datetime.now(UTC)
    operator = district["operator"]
    open_ = make_case(session, operator, now - timedelta(hours=1), caller="रामप्रसाद", phone="+919811122233")
    move(session, open_, Action.assign, district["dm"], now - timedelta(minutes=50), officer=district["cmho"])
    closed = make_case(session, operator, now - timedelta(hours=2), category="ration", phone="+919811122244")
    move(session, closed, Action.reject, district["dm"], now - timedelta(hours=1))
    old = make_case(session, operator, now - timedelta(days=100), phone="+919811122255")
    emergency = make_case(session, operator, now - timedelta(hours=3), phone="+919811122266")
    emergency.emergency = True
    session.commit()
    filed = post(client, api_key=key).get_json()[0]["service_request_id"]
    return {
        "open": str(open_.number),
        "closed": str(closed.number),
        "old": str(old.number),
        "emergency": str(emergency.number),
        "api": filed,
    }


def numbers(client: FlaskClient, query: str, fmt: str = "json") -> list[str]:
    response = client.get(f"/open311/v2/requests.{fmt}?{query}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return [r["service_request_id"] for r in items(read(response, fmt), fmt, "service_requests", "request")]


@pytest.mark.parametrize("fmt", FORMATS)
def test_it_lists_requests_in_the_spec_fields_without_personal_data(
    client: FlaskClient, cases: dict[str, str], district: dict[str, User], fmt: str
) -> None:
    response = client.get(f"/open311/v2/requests.{fmt}")
    listed = items(read(response, fmt), fmt, "service_requests", "request")
    assert [r["service_request_id"] for r in listed] == [cases["api"], cases["open"], cases["closed"]]
    assert all(keys_of(r, fmt) == REQUEST for r in listed)
    by_number = {r["service_request_id"]: r for r in listed}
    assert by_number[cases["open"]]["status"] == "open" and by_number[cases["closed"]]["status"] == "closed"
    assert by_number[cases["open"]]["agency_responsible"] == "Health"
    assert by_number[cases["api"]]["address"] == "Chando (Pratappur)"
    assert by_number[cases["open"]]["status_notes"]
    assert datetime.fromisoformat(by_number[cases["open"]]["requested_datetime"]).utcoffset() == timedelta(
        hours=5, minutes=30
    )
    # Nobody's name or number, in any GET: not the callers', not the officers'.
    bodies = [response.get_data(as_text=True)]
    for number in cases.values():
        bodies.append(client.get(f"/open311/v2/requests/{number}.{fmt}").get_data(as_text=True))
    everything = "\n".join(bodies)
    for secret in ("Ramkali", "Paikra", "9827155512", "रामप्रसाद", "981112", "Ramu", "Yadav"):
        assert secret not in everything
    for person in ("operator", "cmho", "bmo"):  # the others' names are their posts ("Collector")
        assert district[person].name not in everything


def test_it_filters_requests(client: FlaskClient, cases: dict[str, str]) -> None:
    assert numbers(client, "status=closed") == [cases["closed"]]
    assert numbers(client, "status=open") == [cases["api"], cases["open"]]
    assert numbers(client, "status=open,closed") == [cases["api"], cases["open"], cases["closed"]]
    assert numbers(client, "service_code=ration") == [cases["closed"]]
    assert numbers(client, "service_code=ration,bed") == [cases["api"], cases["open"], cases["closed"]]
    ids = ",".join([cases["old"], cases["closed"], cases["emergency"], "SRJ-1999-000001"])
    assert numbers(client, f"service_request_id={ids}") == [cases["closed"], cases["old"]]
    now = datetime.now(UTC)
    start = (now - timedelta(days=120)).strftime("%Y-%m-%dT%H:%M:%SZ")
    end = (now - timedelta(days=99)).isoformat(timespec="seconds")
    assert numbers(client, f"start_date={start}&end_date={end.replace('+', '%2B')}") == [cases["old"]]
    assert numbers(client, f"start_date={start}") == [
        cases["api"],
        cases["open"],
        cases["closed"],
        cases["old"],
    ]
    # An unencoded "+05:30" arrives as " 05:30", and a day alone is India's midnight.
    day = (india_day(now) + timedelta(days=1)).isoformat()  # tomorrow in India, whatever UTC's date
    assert numbers(client, f"start_date={day}T00:00:00+05:30") == []
    assert numbers(client, f"start_date={day}") == []


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    ("path", "status", "says"),
    [
        ("requests.{fmt}?start_date=yesterday", 400, "start_date"),
        ("requests.{fmt}?end_date=2026-02-30", 400, "end_date"),
        ("requests.{fmt}?start_date=0001-01-01", 400, "start_date"),
        ("requests.{fmt}?start_date=2026-03-02&end_date=2026-03-01", 400, "start_date"),
        ("requests.{fmt}?status=pending", 400, "status"),
        ("requests.{fmt}?service_code=a%00b", 400, "NUL"),
        ("requests.{fmt}?jurisdiction_id=elsewhere", 404, "jurisdiction_id"),
        ("requests/SRJ-2026-999999.{fmt}", 404, "not found"),
        ("requests/%E0%A4%95.{fmt}", 404, "not found"),
        ("services/nothing.{fmt}", 404, "service_code"),
        ("services/emergency.{fmt}", 404, "service_code"),
    ],
)
def test_it_refuses_a_bad_get_in_the_spec_format(
    client: FlaskClient,
    session: Session,
    district: dict[str, User],
    fmt: str,
    path: str,
    status: int,
    says: str,
) -> None:
    emergency_category(session)
    session.commit()
    assert says in error_of(client.get("/open311/v2/" + path.format(fmt=fmt)), fmt, status)


@pytest.mark.parametrize("fmt", FORMATS)
def test_it_refuses_ten_thousand_ids_at_once(
    client: FlaskClient, district: dict[str, User], fmt: str
) -> None:
    ids = ",".join(f"SRJ-2026-{n:06d}" for n in range(10_000))
    assert "1000" in error_of(client.get(f"/open311/v2/requests.{fmt}?service_request_id={ids}"), fmt, 400)


@pytest.mark.parametrize("path", ["services.html", "requests.csv", "services/bed.yaml"])
def test_an_unknown_format_is_not_found(client: FlaskClient, district: dict[str, User], path: str) -> None:
    assert "format" in error_of(client.get(f"/open311/v2/{path}"), "json", 404)


def test_the_jurisdiction_may_be_named(client: FlaskClient, district: dict[str, User]) -> None:
    assert client.get("/open311/v2/services.json?jurisdiction_id=srj").status_code == 200
    assert client.get("/open311/v2/services.json?jurisdiction_id=Surajpur").status_code == 200


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, open311_post_limit="5 per minute")


@pytest.mark.parametrize("fmt", FORMATS)
def test_it_limits_posts_per_key(
    app: Flask, client: FlaskClient, key: str, session: Session, fmt: str
) -> None:
    for _ in range(5):
        assert post(client, fmt, api_key=key).status_code == 200
    response = post(client, fmt, api_key=key)
    assert "too many" in error_of(response, fmt, 429)
    assert int(response.headers["Retry-After"]) > 0
    assert len(session.scalars(select(Case)).all()) == 5
    # Another client's key counts on its own.
    other = (
        app.test_cli_runner().invoke(args=["api-key", "make", "sms-gateway"]).output.strip().splitlines()[-1]
    )
    assert post(client, fmt, api_key=other).status_code == 200
