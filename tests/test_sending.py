"""Sending a message row: claimed by one sender, retried at its due time, given up, sent again on request."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from apprise.decorators import notify
from flask.testing import FlaskClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from flows.retries import send_due, send_unplanned
from models.cases.decisions import Intake, open_case
from models.cases.tables import Case, Priority
from models.config import Settings
from models.db import get_sessionmaker
from models.messages import LEASE, MAX_ATTEMPTS, Delivery, DeliveryStatus, Reason, claim, due_retries
from models.outbox import Outbox
from models.oversight.escalation import due_escalations, escalate, unnotified
from models.oversight.tables import Escalation, EscalationRung
from models.reference.tables import User
from notifications import DeliveryFailed, GivenUp, deliver_event, plan_deliveries
from notifications.delivery import DELIVERIES, deliver_escalation, plan_row
from notifications.sending import Kind, Outcome, send_row
from tests.conftest import csrf_token, login, unique

SENT: list[str] = []  # the channel (host) of each message the capture target took
FAILING: set[str] = set()  # channels that refuse every message


@notify(on="sendcap")
def capture(body: str, title: str, *args: Any, **kwargs: Any) -> bool:
    to = kwargs["meta"]["host"]
    if to in FAILING:
        return False
    SENT.append(to)
    return True


@pytest.fixture(autouse=True)
def clean_capture() -> None:
    SENT.clear()
    FAILING.clear()


@pytest.fixture
def env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The flow tasks' settings come from the environment, as in a deployed run."""
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    return settings


def opened(session: Session, district: dict[str, User], *channels: str, ago: timedelta = timedelta()) -> Case:
    """A case opened `ago`, its DM reachable on the capture channels (hosts) given."""
    district["dm"].notify_urls = "\n".join(f"sendcap://{c}" for c in channels)
    intake = Intake(unique(), "Sita", "+919876543210", 1, 1, "Needs a bed", Priority.normal)
    case = open_case(session, intake, district["operator"], "SRJ", datetime.now(UTC) - ago)
    session.commit()
    return case


def planned(settings: Settings, case: Case) -> list[int]:
    """The rows of the case's first event, one to each of the DM's channels.

    On every channel at once (as an emergency's alarm goes), so that each row's sending is on its own,
    apart from the fallback from one channel to the next (tests/test_channels.py).
    """
    with get_sessionmaker(settings.database_url).begin() as session:
        event_id = case.events[0].id
        plan_deliveries(session, case.id, event_id)
        dm = session.scalars(select(User).where(User.username == "dm")).one()
        for url in dm.channel_urls:
            plan_row(session, case.id, event_id, dm, url, Reason.every)
        session.execute(update(Delivery).where(Delivery.event_id == event_id).values(reason=Reason.every))
        return list(
            session.scalars(select(Delivery.id).where(Delivery.event_id == event_id).order_by(Delivery.id))
        )


def row(session: Session, delivery_id: int) -> Delivery:
    session.expire_all()
    return session.get_one(Delivery, delivery_id)


def test_it_sends_a_row_once_when_two_senders_race(
    settings: Settings, session: Session, district: dict[str, User]
) -> None:
    """The first sender's claim is not committed yet when the second looks: both read the row
    pending, so only the claim's conditional UPDATE keeps the second from sending it too."""
    [delivery_id] = planned(settings, opened(session, district, "dm"))
    factory = get_sessionmaker(settings.database_url)
    composing = threading.Event()

    def slow_compose(db: Session, delivery: Delivery, s: Settings) -> Any:
        composing.set()
        time.sleep(1)  # the second sender reads the row and waits on this one's claim meanwhile
        return DELIVERIES.compose(db, delivery, s)

    slow = Kind(Delivery, slow_compose, DELIVERIES.settle)
    outcomes: dict[str, str] = {}

    def sender(name: str, kind: Kind) -> None:
        try:
            outcomes[name] = send_row(factory, kind, delivery_id, settings)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertions below
            outcomes[name] = repr(exc)

    first = threading.Thread(target=sender, args=("first", slow))
    second = threading.Thread(target=sender, args=("second", DELIVERIES))
    first.start()
    assert composing.wait(30)
    second.start()
    for thread in (first, second):
        thread.join(60)
    # The second finds it held, or (if it waited out the first's whole send) sent; it sends nothing.
    assert outcomes["first"] == Outcome.sent and outcomes["second"] in (Outcome.busy, Outcome.sent), outcomes
    assert SENT == ["dm"]
    assert (row(session, delivery_id).status, row(session, delivery_id).attempts) == ("sent", 1)


