"""The register, its CSV import and the follow-up calls, through the web app with CSRF on."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.cases.tables import Case
from models.emergency.cases import AdmissionFacts, record_admission
from models.homecare.followups import RETRY_AFTER, make_day_list, slot_due_at
from models.homecare.tables import FollowUp, Patient, Reading
from models.reference.tables import User
from models.times import INDIA
from tests.conftest import csrf_token, login

HEADER = "health_id,name,age,sex,phone,village,isolation_start,isolation_end,mitanin_phone\n"


def today() -> datetime:
    return datetime.now(UTC)


def demo_call(session: Session, name: str = "रामप्रसाद यादव") -> FollowUp:
    """Today's call (due an hour ago) for one of the demo patients."""
    day = today().astimezone(INDIA).date()
    make_day_list(session, day, "00:00", today() - timedelta(hours=1))
    session.commit()
    call = session.scalar(select(FollowUp).join(FollowUp.patient).where(Patient.name == name))
    assert call is not None
    return call


def upload(client: FlaskClient, text: str, **extra: str) -> object:
    page = client.get("/patients/import").get_data(as_text=True)
    data = {"csrf_token": csrf_token(page), **extra, "file": (io.BytesIO(text.encode()), "list.csv")}
    return client.post("/patients/import", data=data, content_type="multipart/form-data")


@pytest.mark.parametrize(
    ("username", "path", "status"),
    [
        ("cmho", "/patients", 403),
        ("dm", "/patients", 200),
        ("collector", "/patients/1", 200),
        ("dm", "/follow-ups", 403),
        ("dm", "/patients/import", 403),
        ("operator", "/follow-ups", 200),
        ("operator", "/patients/import", 200),
        ("admin", "/patients/999", 404),
    ],
)
def test_it_lets_each_role_see_its_pages(
    client: FlaskClient, district: dict[str, User], username: str, path: str, status: int
) -> None:
    login(client, username)
    assert client.get(path).status_code == status


def test_it_lists_searches_and_filters_the_register(client: FlaskClient, district: dict[str, User]) -> None:
    login(client, "dm")
    page = client.get("/patients").get_data(as_text=True)
    assert "रामप्रसाद यादव" in page and "Arjun Paikra" in page and "(4)" in page
    found = client.get("/patients", query_string={"q": "कमला"}).get_data(as_text=True)
    assert "कमला देवी" in found and "Arjun Paikra" not in found
    assert "Arjun" in client.get("/patients", query_string={"q": "9425200003"}).get_data(as_text=True)
    none = client.get("/patients", query_string={"status": "admitted"}).get_data(as_text=True)
    assert "No patient matches." in none


def test_it_imports_a_list_and_rejects_bad_rows_with_400(
    client: FlaskClient, session: Session, district: dict[str, User]
) -> None:
    login(client, "operator")
    bad = HEADER + "W-1,गीता साहू,40,F,9876543210,Chando,08-03-2027,,\nW-2,Bad,40,F,123,Chando,08-03-2027,,\n"
    response = upload(client, bad)
    assert response.status_code == 400  # type: ignore[attr-defined]
    page = response.get_data(as_text=True)  # type: ignore[attr-defined]
    assert "Nothing was imported" in page and "line 3: invalid phone number &#39;123&#39;" in page
    assert session.scalar(select(func.count()).select_from(Patient).where(Patient.health_id == "W-1")) == 0
    response = upload(client, bad.replace(",123,", ",9876543211,"))
    assert response.status_code == 302  # type: ignore[attr-defined]
    assert response.headers["Location"] == "/patients"  # type: ignore[attr-defined]
    assert "2 patients imported: 2 new, 0 updated." in client.get("/patients").get_data(as_text=True)
    assert session.scalar(select(Patient.name).where(Patient.health_id == "W-1")) == "गीता साहू"


def test_it_rejects_an_overlong_health_id_and_a_duplicate_with_400(
    client: FlaskClient, session: Session, district: dict[str, User]
) -> None:
    login(client, "operator")
    rows = f"{'H' * 200},गीता साहू,40,F,9876543210,Chando,08-03-2027,,\n"
    rows += ",Arjun Paikra,31,M,9425200003,Chando,08-03-2027,,\n"  # the demo's, in isolation already
    response = upload(client, HEADER + rows)
    assert response.status_code == 400  # type: ignore[attr-defined]
    page = response.get_data(as_text=True)  # type: ignore[attr-defined]
    assert "line 2: &#39;health_id&#39; is longer than 64 characters" in page
    assert "line 3: already in isolation with this name, phone and village" in page
    assert session.scalar(select(func.count()).select_from(Patient).where(Patient.name == "गीता साहू")) == 0


