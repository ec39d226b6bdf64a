"""Home isolation on the real stack: the CSV import, the deployed follow-up list, a miss alert sent once."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from models.db import get_sessionmaker
from models.homecare.tables import AlertDelivery, FollowUp, Patient
from models.times import INDIA
from notifications.mailsink import read_messages
from scripts.stack import Stack
from tests.e2e.web import PrefectApi, WebUser, field, wait_until

pytestmark = pytest.mark.e2e

DEPLOYMENT = "follow-up-list/follow-up-list"
NAME = "गीता साहू"  # kept exactly as the health department wrote it
HEADER = "health_id,name,age,sex,phone,block,village,isolation_start,isolation_end,conditions,mitanin_phone\n"


def upload(user: WebUser, text: str) -> int:
    page = user.http.get("/patients/import").text
    files = {"file": ("list.csv", text.encode(), "text/csv")}
    return user.http.post(
        "/patients/import", data={"csrf_token": field(page, "csrf_token")}, files=files
    ).status_code


def calls(stack: Stack, slot: str) -> int:
    today = datetime.now(UTC).astimezone(INDIA).date()
    with get_sessionmaker(stack.database_url)() as session:
        query = select(func.count()).select_from(FollowUp).where(FollowUp.day == today, FollowUp.slot == slot)
        return int(session.scalar(query) or 0)


def alert_mails(stack: Stack) -> list[tuple[str, str]]:
    return [
        (m["X-Envelope-To"], str(m["Subject"]))
        for m in read_messages(stack.instance / "mail")
        if NAME in str(m["Subject"])
    ]


def test_it_lists_the_calls_once_and_alerts_on_misses_once(stack: Stack, users: dict[str, WebUser]) -> None:
    operator = users["operator"]
    today = datetime.now(UTC).astimezone(INDIA).date().isoformat()
    good = f"E2E-1,{NAME},52,F,9876512345,Surajpur,Bishrampur,{today},,diabetes,9425100001\n"
    bad = "E2E-2,Nobody,40,M,12345,Surajpur,Bishrampur,31-02-2026,,,\n"
    assert upload(operator, HEADER + good + bad) == 400
    with get_sessionmaker(stack.database_url)() as session:
        assert session.scalar(select(Patient).where(Patient.health_id == "E2E-1")) is None
    assert upload(operator, HEADER + good) == 302
    with get_sessionmaker(stack.database_url)() as session:
        patient = session.scalar(select(Patient).where(Patient.health_id == "E2E-1"))
        assert patient is not None and patient.name == NAME
        isolating = session.scalar(
            select(func.count()).select_from(Patient).where(Patient.status == "isolating")
        )
    assert NAME in operator.http.get("/patients", params={"q": NAME}).text

    prefect = PrefectApi(stack.api_url)
    deployment = prefect.http.get(f"/deployments/name/{DEPLOYMENT}").json()
    schedules = sorted(
        (s["schedule"].get("cron") or f"every {s['schedule']['interval']:g} s", s["parameters"])
        for s in deployment["schedules"]
    )
    assert schedules == [
        ("0 16 * * *", {"slot": "16:00"}),
        ("0 9 * * *", {"slot": "09:00"}),
        ("every 600 s", {"list_calls": False}),
    ]
    assert {s["schedule"].get("timezone") for s in deployment["schedules"] if "cron" in s["schedule"]} == {
        "Asia/Kolkata"
    }

    # Three lists today, as three scheduled times would make them (due since midnight, India time).
    now = datetime.now(UTC).isoformat()
    for slot in ("00:00", "00:01", "00:02"):
        run = prefect.run_deployment(DEPLOYMENT, {"slot": slot, "now": now})
        assert run["state_type"] == "COMPLETED", run["state"]
        assert calls(stack, slot) == isolating
    assert prefect.run_deployment(DEPLOYMENT, {"slot": "00:00", "now": now})["state_type"] == "COMPLETED"
    assert calls(stack, "00:00") == isolating  # the schedule firing twice lists nobody twice

    # The patient answers none of the three calls: the third miss reaches the limit (3).
    with get_sessionmaker(stack.database_url)() as session:
        ids = session.scalars(
            select(FollowUp.id).where(FollowUp.patient_id == patient.id).order_by(FollowUp.slot)
        ).all()
    assert len(ids) == 3
    for call_id in ids:
        page = operator.http.get(f"/follow-ups/{call_id}").text
        token = field(page, "unreachable-csrf_token")
        response = operator.http.post(
            f"/follow-ups/{call_id}/unreachable", data={"unreachable-csrf_token": token}
        )
        assert response.status_code == 302, response.text
    assert "the Mitanin and the duty doctor will be told" in operator.http.get("/follow-ups").text

    # The next run tells the Mitanin by SMS (the demo gateway mails it) and the duty doctor, once.
    assert prefect.run_deployment(DEPLOYMENT, {"list_calls": False, "now": now})["state_type"] == "COMPLETED"
    mails = wait_until(
        lambda: len(alert_mails(stack)) >= 2 and alert_mails(stack), what="the two alert mails"
    )
    assert sorted(to for to, _ in mails) == ["bmo@demo.local", "sms+919425100001@demo.local"]
    for _ in range(2):
        assert prefect.run_deployment(DEPLOYMENT, {"slot": "00:00", "now": now})["state_type"] == "COMPLETED"
    assert len(alert_mails(stack)) == 2
    with get_sessionmaker(stack.database_url)() as session:
        sent = session.scalars(select(AlertDelivery.status)).all()
    assert sent == ["sent", "sent"]
