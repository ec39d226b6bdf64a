"""The caller's text messages: one per step they hear of, in their language, through the real SMS gateway."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from models.cases.decisions import Intake, open_case
from models.cases.lifecycle import Action
from models.cases.public import number_from_token
from models.cases.tables import Case, CaseEvent, Priority
from models.config import Settings
from models.db import get_sessionmaker
from models.messages import CallerMessage, DeliveryStatus
from models.reference.tables import User
from notifications.caller import tell_caller
from notifications.mailsink import body_text, read_messages, start
from notifications.sending import DeliveryFailed
from tests.casedata import ids, move
from tests.conftest import login
from tests.helpers import free_port

NOW = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)


@pytest.fixture
def smtp_port() -> int:
    return free_port()


@pytest.fixture
def settings(settings: Settings, smtp_port: int) -> Settings:
    gateway = f"mailto://127.0.0.1:{smtp_port}?from=control-room@test.local&to=sms{{phone}}@sms.test.local"
    return replace(settings, sms_url=gateway, notify_timeout=5, public_url="https://control.example")


@pytest.fixture
def inbox(tmp_path: Path, smtp_port: int) -> Iterator[Path]:
    controller = start(tmp_path / "inbox", port=smtp_port)
    yield tmp_path / "inbox"
    controller.stop()


def opened(session: Session, district: dict[str, User], language: str) -> Case:
    known = ids(session)
    intake = Intake(
        f"caller-{language}", "Sunita Devi", "+919876512345", known["Bishrampur"], known["bed"],
        "Needs a bed", Priority.normal, language=language,
    )
    case = open_case(session, intake, district["operator"], "SRJ", NOW)
    session.commit()
    return case


def events(session: Session, case: Case) -> list[CaseEvent]:
    return list(session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)))


def texts(inbox: Path) -> list[tuple[str, str]]:
    return [(m["X-Envelope-To"], body_text(m)) for m in read_messages(inbox)]


def test_it_tells_the_caller_each_step_once_in_their_language(
    session: Session, district: dict[str, User], settings: Settings, inbox: Path
) -> None:
    factory = get_sessionmaker(settings.database_url)
    case = opened(session, district, "hi")
    move(session, case, Action.assign, district["dm"], NOW + timedelta(minutes=5), officer=district["cmho"])
    move(session, case, Action.resolve, district["cmho"], NOW + timedelta(minutes=30))
    move(session, case, Action.satisfied, district["operator"], NOW + timedelta(minutes=35))
    move(session, case, Action.confirm, district["collector"], NOW + timedelta(minutes=40))
    session.commit()
    for event in events(session, case):
        # The call back itself is no text: the caller was on the phone.
        assert tell_caller(factory, case.id, event.id, settings) == (0 if event.kind == "satisfied" else 1)
        tell_caller(factory, case.id, event.id, settings)  # a retried step: nothing sent again

    received = texts(inbox)
    assert [to for to, _ in received] == ["sms+919876512345@sms.test.local"] * 4
    bodies = [body for _, body in received]
    # One message for each step (the sink keeps no order within a second).
    for step in ("नंबर पर दर्ज हुई", "स्वास्थ्य विभाग को सौंपी", "फ़ोन करेंगे", "बंद हो गई"):
        assert len([b for b in bodies if step in b]) == 1, (step, bodies)
    (first,) = [b for b in bodies if "दर्ज" in b]
    # Fixed texts: no person's name, no office note.
    assert not any("Ramesh" in b or "Sunita" in b or "noted" in b for b in bodies)
    # The link opens the caller's own status page, signed for this case.
    link = re.search(r"https://control\.example/status/(\S+)", first)
    assert link and number_from_token(link.group(1), settings.signing_secret()) == case.number
    rows = session.scalars(select(CallerMessage).where(CallerMessage.case_id == case.id)).all()
    assert [r.status for r in rows] == [DeliveryStatus.sent] * 4


def test_it_writes_in_english_for_an_english_caller(
    session: Session, district: dict[str, User], settings: Settings, inbox: Path
) -> None:
    case = opened(session, district, "en")
    (event,) = events(session, case)
    tell_caller(get_sessionmaker(settings.database_url), case.id, event.id, settings)
    ((_, body),) = texts(inbox)
    assert body.startswith(f"Your complaint is registered as {case.number}.")


def test_it_keeps_the_message_for_a_retry_when_the_gateway_is_down(
    session: Session, district: dict[str, User], settings: Settings, tmp_path: Path
) -> None:
    """No SMTP server listens: the row is failed with its next attempt, and sent once one listens."""
    case = opened(session, district, "hi")
    (event,) = events(session, case)
    factory = get_sessionmaker(settings.database_url)
    with pytest.raises(DeliveryFailed):
        tell_caller(factory, case.id, event.id, settings)
    row = session.scalars(select(CallerMessage)).one()
    assert row.status == DeliveryStatus.failed and row.next_attempt_at is not None
    session.expire_all()
    session.execute(CallerMessage.__table__.update().values(next_attempt_at=None, status="pending"))
    session.commit()
    port = int(re.search(r":(\d+)\?", settings.sms_url).group(1))  # type: ignore[union-attr]
    controller = start(tmp_path / "late", port=port)
    try:
        assert tell_caller(factory, case.id, event.id, settings) == 1
    finally:
        controller.stop()
    assert len(read_messages(tmp_path / "late")) == 1


def test_it_sends_nothing_without_an_sms_gateway(
    session: Session, district: dict[str, User], settings: Settings
) -> None:
    case = opened(session, district, "hi")
    (event,) = events(session, case)
    factory = get_sessionmaker(settings.database_url)
    assert tell_caller(factory, case.id, event.id, replace(settings, sms_url="")) == 0
    assert session.scalars(select(CallerMessage)).all() == []


def test_it_tells_no_caller_of_an_escalation_or_a_send_back(
    session: Session, district: dict[str, User], settings: Settings, inbox: Path
) -> None:
    case = opened(session, district, "hi")
    move(session, case, Action.assign, district["dm"], NOW, officer=district["cmho"])
    move(session, case, Action.send_back, district["cmho"], NOW)
    session.commit()
    back = events(session, case)[-1]
    assert back.kind == Action.send_back
    assert tell_caller(get_sessionmaker(settings.database_url), case.id, back.id, settings) == 0


def test_it_takes_the_callers_language_on_the_intake_form(
    client: FlaskClient, session: Session, district: dict[str, User]
) -> None:
    from tests.conftest import intake_data

    login(client, "operator")
    response = client.post("/cases/new", data=intake_data(client, language="en"))
    assert response.status_code == 302
    number = response.location.rsplit("/", 1)[-1]
    assert session.scalars(select(Case.language).where(Case.number == number)).one() == "en"
    bad = client.post("/cases/new", data=intake_data(client, language="fr"))
    assert bad.status_code == 400
