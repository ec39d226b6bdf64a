"""A health advisory on the real stack: the web form, the dispatcher, the run, each SMS as a mail."""

from __future__ import annotations

import re
import time

import pytest
from sqlalchemy import select

from models.advisories.tables import Advisory, AdvisoryDelivery
from models.db import get_sessionmaker
from models.homecare.tables import Patient, PatientStatus
from models.outbox import Outbox
from notifications.mailsink import body_text, read_messages
from scripts.stack import Stack
from tests.e2e.web import PrefectApi, WebUser, field, wait_until

pytestmark = pytest.mark.e2e

TITLE = "खतरे के लक्षण: तुरंत फ़ोन करें"


def texts(stack: Stack) -> list[tuple[str, str]]:
    """(recipient, body) of each demo "SMS" with this test's title (the demo SMS_URL sends mail)."""
    return [
        (m["X-Envelope-To"], body_text(m))
        for m in read_messages(stack.instance / "mail")
        if m["Subject"] == TITLE and m["X-Envelope-To"].startswith("sms+")
    ]


def test_it_sends_an_advisory_to_every_patient_in_isolation(stack: Stack, users: dict[str, WebUser]) -> None:
    factory = get_sessionmaker(stack.database_url)
    with factory() as session:
        isolating = session.scalars(
            select(Patient.phone).where(Patient.status == PatientStatus.isolating)
        ).all()
    assert len(isolating) >= 2, "the demo seeds patients in home isolation"
    operator = users["operator"].http
    page = operator.get("/advisories/new", params={"template": "warning_signs", "language": "hi"}).text
    assert TITLE in page
    body = "साँस लेने में तकलीफ़ हो तो तुरंत 108 पर फ़ोन करें। — जिला नियंत्रण कक्ष"
    data = {"csrf_token": field(page, "csrf_token"), "title": TITLE, "body": body, "language": "hi"}
    review = operator.post("/advisories/new", data={**data, "village": "0", "review": "1"})
    assert review.status_code == 200 and f"goes by SMS to {len(isolating)} patients" in review.text
    # Send writes the reviewed list: the review's key goes with it.
    reviewed = field(review.text, "reviewed")
    response = operator.post(
        "/advisories/new", data={**data, "village": "0", "send": "1", "reviewed": reviewed}
    )
    assert response.status_code == 302, response.text
    advisory_id = int(response.headers["location"].rsplit("/", 1)[-1])

    # The dispatcher starts the run; each patient gets one message.
    wait_until(lambda: len(texts(stack)) >= len(isolating), timeout=180, what="a message to each patient")
    expected = sorted(f"sms{phone}@demo.local" for phone in isolating)
    assert sorted(to for to, _ in texts(stack)) == expected
    assert all(body in text for _, text in texts(stack))

    def finished() -> Advisory | None:
        with factory() as session:
            advisory = session.get_one(Advisory, advisory_id)
            return advisory if advisory.sent_at is not None else None

    wait_until(finished, timeout=60, what="the advisory marked sent")
    with factory() as session:
        deliveries = session.scalars(
            select(AdvisoryDelivery).where(AdvisoryDelivery.advisory_id == advisory_id)
        ).all()
        assert sorted((d.phone, d.status, d.attempts) for d in deliveries) == [
            (phone, "sent", 1) for phone in sorted(isolating)
        ]
        outbox = session.scalars(select(Outbox).where(Outbox.kind == "advisory")).all()
        assert [(r.payload, r.done_at is not None) for r in outbox] == [({"advisory_id": advisory_id}, True)]

    prefect = PrefectApi(stack.api_url)
    runs = wait_until(
        lambda: [r for r in prefect.runs_named(f"advisory-{advisory_id}") if r["state_type"] == "COMPLETED"],
        what="the send-advisory run completed",
    )
    assert len(runs) == 1 and "advisory" in runs[0]["tags"]

    page = operator.get(f"/advisories/{advisory_id}").text
    assert page.count("badge sent") == len(isolating)
    listing = operator.get("/advisories").text
    assert TITLE in listing and re.search(rf'<td [^>]*class="count">{len(isolating)}</td>', listing)
    time.sleep(3)  # nothing more arrives: no message twice
    assert len(texts(stack)) == len(isolating)