def test_it_sends_a_row_whose_sender_died_once_its_lease_ran_out(
    env: Settings, session: Session, district: dict[str, User]
) -> None:
    held, orphaned = planned(env, opened(session, district, "held", "orphaned"))
    factory = get_sessionmaker(env.database_url)
    now = datetime.now(UTC)
    with factory.begin() as db:
        assert claim(db, Delivery, held, now)  # a sender at work right now
        assert claim(db, Delivery, orphaned, now - LEASE - timedelta(minutes=1))  # one that died
    assert send_row(factory, DELIVERIES, held, env) == Outcome.busy
    outcomes = send_due.fn("deliveries", now, 100)
    assert outcomes == {"sent": 1, "failed": 0, "given_up": 0, "busy": 0, "later": 0}
    assert SENT == ["orphaned"]
    assert row(session, held).status == "sending" and row(session, orphaned).status == "sent"


def test_it_retries_a_failed_row_at_its_due_time_and_gives_up_after_the_last_attempt(
    env: Settings, client: FlaskClient, session: Session, district: dict[str, User]
) -> None:
    FAILING.add("dm")
    case = opened(session, district, "dm")
    factory = get_sessionmaker(env.database_url)
    with pytest.raises(DeliveryFailed):
        deliver_event(factory, case.id, case.events[0].id, env)
    [delivery_id] = planned(env, case)
    for attempts in range(2, MAX_ATTEMPTS + 1):
        due_at = row(session, delivery_id).next_attempt_at
        assert due_at is not None
        assert due_retries(session, Delivery, due_at - timedelta(seconds=1)) == []  # not yet
        assert send_due.fn("deliveries", due_at - timedelta(seconds=1), 100)["failed"] == 0
        assert row(session, delivery_id).attempts == attempts - 1
        assert send_due.fn("deliveries", due_at, 100)["failed"] == 1
        assert row(session, delivery_id).attempts == attempts
    given_up = row(session, delivery_id)
    assert (given_up.status, given_up.next_attempt_at) == ("failed", None)
    # Neither the retries nor a replayed task try it again: it waits for a person.
    assert send_due.fn("deliveries", datetime.now(UTC) + timedelta(days=1), 100)["failed"] == 0
    with pytest.raises(GivenUp):
        deliver_event(factory, case.id, case.events[0].id, env)
    assert row(session, delivery_id).attempts == MAX_ATTEMPTS and SENT == []
    login(client, "collector")
    page = client.get(f"/cases/{case.number}").get_data(as_text=True)
    assert "Given up" in page and "Send again" in page and "the channel did not accept" in page


def test_it_queues_one_retry_for_two_clicks_of_send_again_and_sends_nothing_in_the_request(
    env: Settings, client: FlaskClient, session: Session, district: dict[str, User]
) -> None:
    FAILING.add("dm")
    case = opened(session, district, "dm")
    with pytest.raises(DeliveryFailed):
        deliver_event(get_sessionmaker(env.database_url), case.id, case.events[0].id, env)
    [delivery_id] = planned(env, case)
    FAILING.clear()  # the channel works again: a send in the request would reach it
    login(client, "dm")
    token = csrf_token(client.get(f"/cases/{case.number}").get_data(as_text=True))
    pages = []
    for _ in range(2):
        response = client.post(f"/deliveries/{delivery_id}/retry", data={"csrf_token": token})
        assert response.status_code == 302
        assert response.headers["Location"] == f"/cases/{case.number}"
        pages.append(client.get(response.headers["Location"]).get_data(as_text=True))
    assert "Queued: the message will be sent again within a minute." in pages[0]
    assert "This message is already queued or sent." in pages[1]
    assert SENT == []
    queued = row(session, delivery_id)
    assert (queued.status, queued.attempts) == ("pending", 0)
    retries = session.scalars(select(Outbox).where(Outbox.kind == "retries")).all()
    assert [(o.case_id, o.payload) for o in retries] == [(None, {})]
    # The run that outbox row starts sends it, once.
    now = datetime.now(UTC)
    assert send_due.fn("deliveries", now, 100)["sent"] == 1
    assert send_due.fn("deliveries", now, 100)["sent"] == 0
    assert SENT == ["dm"] and row(session, delivery_id).status == "sent"


