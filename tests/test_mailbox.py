"""The demo's mailbox: each person reads the mail sent to them; the admin reads every message."""

from __future__ import annotations

import mailbox
from email.message import EmailMessage
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from models.config import Settings
from models.reference.tables import User
from tests.conftest import login

MAIL = {
    "dm@demo.local": "Case SRJ-1 waits for the DM",
    "CMHO@demo.local": "Case SRJ-2 is assigned to the CMHO",  # addresses are compared case-blind
    "sms+919425200001@demo.local": "An advisory SMS to a patient",
    "dm@demo.local, bmo@demo.local": "A message to the DM and the BMO",
}


@pytest.fixture
def inbox(settings: Settings, district: dict[str, User]) -> Path:
    """The demo sink's Maildir with one message per MAIL entry, as the sink stores them."""
    box = mailbox.Maildir(Path(settings.mail_dir), create=True)
    for to, subject in MAIL.items():
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = "control-room@demo.local", to, subject
        message["X-Envelope-To"] = to
        message.set_content(subject)
        box.add(message)
    return Path(settings.mail_dir)


@pytest.mark.parametrize(
    ("username", "seen"),
    [
        ("dm", {"Case SRJ-1 waits for the DM", "A message to the DM and the BMO"}),
        ("cmho", {"Case SRJ-2 is assigned to the CMHO"}),
        ("bmo", {"A message to the DM and the BMO"}),
        ("collector", set()),
        ("operator", set()),
        ("admin", set(MAIL.values())),  # the admin runs the demo: every message, patients' SMS too
    ],
)
def test_it_shows_each_person_only_their_own_mail(
    client: FlaskClient, inbox: Path, username: str, seen: set[str]
) -> None:
    login(client, username)
    response = client.get("/mailbox")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert {subject for subject in MAIL.values() if subject in page} == seen
    assert ("No messages yet." in page) == (not seen)
    assert ("every notification mail" in page) == (username == "admin")


@pytest.mark.parametrize(("language", "shown"), [("en", "29/11/2026, 10:10 pm"), ("hi", "29/11/2026, 22:10")])
def test_it_shows_when_a_mail_was_sent_in_india_time(
    client: FlaskClient,
    settings: Settings,
    district: dict[str, User],
    session: Session,
    language: str,
    shown: str,
) -> None:
    """The Date header says +0000 (UTC); the mailbox shows the India time, like every other page."""
    box = mailbox.Maildir(Path(settings.mail_dir), create=True)
    for subject, date in [("Sent at 16:40 UTC", "Sun, 29 Nov 2026 16:40:11 +0000"), ("No date", "garbage")]:
        message = EmailMessage()
        message["To"], message["Subject"], message["Date"] = "dm@demo.local", subject, date
        message.set_content(subject)
        box.add(message)
    district["admin"].language = language
    session.commit()
    login(client, "admin")
    response = client.get("/mailbox")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "Sent at 16:40 UTC" in page and "No date" in page
    assert shown in page
    assert "+0000" not in page and "16:40" not in page.replace("Sent at 16:40 UTC", "")
