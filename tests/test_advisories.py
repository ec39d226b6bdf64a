"""Health advisories: recipients, one delivery per patient, SMS through Apprise, the pages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from apprise.decorators import notify
from flask.testing import FlaskClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from models.advisories.sending import StaleReview, create_advisory, planned_deliveries, review, tallies
from models.advisories.tables import Advisory, AdvisoryDelivery
from models.config import Settings
from models.db import get_sessionmaker
from models.homecare.tables import Patient, PatientStatus
from models.outbox import Outbox
from models.reference.tables import User, Village
from notifications.mailsink import body_text, read_messages, start
from notifications.sms import advisory_template_names, advisory_text, send_advisory_delivery
from tests.conftest import csrf_token, hidden, login
from tests.helpers import free_port
from webapp import create_app

CAPTURED: list[dict[str, Any]] = []
NOW = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)


@notify(on="smscapture")
def capture(body: str, title: str, notify_type: str, meta: dict[str, Any], *args: Any, **kwargs: Any) -> bool:
    CAPTURED.append({"title": title, "body": body, "url": meta["url"]})
    return True


def sms_template(port: int) -> str:
    """An SMS_URL that delivers each "SMS" as a mail to sms+<number>@sms.test.local."""
    return f"mailto://127.0.0.1:{port}?from=control-room@test.local&to=sms{{phone}}@sms.test.local"


@pytest.fixture
def smtp_port() -> int:
    return free_port()


@pytest.fixture
def settings(settings: Settings, smtp_port: int) -> Settings:
    return replace(settings, sms_url=sms_template(smtp_port), notify_timeout=5)


@pytest.fixture
def smtp(tmp_path: Path, smtp_port: int) -> Iterator[Path]:
    controller = start(tmp_path / "inbox", port=smtp_port)
    yield tmp_path / "inbox"
    controller.stop()


def village(session: Session, name: str) -> Village:
    found = session.scalar(select(Village).where(Village.name == name))
    assert found is not None
    return found


def make_patient(session: Session, village_name: str = "Chando", **overrides: Any) -> Patient:
    values: dict[str, Any] = {
        "name": "Ramu Yadav",
        "phone": "+919425210001",
        "village_id": village(session, village_name).id,
        "isolation_start": date(2026, 11, 20),
        "isolation_end": date(2026, 11, 30),
    }
    values.update(overrides)
    patient = Patient(**values)
    session.add(patient)
    session.flush()
    return patient


@pytest.fixture
def patients(session: Session, district: dict[str, User]) -> dict[str, Patient]:
    """Two in isolation in Chando, one in Sawaraon; one admitted and one discharged (never messaged).

    The demo's own patients are discharged first, so these are the only ones in isolation.
    """
    session.execute(update(Patient).values(status=PatientStatus.discharged))
    made = {
        "ramu": make_patient(session, "Chando", name="Ramu Yadav", phone="+919425210001"),
        "sita": make_patient(session, "Chando", name="सीता बाई", phone="+919425210002"),
        "mohan": make_patient(session, "Sawaraon", name="Mohan Sahu", phone="+919425210003"),
        "admitted": make_patient(
            session, "Chando", name="Admitted", phone="+919425210004", status=PatientStatus.admitted
        ),
        "discharged": make_patient(
            session, "Sawaraon", name="Discharged", phone="+919425210005", status=PatientStatus.discharged
        ),
    }
    session.commit()
    return made


def advise(session: Session, by: User, village_name: str | None = None, **overrides: Any) -> Advisory:
    values: dict[str, Any] = {
        "title": "खतरे के लक्षण",
        "body": "साँस लेने में तकलीफ़ हो तो तुरंत 108 पर फ़ोन करें।",
        "language": "hi",
        "village_id": village(session, village_name).id if village_name else None,
        "by": by,
        "now": datetime.now(UTC),
    }
    values.update(overrides)
    draft = {k: values[k] for k in ("title", "body", "language", "village_id")}
    advisory = create_advisory(session, **values, reviewed=review(session, **draft).key)
    session.commit()
    return advisory


def phones(session: Session, ids: list[int]) -> list[str]:
    rows = session.scalars(select(AdvisoryDelivery).where(AdvisoryDelivery.id.in_(ids)))
    return sorted(d.phone for d in rows)


@pytest.mark.parametrize(
    ("village_name", "expected"),
    [
        (None, ["+919425210001", "+919425210002", "+919425210003"]),
        ("Chando", ["+919425210001", "+919425210002"]),
        ("Sawaraon", ["+919425210003"]),
    ],
)
def test_it_sends_to_patients_in_isolation_in_the_village_or_all(
    session: Session,
    district: dict[str, User],
    patients: dict[str, Patient],
    village_name: str | None,
    expected: list[str],
) -> None:
    advisory = advise(session, district["operator"], village_name)
    assert phones(session, planned_deliveries(session, advisory.id)) == expected


def test_it_writes_the_advisory_with_its_deliveries_and_an_outbox_row(
    session: Session, district: dict[str, User], patients: dict[str, Patient]
) -> None:
    advisory = advise(session, district["operator"], "Chando", title="  Camp  ")
    row = session.scalar(select(Outbox).where(Outbox.kind == "advisory"))
    assert row is not None and row.case_id is None and row.payload == {"advisory_id": advisory.id}
    assert advisory.title == "Camp" and advisory.sent_at is None
    deliveries = session.scalars(select(AdvisoryDelivery).order_by(AdvisoryDelivery.id)).all()
    assert [(d.patient_id, d.phone, d.status) for d in deliveries] == [
        (patients["ramu"].id, "+919425210001", "pending"),
        (patients["sita"].id, "+919425210002", "pending"),
    ]
    draft = {"title": "x", "body": "y", "language": "fr", "village_id": None}
    with pytest.raises(ValueError):
        create_advisory(session, **draft, reviewed=review(session, **draft).key, by=district["dm"], now=NOW)
    nobody = {**draft, "language": "en", "village_id": village(session, "Kharsura").id}
    with pytest.raises(ValueError, match="nobody"):
        create_advisory(session, **nobody, reviewed=review(session, **nobody).key, by=district["dm"], now=NOW)


def test_it_sends_only_to_the_patients_the_sender_reviewed(
    session: Session, district: dict[str, User], patients: dict[str, Patient]
) -> None:
    draft = {"title": "Camp", "body": "Vaccination camp on Monday", "language": "en", "village_id": None}
    reviewed = review(session, **draft)
    assert [p for p, _ in reviewed.patients] == [patients[n].id for n in ("ramu", "sita", "mohan")]
    make_patient(session, "Kharsura", name="Late", phone="+919425210009")  # imported after the review
    session.commit()
    with pytest.raises(StaleReview):
        create_advisory(session, **draft, reviewed=reviewed.key, by=district["dm"], now=NOW)
    session.rollback()
    edited = {**draft, "body": "Vaccination camp on Tuesday"}  # the text changed after the review too
    with pytest.raises(StaleReview):
        create_advisory(session, **edited, reviewed=review(session, **draft).key, by=district["dm"], now=NOW)
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Advisory)) == 0

    again = review(session, **draft)
    advisory = create_advisory(session, **draft, reviewed=again.key, by=district["dm"], now=NOW)
    session.commit()
    frozen = planned_deliveries(session, advisory.id)
    assert len(frozen) == 4
    make_patient(session, "Chando", name="Later", phone="+919425210010")  # after the confirmation
    session.commit()
    assert planned_deliveries(session, advisory.id) == frozen  # the run (and a retried one) sends these
    assert sorted(phones(session, frozen)) == [
        "+919425210001",
        "+919425210002",
        "+919425210003",
        "+919425210009",
    ]


def send_all(settings: Settings, session: Session, advisory_id: int) -> list[bool]:
    ids = planned_deliveries(session, advisory_id)
    session.commit()
    factory = get_sessionmaker(settings.database_url)
    return [send_advisory_delivery(factory, i, settings) for i in ids]


def test_it_sends_each_patient_one_sms_in_hindi(
    settings: Settings, session: Session, smtp: Path, district: dict[str, User], patients: dict[str, Patient]
) -> None:
    advisory = advise(session, district["operator"], "Chando")
    assert send_all(settings, session, advisory.id) == [True, True]
    assert send_all(settings, session, advisory.id) == [True, True]  # already sent: not again
    messages = read_messages(smtp)
    assert sorted(m["X-Envelope-To"] for m in messages) == [
        "sms+919425210001@sms.test.local",
        "sms+919425210002@sms.test.local",
    ]
    assert {m["Subject"] for m in messages} == {"खतरे के लक्षण"}
    assert all("तुरंत 108 पर फ़ोन करें" in body_text(m) for m in messages)
    session.expire_all()
    rows = session.scalars(select(AdvisoryDelivery)).all()
    assert {(d.status, d.attempts, d.last_error) for d in rows} == {("sent", 1, "")}
    assert all(d.sent_at is not None and d.channel.startswith("mailto://127.0.0.1") for d in rows)
    assert tallies(session, [advisory.id])[advisory.id].sent == 2


def test_it_sends_through_any_apprise_plugin(
    settings: Settings, session: Session, district: dict[str, User], patients: dict[str, Patient]
) -> None:
    CAPTURED.clear()
    gateway = replace(settings, sms_url="smscapture://gateway/{phone}")
    advisory = advise(
        session, district["dm"], "Sawaraon", title="Camp", body="Vaccination camp on Monday", language="en"
    )
    assert send_all(gateway, session, advisory.id) == [True]
    assert len(CAPTURED) == 1 and CAPTURED[0]["body"] == "Vaccination camp on Monday"
    assert "919425210003" in CAPTURED[0]["url"]


def test_it_records_a_failure_and_sends_once_on_retry(
    settings: Settings,
    session: Session,
    tmp_path: Path,
    smtp_port: int,
    district: dict[str, User],
    patients: dict[str, Patient],
) -> None:
    advisory = advise(session, district["operator"], "Chando")
    assert send_all(settings, session, advisory.id) == [False, False]  # nothing listens yet
    session.expire_all()
    failed = session.scalars(select(AdvisoryDelivery)).all()
    assert all(d.status == "failed" and d.attempts == 1 and d.last_error for d in failed)
    controller = start(tmp_path / "late", port=smtp_port)
    try:
        assert send_all(settings, session, advisory.id) == [True, True]
        assert send_all(settings, session, advisory.id) == [True, True]
    finally:
        controller.stop()
    assert len(read_messages(tmp_path / "late")) == 2
    session.expire_all()
    assert {(d.status, d.attempts) for d in session.scalars(select(AdvisoryDelivery))} == {("sent", 2)}


def test_it_records_that_sms_is_not_configured(
    settings: Settings, session: Session, district: dict[str, User], patients: dict[str, Patient]
) -> None:
    advisory = advise(session, district["operator"], "Sawaraon")
    assert send_all(replace(settings, sms_url=""), session, advisory.id) == [False]
    session.expire_all()
    delivery = session.scalars(select(AdvisoryDelivery)).one()
    assert delivery.status == "failed" and "SMS_URL" in delivery.last_error


def test_it_has_every_starting_text_in_both_languages() -> None:
    assert advisory_template_names() == ["home_isolation_care", "vaccination_camp", "warning_signs"]
    for name in advisory_template_names():
        (en_title, en_body), (hi_title, hi_body) = advisory_text(name, "en"), advisory_text(name, "hi")
        assert en_title and en_body and hi_title and hi_body and en_body != hi_body
    with pytest.raises(KeyError):
        advisory_text("../en/assign", "en")


# The pages.


def count_advisories(session: Session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(Advisory)) or 0


def compose(client: FlaskClient, session: Session, **overrides: Any) -> dict[str, Any]:
    page = client.get("/advisories/new").get_data(as_text=True)
    data = {
        "csrf_token": csrf_token(page),
        "title": "खतरे के लक्षण",
        "body": "साँस लेने में तकलीफ़ हो तो तुरंत 108 पर फ़ोन करें।",
        "language": "hi",
        "village": village(session, "Chando").id,
        "send": "1",
    }
    data.update(overrides)
    return data


def reviewed(client: FlaskClient, data: dict[str, Any]) -> dict[str, Any]:
    """The form as the Review page shows it, ready for its Send button (with the review's key)."""
    response = client.post("/advisories/new", data={**data, "review": "1", "send": ""})
    assert response.status_code == 200, response.get_data(as_text=True)
    return {**data, "send": "1", "reviewed": hidden(response.get_data(as_text=True), "reviewed")}


@pytest.mark.parametrize(
    ("username", "status"),
    [("operator", 200), ("dm", 200), ("collector", 200), ("admin", 200), ("cmho", 403)],
)
def test_it_lets_the_control_room_send_advisories(
    client: FlaskClient, district: dict[str, User], username: str, status: int
) -> None:
    login(client, username)
    for url in ("/advisories", "/advisories/new"):
        assert client.get(url).status_code == status
    assert ('href="/advisories"' in client.get("/duty").get_data(as_text=True)) == (status == 200)


def test_it_refuses_an_officer_who_posts(
    client: FlaskClient, session: Session, district: dict[str, User], patients: dict[str, Patient]
) -> None:
    login(client, "operator")
    data = compose(client, session)
    client.delete_cookie("session")
    login(client, "cmho")
    data["csrf_token"] = csrf_token(client.get("/duty").get_data(as_text=True))
    assert client.post("/advisories/new", data=data).status_code == 403
    assert count_advisories(session) == 0


def test_it_prefills_a_starting_text(client: FlaskClient, district: dict[str, User]) -> None:
    login(client, "operator")
    page = client.get("/advisories/new?template=warning_signs&language=hi").get_data(as_text=True)
    assert 'value="खतरे के लक्षण: तुरंत फ़ोन करें"' in page and "SpO2) 94 से कम" in page
    assert '<option selected value="hi">' in page
    page = client.get("/advisories/new?template=vaccination_camp&language=en").get_data(as_text=True)
    assert 'value="Vaccination camp"' in page and "[place]" in page
    assert client.get("/advisories/new?template=nonsense").status_code == 404


def test_it_shows_the_recipients_before_sending(
    client: FlaskClient, session: Session, district: dict[str, User], patients: dict[str, Patient]
) -> None:
    login(client, "operator")
    page = client.get("/advisories/new").get_data(as_text=True)
    assert "All villages (3 in isolation)" in page and "Chando (2 in isolation)" in page
    data = compose(client, session)
    del data["send"]
    data["review"] = "1"
    response = client.post("/advisories/new", data=data)
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "goes by SMS to 2 patients in home isolation" in page
    assert 'name="send"' in page and count_advisories(session) == 0


def test_it_sends_an_advisory_and_shows_each_delivery(
    client: FlaskClient,
    settings: Settings,
    session: Session,
    smtp: Path,
    district: dict[str, User],
    patients: dict[str, Patient],
) -> None:
    login(client, "operator")
    response = client.post("/advisories/new", data=reviewed(client, compose(client, session)))
    assert response.status_code == 302
    advisory = session.scalars(select(Advisory)).one()
    assert response.headers["Location"] == f"/advisories/{advisory.id}"
    assert advisory.language == "hi" and advisory.village_id == village(session, "Chando").id
    assert session.scalar(select(Outbox).where(Outbox.kind == "advisory")) is not None
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "being sent to 2 patients" in page and page.count("badge pending") == 2  # frozen at once

    send_all(settings, session, advisory.id)  # what the flow run does
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "सीता बाई" in page and "+919425210002" in page and page.count("badge sent") == 2
    listing = client.get("/advisories").get_data(as_text=True)
    assert "खतरे के लक्षण" in listing and re.search(r'<td [^>]*class="count">2</td>', listing)
    assert client.get("/advisories/999").status_code == 404


def test_it_sends_to_the_list_the_sender_reviewed(
    client: FlaskClient, session: Session, district: dict[str, User], patients: dict[str, Patient]
) -> None:
    login(client, "operator")
    data = reviewed(client, compose(client, session))
    make_patient(session, "Chando", name="Late", phone="+919425210009")  # imported after the review
    session.commit()
    response = client.post("/advisories/new", data=data)
    page = response.get_data(as_text=True)
    assert response.status_code == 409 and "changed since you reviewed them; nothing was sent" in page
    assert "goes by SMS to 3 patients" in page and count_advisories(session) == 0  # reviewed afresh
    assert client.post("/advisories/new", data={**data, "reviewed": ""}).status_code == 400  # never reviewed
    assert count_advisories(session) == 0

    response = client.post("/advisories/new", data={**data, "reviewed": hidden(page, "reviewed")})
    assert response.status_code == 302
    make_patient(session, "Chando", name="Later", phone="+919425210010")  # after the confirmation
    session.commit()
    advisory = session.scalars(select(Advisory)).one()
    assert phones(session, planned_deliveries(session, advisory.id)) == [
        "+919425210001",
        "+919425210002",
        "+919425210009",
    ]


def test_it_needs_the_csrf_token(
    client: FlaskClient, session: Session, district: dict[str, User], patients: dict[str, Patient]
) -> None:
    login(client, "operator")
    data = compose(client, session)
    del data["csrf_token"]
    assert client.post("/advisories/new", data=data).status_code == 400
    assert count_advisories(session) == 0


@pytest.mark.parametrize(
    "overrides",
    [
        {"title": "  "},
        {"body": ""},
        {"body": "x" * 501},
        {"title": "x" * 201},
        {"language": "fr"},
        {"village": "9999"},
        {"village": "abc"},
        {"village_name": "Kharsura"},  # nobody in isolation there
    ],
)
def test_it_rejects_bad_input(
    client: FlaskClient,
    session: Session,
    district: dict[str, User],
    patients: dict[str, Patient],
    overrides: dict[str, str],
) -> None:
    login(client, "dm")
    if "village_name" in overrides:
        overrides = {"village": str(village(session, overrides["village_name"]).id)}
    response = client.post("/advisories/new", data=compose(client, session, **overrides))
    assert response.status_code == 400
    assert count_advisories(session) == 0


def test_it_refuses_to_send_without_sms(
    settings: Settings, session: Session, district: dict[str, User], patients: dict[str, Patient]
) -> None:
    client = create_app(replace(settings, sms_url="")).test_client()
    login(client, "operator")
    page = client.get("/advisories/new").get_data(as_text=True)
    assert "SMS is not configured" in page
    response = client.post("/advisories/new", data=compose(client, session))
    assert response.status_code == 400 and "SMS is not configured" in response.get_data(as_text=True)
    assert count_advisories(session) == 0


def test_it_speaks_hindi(
    client: FlaskClient, session: Session, district: dict[str, User], patients: dict[str, Patient]
) -> None:
    district["operator"].language = "hi"
    session.commit()
    login(client, "operator")
    page = client.get("/advisories/new").get_data(as_text=True)
    assert "चांदो" in page  # village names in Hindi
    advisory = advise(session, district["operator"], "Chando")
    page = client.get(f"/advisories/{advisory.id}").get_data(as_text=True)
    assert "खतरे के लक्षण" in page and "चांदो" in page