def test_it_sends_the_longest_due_first_so_a_failing_row_does_not_hold_up_the_rest(
    env: Settings, session: Session, district: dict[str, User]
) -> None:
    FAILING.add("broken")
    broken, first, second = planned(env, opened(session, district, "broken", "first", "second"))
    now = datetime.now(UTC)
    due = {broken: now - timedelta(minutes=10), first: now - timedelta(minutes=20), second: now}
    for delivery_id, due_at in due.items():
        session.execute(update(Delivery).where(Delivery.id == delivery_id).values(next_attempt_at=due_at))
    session.execute(update(Delivery).where(Delivery.id == broken).values(status=DeliveryStatus.failed))
    session.commit()
    assert due_retries(session, Delivery, now, limit=3) == [first, broken, second]  # by due time, not id
    (urgent,) = planned(env, opened(session, district, "urgent"))  # due last, of an urgent case
    session.execute(update(Delivery).where(Delivery.id == urgent).values(next_attempt_at=now))
    case_id = session.get_one(Delivery, urgent).case_id
    session.execute(update(Case).where(Case.id == case_id).values(priority=Priority.urgent))
    assert due_retries(session, Delivery, now, limit=4) == [urgent, first, broken, second]  # urgent first
    session.execute(update(Delivery).where(Delivery.id == urgent).values(status=DeliveryStatus.sent))
    district["dm"].notify_urls = "\n".join(f"sendcap://{c}" for c in ("broken", "first", "second"))
    session.commit()
    sent = [send_due.fn("deliveries", now, 1) for _ in range(3)]
    # The broken row fails once and waits out its backoff; the next runs take the others.
    assert [s["sent"] for s in sent] == [1, 0, 1] and [s["failed"] for s in sent] == [0, 1, 0]
    assert SENT == ["first", "second"]
    assert row(session, broken).status == "failed" and row(session, broken).next_attempt_at > now


def test_it_marks_an_escalation_notified_once_its_last_message_is_given_up(
    env: Settings, session: Session, district: dict[str, User]
) -> None:
    FAILING.add("dm")
    session.add(EscalationRung(step=None, percent=100, audience="dm"))
    opened(session, district, "dm", ago=timedelta(hours=1))  # past its 15 minutes to assign
    now = datetime.now(UTC)
    [escalation] = [e for due in due_escalations(session, now) if (e := escalate(session, due, now))]
    session.commit()
    # Its sweep stopped before planning the messages: the retries plan and send them.
    assert unnotified(session) == [escalation.id]
    assert list(send_unplanned.fn(now, 100)) == [f"escalation {escalation.id}"]
    assert unnotified(session) == []
    [delivery_id] = session.scalars(select(Delivery.id).where(Delivery.event_id == escalation.event_id))
    for _ in range(MAX_ATTEMPTS - 1):
        due_at = row(session, delivery_id).next_attempt_at
        assert due_at is not None
        session.refresh(escalation)
        assert escalation.notified_at is None
        assert send_due.fn("deliveries", due_at, 100)["failed"] == 1
    session.refresh(escalation)
    assert escalation.notified_at is not None  # every message sent or given up
    assert deliver_escalation(get_sessionmaker(env.database_url), escalation.id, env) == 0
    assert SENT == []
    assert session.scalar(select(Escalation.notified_at).where(Escalation.id == escalation.id)) is not None
