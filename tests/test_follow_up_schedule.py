"""When the follow-up lists come, and today's list made now: the page, its outbox row, the dispatcher."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from flask import Flask
from flask.testing import FlaskClient
from flask_babel import force_locale
from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.engine import other_run
from dispatch.loop import dispatch_once
from models.config import Settings
from models.db import get_engine, get_sessionmaker
from models.homecare.followups import make_day_list
from models.homecare.schedule import (
    KIND,
    SLOTS,
    list_due_at,
    next_list_at,
    on_demand_slot,
    request_key,
    request_list,
)
from models.outbox import Outbox
from models.reference.tables import User
from tests.conftest import csrf_token, login
from tests.races import meeting_before, race

ROOT = Path(__file__).resolve().parent.parent
DAY = date(2027, 3, 10)


def utc(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def deployment(name: str) -> dict:  # type: ignore[type-arg]
    spec = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    return next(d for d in spec["deployments"] if d["name"] == name)


def list_rows(session: Session) -> list[Outbox]:
    session.expire_all()
    return list(session.scalars(select(Outbox).where(Outbox.kind == KIND)))


def test_it_keeps_the_call_times_prefect_yaml_schedules() -> None:
    crons = [s for s in deployment("follow-up-list")["schedules"] if "cron" in s]
    times = []
    for schedule in crons:
        minute, hour, *every_day = schedule["cron"].split()
        assert every_day == ["*", "*", "*"] and schedule["timezone"] == "Asia/Kolkata"
        slot = f"{int(hour):02d}:{int(minute):02d}"
        assert schedule["parameters"] == {"slot": slot}
        times.append(slot)
    assert tuple(times) == SLOTS


def test_it_starts_the_deployment_prefect_yaml_declares(monkeypatch: pytest.MonkeyPatch) -> None:
    from flows.follow_up import follow_up_list

    spec = deployment("follow-up-list")
    assert spec["entrypoint"] == "flows/follow_up.py:follow_up_list"
    assert Settings().follow_up_deployment == f"{follow_up_list.name}/{spec['name']}"
    monkeypatch.setenv("CONTROL_ROOM_FOLLOW_UP_DEPLOYMENT", "lists/district-b")
    assert Settings.from_env().follow_up_deployment == "lists/district-b"


@pytest.mark.parametrize(
    ("now", "next_at", "asked"),
    [
        (utc(DAY, 2), utc(DAY, 3, 30), (DAY, "09:00")),  # 07:30 India: the morning list, early
        (utc(DAY, 5), utc(DAY, 10, 30), (DAY, "09:00")),  # 10:30: the morning's
        (utc(DAY, 10, 30), utc(DAY + timedelta(days=1), 3, 30), (DAY, "16:00")),  # 16:00 on the dot
        # 01:30 India on the 11th (still the 10th in UTC): that day's morning list.
        (utc(DAY, 20), utc(DAY + timedelta(days=1), 3, 30), (DAY + timedelta(days=1), "09:00")),
    ],
)
def test_it_says_when_the_next_list_comes_and_which_list_now_makes(
    now: datetime, next_at: datetime, asked: tuple[date, str]
) -> None:
    assert next_list_at(now) == next_at
    assert on_demand_slot(now) == asked


def test_it_makes_a_list_asked_for_early_due_at_once() -> None:
    early, late = utc(DAY, 2), utc(DAY, 5)
    assert list_due_at(DAY, "09:00", early) == early
    assert list_due_at(DAY, "09:00", late) == utc(DAY, 3, 30)


def test_it_lists_each_patient_once_however_often_the_list_is_made(
    session: Session, district: dict[str, User]
) -> None:
    now = datetime.now(UTC)
    day, slot = on_demand_slot(now)
    first = make_day_list(session, day, slot, list_due_at(day, slot, now))
    assert first > 0
    assert make_day_list(session, day, slot, list_due_at(day, slot, now)) == 0


def test_it_writes_one_request_per_day_and_slot(session: Session, district: dict[str, User]) -> None:
    now = utc(DAY, 5)
    assert request_list(session, now)
    assert not request_list(session, now + timedelta(minutes=3))  # the same morning list
    session.commit()
    [row] = list_rows(session)
    assert (row.kind, row.case_id, row.payload) == (KIND, None, {"day": "2027-03-10", "slot": "09:00"})
    assert row.idempotency_key == request_key(DAY, "09:00") and row.next_attempt_at == now
    assert request_list(session, utc(DAY, 11))  # 16:30: the afternoon list is another request
    session.commit()
    assert len(list_rows(session)) == 2


def test_it_writes_one_request_for_two_clicks_at_once(
    settings: Settings, session: Session, district: dict[str, User]
) -> None:
    factory = get_sessionmaker(settings.database_url)

    def click() -> bool:
        with factory() as own:
            added = request_list(own, utc(DAY, 5))
            own.commit()
            return added

    with meeting_before(get_engine(settings.database_url), "INSERT"):
        outcomes = race(click, click)
    assert sorted(outcomes) == [False, True]
    assert len(list_rows(session)) == 1


def test_it_shows_when_the_next_list_comes(
    app: Flask, client: FlaskClient, district: dict[str, User]
) -> None:
    login(client, "operator")
    now = datetime.now(UTC)
    page = client.get("/follow-ups").get_data(as_text=True)
    with app.test_request_context(), force_locale(district["operator"].language):
        shown = app.jinja_env.filters["datetimeformat"](next_list_at(now))
    assert shown in page
    assert "/follow-ups/make-list" in page


@pytest.mark.parametrize("username", ["operator", "admin"])
def test_it_asks_for_the_list_once_however_often_it_is_clicked(
    client: FlaskClient, session: Session, district: dict[str, User], username: str
) -> None:
    login(client, username)
    token = csrf_token(client.get("/follow-ups").get_data(as_text=True))
    first = client.post("/follow-ups/make-list", data={"csrf_token": token})
    assert first.status_code == 302 and first.headers["Location"] == "/follow-ups"
    page = client.get("/follow-ups").get_data(as_text=True)
    assert "List requested; it appears here in a moment." in page
    assert "/follow-ups/make-list" not in page  # the button gives way to the request's state
    again = client.post("/follow-ups/make-list", data={"csrf_token": token})
    assert again.status_code == 302
    assert "requested already" in client.get("/follow-ups").get_data(as_text=True)
    [row] = list_rows(session)
    day, slot = on_demand_slot(datetime.now(UTC))
    assert row.payload == {"day": day.isoformat(), "slot": slot} and row.done_at is None


@pytest.mark.parametrize("username", ["dm", "collector", "cmho"])
def test_it_lets_only_the_duty_staff_make_the_list(
    client: FlaskClient, session: Session, district: dict[str, User], username: str
) -> None:
    login(client, username)
    token = csrf_token(client.get("/queue").get_data(as_text=True))
    assert client.post("/follow-ups/make-list", data={"csrf_token": token}).status_code == 403
    assert list_rows(session) == []


def test_it_starts_the_follow_up_deployment_for_the_request(settings: Settings) -> None:
    now = utc(DAY, 5)
    row = Outbox(id=7, kind=KIND, payload={"day": "2027-03-10", "slot": "09:00"}, idempotency_key="ignored")
    assert other_run(row, settings, now) == (
        settings.follow_up_deployment,
        {"slot": "09:00", "day": "2027-03-10"},
        request_key(DAY, "09:00"),
    )
    # Asked for on the 10th, handed over on the 11th (Prefect was down overnight): nothing to start.
    assert other_run(row, settings, utc(DAY, 20)) is None


def test_it_keeps_the_request_while_prefect_is_down(
    settings: Settings, session: Session, district: dict[str, User]
) -> None:
    # settings.prefect_api_url points at a port where nothing listens.
    assert request_list(session, datetime.now(UTC) - timedelta(seconds=1))
    session.commit()
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: settings.prefect_api_url}):
        assert dispatch_once(get_sessionmaker(settings.database_url), settings, "a") == 0
    [row] = list_rows(session)
    assert (row.done_at, row.parked_at, row.attempts) == (None, None, 0)
    assert "Connect" in row.last_error
