"""A user's channels in order: a refused message falls over to the next at once; an urgent hand-off
nobody acknowledges goes to the next channel, the stand-in, then the DMs, each once (real SMTP and
HTTP sinks, the send-retries flow's task on a controlled clock)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from flows.retries import chase_unacknowledged
from models.cases.seen import mark_seen
from models.cases.tables import Case
from models.config import Settings
from models.db import get_sessionmaker
from models.duty.tables import Duty, DutyShift
from models.messages import Delivery, due_retries
from models.reference.tables import User
from notifications import deliver_event, plan_deliveries
from notifications.mailsink import body_text, read_messages, start
from tests.conftest import login, open_case
from tests.helpers import HttpSink, free_port, mail_url
from tests.test_emergency import emergency_data


@pytest.fixture
def env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The flow tasks' settings come from the environment, as in a deployed run."""
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    return settings


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    port = free_port()
    controller = start(tmp_path / "inbox", port=port)
    yield tmp_path / "inbox", port
    controller.stop()


@pytest.fixture
def http_sink() -> Iterator[HttpSink]:
    sink = HttpSink()
    yield sink
    sink.close()


def rows(session: Session, case_id: int) -> list[Delivery]:
    session.expire_all()
    return list(session.scalars(select(Delivery).where(Delivery.case_id == case_id).order_by(Delivery.id)))


def test_it_falls_over_to_the_next_channel_within_seconds(
    env: Settings, client: FlaskClient, session: Session, district: dict[str, User], http_sink: HttpSink
) -> None:
    refusing = mail_url(free_port(), "dm@test.local")  # nothing listens there: refused at once
    district["dm"].notify_urls = f"{refusing}\njson://127.0.0.1:{http_sink.port}/"
    session.commit()
    login(client, "operator")
    number = open_case(client, description="बिस्तर चाहिए")
    case = session.scalars(select(Case).where(Case.number == number)).one()
    factory = get_sessionmaker(env.database_url)
    started = time.monotonic()
    assert deliver_event(factory, case.id, case.events[0].id, env) == 1
    assert time.monotonic() - started < 10
    assert len(http_sink.received) == 1 and number in http_sink.received[0]["title"]
    first, fallback = rows(session, case.id)
    assert (first.reason, first.status, first.next_attempt_at) == ("first", "failed", None)  # tried no more
    assert (fallback.reason, fallback.status, fallback.follows_id) == ("fallback", "sent", first.id)
    assert first.hand_off and fallback.hand_off  # the DM's step, on either channel (the dashboard counts it)
    # A retried step and the retries flow send nothing again, on either channel.
    assert deliver_event(factory, case.id, case.events[0].id, env) == 2
    assert due_retries(session, Delivery, datetime.now(UTC) + timedelta(days=1)) == []
    assert len(http_sink.received) == 1
    login(client, "collector")
    page = client.get(f"/cases/{number}").get_data(as_text=True)
    assert "Passed to the next channel" in page and "after the channel before refused it" in page


def test_it_passes_a_message_whose_channel_was_dropped_to_the_new_first_channel(
    env: Settings, client: FlaskClient, session: Session, district: dict[str, User], http_sink: HttpSink
) -> None:
    district["dm"].notify_urls = mail_url(free_port(), "dm@test.local")
    session.commit()
    login(client, "operator")
    number = open_case(client, description="बिस्तर चाहिए")
    case = session.scalars(select(Case).where(Case.number == number)).one()
    factory = get_sessionmaker(env.database_url)
    with factory.begin() as db:
        plan_deliveries(db, case.id, case.events[0].id)  # planned; then the DM's channels change
    district["dm"].notify_urls = f"json://127.0.0.1:{http_sink.port}/"
    session.commit()
    assert deliver_event(factory, case.id, case.events[0].id, env) == 1
    dropped, fallback = rows(session, case.id)
    assert dropped.last_error == "channel no longer configured for this user"
    assert (fallback.reason, fallback.status) == ("fallback", "sent") and len(http_sink.received) == 1


