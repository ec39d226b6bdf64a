"""Deliveries through Apprise to a real SMTP server and a capture plugin: recorded, retried, never doubled."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from apprise.decorators import notify
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from models.cases.tables import Case, CaseEvent
from models.config import Settings
from models.db import get_sessionmaker
from models.messages import Delivery
from models.reference.tables import User
from notifications import DeliveryFailed, deliver_event
from notifications.mailsink import body_text, read_messages, start
from tests.conftest import login, open_case
from tests.helpers import free_port, mail_url

CAPTURED: list[dict[str, Any]] = []


@notify(on="capture")
def capture(body: str, title: str, notify_type: str, *args: Any, **kwargs: Any) -> bool:
    CAPTURED.append({"title": title, "body": body})
    return True


@pytest.fixture
def smtp_port() -> int:
    return free_port()


@pytest.fixture
def smtp(tmp_path: Path, smtp_port: int) -> Iterator[Path]:
    controller = start(tmp_path / "inbox", port=smtp_port)
    yield tmp_path / "inbox"
    controller.stop()


@pytest.fixture
def opened(client, session: Session, district: dict[str, User], smtp_port: int) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    CAPTURED.clear()
    # The DM's first channel takes the message; the mail after it is for when it does not.
    district["dm"].notify_urls = f"capture://dm\n{mail_url(smtp_port, 'dm@test.local')}"
    district["bmo"].role = "dm"  # a second DM, reading in Hindi
    district["bmo"].notify_urls = mail_url(smtp_port, "bmo@test.local")
    session.commit()
    login(client, "operator")
    number = open_case(client, description="बिस्तर चाहिए")
    case = session.scalar(select(Case).where(Case.number == number))
    assert case is not None
    return case.id, case.events[0].id


def test_it_tells_every_dm_on_their_first_channel_once(
    settings: Settings, session: Session, smtp: Path, opened: tuple[int, int]
) -> None:
    factory = get_sessionmaker(settings.database_url)
    assert deliver_event(factory, *opened, settings) == 2
    assert deliver_event(factory, *opened, settings) == 2  # a retried step: nothing sent again
    messages = read_messages(smtp)
    assert [m["X-Envelope-To"] for m in messages] == ["bmo@test.local"]
    hindi = next(m for m in messages if m["X-Envelope-To"] == "bmo@test.local")
    # The district and the control room by their Hindi names, as the Hindi pages call them.
    assert hindi["Subject"].startswith("[सूरजपुर नियंत्रण कक्ष] नई शिकायत")
    assert "बिस्तर चाहिए" in body_text(hindi)
    assert "\nश्रेणी: अस्पताल बिस्तर\n" in body_text(hindi)  # plain text, line breaks kept
    assert len(CAPTURED) == 1 and CAPTURED[0]["title"].startswith("[Surajpur Control Room] New complaint")
    assert "http://127.0.0.1:5000/cases/SRJ-" in CAPTURED[0]["body"]
    rows = session.scalars(select(Delivery)).all()
    assert {(r.status, r.attempts) for r in rows} == {("sent", 1)}


def test_it_records_a_failure_and_sends_once_on_retry(
    settings: Settings, session: Session, tmp_path: Path, smtp_port: int, opened: tuple[int, int]
) -> None:
    factory = get_sessionmaker(settings.database_url)
    with pytest.raises(DeliveryFailed):
        deliver_event(factory, *opened, settings)  # nothing listens on the SMTP port yet
    session.expire_all()
    failed = session.scalars(select(Delivery).where(Delivery.status == "failed")).all()
    assert len(failed) == 1 and all(d.last_error and d.attempts == 1 for d in failed)
    assert len(CAPTURED) == 1  # the working channel went through
    controller = start(tmp_path / "late", port=smtp_port)
    try:
        assert deliver_event(factory, *opened, settings) == 2
        assert deliver_event(factory, *opened, settings) == 2
    finally:
        controller.stop()
    assert len(read_messages(tmp_path / "late")) == 1
    assert len(CAPTURED) == 1
    session.expire_all()
    assert {
        (d.status, d.attempts) for d in session.scalars(select(Delivery)) if d.channel.startswith("mailto")
    } == {("sent", 2)}  # the Hindi DM's only channel, on its second attempt


def test_it_shows_deliveries_on_the_case_page_with_secrets_masked(
    client: FlaskClient,
    settings: Settings,
    session: Session,
    district: dict[str, User],
    smtp_port: int,
    opened: tuple[int, int],
) -> None:
    secret = "s3cret-smtp-pass"
    district["dm"].notify_urls = mail_url(smtp_port, "dm@test.local").replace("://", f"://dm:{secret}@")
    session.commit()
    factory = get_sessionmaker(settings.database_url)
    with pytest.raises(DeliveryFailed):
        deliver_event(factory, *opened, settings)  # nothing listens on the SMTP port
    number = session.get_one(Case, opened[0]).number
    client.delete_cookie("session")
    login(client, "collector")
    page = client.get(f"/cases/{number}").get_data(as_text=True)
    assert "Failed" in page and "Send again" in page
    assert f"mailto://dm:****@127.0.0.1:{smtp_port}/dm@test.local" in page  # the channel, masked
    assert f"mailto://127.0.0.1:{smtp_port}/bmo@test.local" in page
    assert secret not in page
    assert session.get_one(CaseEvent, opened[1]).kind == "opened"