def test_it_shows_the_progress_of_a_large_import(
    client: FlaskClient, session: Session, district: dict[str, User]
) -> None:
    login(client, "admin")
    rows = "".join(f"L-{i},रोगी {i},30,M,98765{i:05d},Chando,2027-03-08,,\n" for i in range(1100))
    response = upload(client, HEADER + rows)
    page = response.get_data(as_text=True)  # type: ignore[attr-defined]
    assert response.status_code == 200, page  # type: ignore[attr-defined]
    assert "1100 rows checked" in page and "500 of 1100 rows written" in page
    assert "1100 patients imported." in page
    assert (
        session.scalar(select(func.count()).select_from(Patient).where(Patient.health_id.like("L-%"))) == 1100
    )


def test_it_refuses_an_import_without_a_csrf_token(client: FlaskClient, district: dict[str, User]) -> None:
    login(client, "operator")
    data = {"file": (io.BytesIO(HEADER.encode()), "list.csv")}
    response = client.post("/patients/import", data=data, content_type="multipart/form-data")
    assert response.status_code == 400


def test_it_records_a_reading_and_refuses_bad_values(
    client: FlaskClient, session: Session, district: dict[str, User]
) -> None:
    call = demo_call(session)
    login(client, "operator")
    work = client.get("/follow-ups").get_data(as_text=True)
    assert f"/follow-ups/{call.id}" in work and "रामप्रसाद यादव" in work
    page = client.get(f"/follow-ups/{call.id}").get_data(as_text=True)
    assert "साँस फूलना" not in page and "Breathlessness" in page
    token = csrf_token(page)
    response = client.post(
        f"/follow-ups/{call.id}", data={"csrf_token": token, "spo2": "45", "temperature": "38"}
    )
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "SpO2 must be between 50 and 100." in text and "Temperature must be between 90 and 110 °F." in text
    empty = client.post(f"/follow-ups/{call.id}", data={"csrf_token": token, "note": "  "})
    assert empty.status_code == 400 and "Record at least one reading" in empty.get_data(as_text=True)
    assert session.scalar(select(Reading).where(Reading.follow_up_id == call.id)) is None
    response = client.post(
        f"/follow-ups/{call.id}",
        data={"csrf_token": token, "spo2": "97", "temperature": "99.1", "pulse": "82", "symptoms": ["cough"]},
    )
    assert response.status_code == 302 and response.headers["Location"] == "/follow-ups"
    reading = session.scalar(select(Reading).where(Reading.follow_up_id == call.id))
    assert reading is not None and (reading.spo2, reading.temperature, reading.symptoms) == (
        97,
        99.1,
        ["cough"],
    )
    assert reading.case_id is None
    again = client.post(f"/follow-ups/{call.id}", data={"csrf_token": token, "spo2": "97"})
    assert again.status_code == 409
    chart = client.get(f"/patients/{call.patient_id}").get_data(as_text=True)
    assert "<polyline" in chart and "&lt; 94" in chart


def test_a_red_flag_reading_opens_an_emergency(
    client: FlaskClient, session: Session, district: dict[str, User]
) -> None:
    call = demo_call(session, "Arjun Paikra")
    login(client, "operator")
    token = csrf_token(client.get(f"/follow-ups/{call.id}").get_data(as_text=True))
    response = client.post(
        f"/follow-ups/{call.id}", data={"csrf_token": token, "spo2": "89", "symptoms": ["chest_pain"]}
    )
    assert response.status_code == 302
    case = session.scalar(select(Case).where(Case.patient_id == call.patient_id))
    assert case is not None and case.emergency
    flashed = client.get("/follow-ups").get_data(as_text=True)
    assert case.number in flashed and "SpO2 89% (&lt; 94); Chest pain or pressure" in flashed