def test_it_carries_an_unacknowledged_emergency_to_the_next_channel_then_the_stand_in_once(
    env: Settings,
    client: FlaskClient,
    session: Session,
    district: dict[str, User],
    smtp: tuple[Path, int],
    http_sink: HttpSink,
) -> None:
    inbox, port = smtp
    session.query(DutyShift).delete()  # the demo district's roster
    now = datetime.now(UTC)
    for user, starts in (
        (district["cmho"], now - timedelta(hours=1)),
        (district["bmo"], now + timedelta(hours=7)),
    ):
        session.add(
            DutyShift(
                duty=Duty.admission, user_id=user.id, starts_at=starts, ends_at=starts + timedelta(hours=8)
            )
        )
    district["cmho"].notify_urls = f"{mail_url(port, 'cmho@test.local')}\njson://127.0.0.1:{http_sink.port}/"
    district["bmo"].notify_urls = mail_url(port, "bmo@test.local")
    district["dm"].notify_urls = mail_url(port, "dm@test.local")
    district["collector"].notify_urls = ""
    session.commit()
    login(client, "operator")
    client.post("/emergencies/new", data=emergency_data(client))
    case = session.scalars(select(Case).order_by(Case.id.desc())).first()
    assert case is not None and case.officer_id == district["cmho"].id and case.category.ack_minutes == 5
    factory = get_sessionmaker(env.database_url)
    deliver_event(factory, case.id, case.events[1].id, env)  # the duty officer's hand-off
    assert [m["X-Envelope-To"] for m in read_messages(inbox)] == ["cmho@test.local"]

    start = datetime.now(UTC)

    def chase(minutes: float) -> list[tuple[str, str]]:
        """The sweep as of `minutes` from the start, twice (as overlapping runs would); the rows made."""
        before = len(rows(session, case.id))
        for _ in range(2):
            chase_unacknowledged.fn(start + timedelta(minutes=minutes))
        return [(d.user.username, d.reason) for d in rows(session, case.id)[before:]]

    assert chase(4) == []  # within the emergency category's 5 minutes
    assert chase(6) == [("cmho", "unseen")]  # the second channel
    assert len(http_sink.received) == 1 and case.number in http_sink.received[0]["title"]
    assert chase(6) == []
    assert chase(12) == [("bmo", "stand_in")]  # the duty roster's next person
    assert chase(18) == [("dm", "escalated")]  # then the level above
    assert chase(60) == []
    # The duty officer's step is one hand-off, marked on the row sent first (the dashboard counts it
    # once); the stand-in's and the level above's rows are not theirs to acknowledge.
    marked = {(d.user.username, d.reason): d.hand_off for d in rows(session, case.id)}
    assert marked[("cmho", "first")] and not marked[("cmho", "unseen")]
    assert not marked[("bmo", "stand_in")] and not marked[("dm", "escalated")]
    mails = {m["X-Envelope-To"]: m for m in read_messages(inbox)}
    assert sorted(mails) == ["bmo@test.local", "cmho@test.local", "dm@test.local"]  # each once
    assert len(read_messages(inbox)) == 3 and len(http_sink.received) == 1
    assert "पावती नहीं: आपातकाल" in mails["bmo@test.local"]["Subject"]  # the stand-in reads Hindi
    assert "ड्यूटी रोस्टर में अगले आप हैं" in body_text(mails["bmo@test.local"])
    assert "NOT ACKNOWLEDGED" in mails["dm@test.local"]["Subject"]
    assert "Dr. Ramesh Gupta" in body_text(mails["dm@test.local"])  # who was told first
    assert "डॉ. अनीता सिंह as the stand-in" in body_text(mails["dm@test.local"])
    login(client, "collector")
    page = client.get(f"/cases/{case.number}").get_data(as_text=True)
    assert "Stand-in" in page and "Not acknowledged: the level above" in page


def test_it_stops_the_chain_once_the_message_is_seen(
    env: Settings, client: FlaskClient, session: Session, district: dict[str, User], smtp: tuple[Path, int]
) -> None:
    inbox, port = smtp
    district[
        "cmho"
    ].notify_urls = f"{mail_url(port, 'cmho@test.local')}\n{mail_url(port, 'cmho2@test.local')}"
    session.commit()
    login(client, "operator")
    client.post("/emergencies/new", data=emergency_data(client))
    case = session.scalars(select(Case).order_by(Case.id.desc())).first()
    assert case is not None and case.officer_id == district["cmho"].id  # on the demo district's roster
    factory = get_sessionmaker(env.database_url)
    deliver_event(factory, case.id, case.events[1].id, env)
    with factory.begin() as db:
        assert mark_seen(db, case.id, district["cmho"].id, datetime.now(UTC)) == 1
    chase_unacknowledged.fn(datetime.now(UTC) + timedelta(hours=1))
    assert [m["X-Envelope-To"] for m in read_messages(inbox)] == ["cmho@test.local"]