def test_it_shows_red_flags_and_the_emergency_in_a_hindi_operators_language(
    client: FlaskClient, session: Session, district: dict[str, User]
) -> None:
    district["operator"].language = "hi"
    session.commit()
    call = demo_call(session, "Arjun Paikra")
    login(client, "operator")
    token = csrf_token(client.get(f"/follow-ups/{call.id}").get_data(as_text=True))
    data = {"csrf_token": token, "spo2": "89", "symptoms": ["chest_pain"]}
    assert client.post(f"/follow-ups/{call.id}", data=data).status_code == 302
    flashed = client.get("/follow-ups").get_data(as_text=True)
    assert "खतरे के संकेत: SpO2 89% (&lt; 94); सीने में दर्द या दबाव।" in flashed
    page = client.get(f"/patients/{call.patient_id}").get_data(as_text=True)
    assert '<span class="badge failed">SpO2 89% (&lt; 94); सीने में दर्द या दबाव</span>' in page
    case = session.scalar(select(Case).where(Case.patient_id == call.patient_id))
    assert case is not None and "खतरे के संकेत: SpO2 89% (< 94); सीने में दर्द या दबाव।" in case.description
    login(client, "dm")  # the same reading, for an English reader
    page = client.get(f"/patients/{call.patient_id}").get_data(as_text=True)
    assert '<span class="badge failed">SpO2 89% (&lt; 94); Chest pain or pressure</span>' in page


def test_it_links_a_patient_to_their_emergency_case_and_admission(
    client: FlaskClient, session: Session, district: dict[str, User]
) -> None:
    call = demo_call(session, "Arjun Paikra")
    login(client, "operator")
    token = csrf_token(client.get(f"/follow-ups/{call.id}").get_data(as_text=True))
    client.post(f"/follow-ups/{call.id}", data={"csrf_token": token, "spo2": "88"})
    case = session.scalar(select(Case).where(Case.patient_id == call.patient_id))
    assert case is not None
    page = client.get(f"/patients/{call.patient_id}").get_data(as_text=True)
    assert f'<a class="number" href="/cases/{case.number}">{case.number}</a>' in page
    facts = AdmissionFacts("District Hospital Surajpur", "ICU-3")
    record_admission(session, case, facts, district["cmho"], today())
    session.commit()
    login(client, "dm")
    page = client.get(f"/patients/{call.patient_id}").get_data(as_text=True)
    assert "Admitted to hospital" in page
    # Where to, and the case that says so, one click away.
    assert "District Hospital Surajpur · bed ICU-3" in page
    assert f'href="/cases/{case.number}"' in page


def test_it_requeues_an_unreachable_call_and_discharges(
    client: FlaskClient, session: Session, district: dict[str, User]
) -> None:
    call = demo_call(session)
    login(client, "operator")
    page = client.get(f"/follow-ups/{call.id}").get_data(as_text=True)
    # Tried again RETRY_AFTER later if that is still the same India day; in the day's last hour the
    # call ends unreachable instead (CI runs this at any hour), and a discharge then leaves it so.
    later_today = {(datetime.now(UTC) + RETRY_AFTER).astimezone(INDIA).date() == call.day}
    response = client.post(
        f"/follow-ups/{call.id}/unreachable", data={"unreachable-csrf_token": csrf_token(page, "unreachable")}
    )
    later_today.add((datetime.now(UTC) + RETRY_AFTER).astimezone(INDIA).date() == call.day)
    assert response.status_code == 302
    session.refresh(call)
    assert call.attempts == 1 and call.patient.misses_in_row == 1
    assert f'/follow-ups/{call.id}"' not in client.get("/follow-ups").get_data(as_text=True)
    assert client.post(f"/follow-ups/{call.id}/unreachable").status_code == 400  # no token
    patient_page = client.get(f"/patients/{call.patient_id}").get_data(as_text=True)
    response = client.post(
        f"/patients/{call.patient_id}/discharge", data={"csrf_token": csrf_token(patient_page)}
    )
    assert response.status_code == 302
    session.expire_all()
    after = {"cancelled" if retried else "unreachable" for retried in later_today}
    assert call.patient.status == "discharged" and call.status in after
    login(client, "dm")
    token = csrf_token(client.get("/patients").get_data(as_text=True))
    assert (
        client.post(f"/patients/{call.patient_id}/discharge", data={"csrf_token": token}).status_code == 403
    )
    assert slot_due_at(call.day, "09:00").tzinfo is not None
