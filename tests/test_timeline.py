"""The Collector's history: business steps by default, the engine's every row one click away."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_babel import force_locale
from flask_login import login_user
from sqlalchemy import select
from sqlalchemy.orm import Session

from models.cases.lifecycle import Action
from models.cases.tables import Case
from models.messages import Delivery, DeliveryStatus
from models.oversight.tables import AuditEntry
from models.reference.tables import User
from tests.casedata import make_case, move
from tests.conftest import login
from webapp.history import business_steps, channel_label, page, state_label, task_label
from webapp.runs import RunHistory, merge_timeline

T0 = datetime(2026, 3, 10, 4, 30, tzinfo=UTC)  # 10:00 in India
AT = {
    "opened": T0,
    "assign": T0 + timedelta(minutes=10),
    "resolve": T0 + timedelta(hours=2),
    "confirm": T0 + timedelta(hours=3),
}
NOTICE = "History from the engine is unavailable just now"
RAW = ("Submitting", "Resuming", "Suspended", "log_complaint-e64", "Run state")  # engine rows, raw


def at(kind: str, seconds: int) -> datetime:
    return AT[kind] + timedelta(seconds=seconds)


@pytest.fixture
def case(session: Session, district: dict[str, User]) -> Case:
    """Opened, assigned to the CMHO, resolved, the caller satisfied, confirmed: five messages."""
    u = district
    case = make_case(session, u["operator"], AT["opened"])
    move(session, case, Action.assign, u["dm"], AT["assign"], u["cmho"])
    move(session, case, Action.resolve, u["cmho"], AT["resolve"])
    # The operator's call back: an event this run history has no engine rows for.
    move(session, case, Action.satisfied, u["operator"], AT["resolve"] + timedelta(minutes=30))
    move(session, case, Action.confirm, u["collector"], AT["confirm"])
    session.flush()
    event = {e.kind: e for e in case.events}

    def told(kind: str, user: str, channel: str, status: DeliveryStatus, **row: Any) -> None:
        delivery = Delivery(
            case_id=case.id,
            event_id=event[kind].id,
            user_id=u[user].id,
            channel_key=uuid.uuid4().hex,
            channel=channel,
            status=status,
            created_at=at(kind, 20),
        )
        session.add(delivery)
        session.flush()
        for name, value in row.items():  # after the insert, or next_attempt_at=None takes its default
            setattr(delivery, name, value)

    told("opened", "dm", "mailto://127.0.0.1:9", DeliveryStatus.sent, sent_at=at("opened", 40))
    told("assign", "cmho", "mailto://127.0.0.1:9", DeliveryStatus.sent, sent_at=at("assign", 50))
    told("assign", "cmho", "tgram://b...c/", DeliveryStatus.failed, next_attempt_at=None, attempts=5)
    told("resolve", "collector", "mailto://127.0.0.1:9", DeliveryStatus.pending)
    told("confirm", "operator", "mailto://127.0.0.1:9", DeliveryStatus.sent, sent_at=at("confirm", 45))
    case.flow_run_id = str(uuid.uuid4())
    session.commit()
    return case


def state(when: datetime, name: str, kind: str) -> dict[str, Any]:
    return {"at": when, "name": name, "type": kind, "message": ""}


def task(when: datetime, name: str, state: str = "Completed", kind: str = "COMPLETED") -> dict[str, Any]:
    return {"at": when, "name": name, "state": state, "type": kind}


def resumed(kind: str) -> list[dict[str, Any]]:
    """The flow run's states as the dispatcher resumes it with a decision and it replays."""
    return [
        state(at(kind, 30), "Resuming", "SCHEDULED"),
        state(at(kind, 31), "Pending", "PENDING"),
        state(at(kind, 32), "Submitting", "PENDING"),
        state(at(kind, 33), "Running", "RUNNING"),
    ]


def four_decisions() -> RunHistory:
    """What Prefect holds for the case's run: the engine rows the Collector need not read."""
    states = [
        state(at("opened", 10), "Scheduled", "SCHEDULED"),
        state(at("opened", 11), "Pending", "PENDING"),
        state(at("opened", 12), "Submitting", "PENDING"),
        state(at("opened", 13), "Running", "RUNNING"),
        state(at("opened", 60), "Suspended", "PAUSED"),
        *resumed("assign"),
        state(at("assign", 60), "Suspended", "PAUSED"),
        *resumed("resolve"),
        state(at("resolve", 60), "Suspended", "PAUSED"),
        *resumed("confirm"),
        state(at("confirm", 60), "Completed", "COMPLETED"),
    ]
    cached = ("Cached", "COMPLETED")
    tasks = [
        task(at("opened", 15), "log_complaint-e64"),
        task(at("assign", 34), "log_complaint-a01", *cached),
        task(at("assign", 35), "assign_officer-f3c"),
        task(at("resolve", 34), "log_complaint-a02", *cached),
        task(at("resolve", 35), "assign_officer-a03", *cached),
        task(at("resolve", 36), "record_action-9d1"),
        task(at("confirm", 34), "log_complaint-a04", *cached),
        task(at("confirm", 35), "assign_officer-a05", *cached),
        task(at("confirm", 36), "record_action-a06", *cached),
        task(at("confirm", 37), "confirm_closure-07b"),
    ]
    return RunHistory("run-1", "SRJ-1", "Completed", "http://prefect/runs/1", states, tasks, "", "COMPLETED")


def deliveries(session: Session, case: Case) -> list[Delivery]:
    return list(session.scalars(select(Delivery).where(Delivery.case_id == case.id).order_by(Delivery.id)))


def rows(html: str, css: str) -> list[str]:
    return re.findall(rf'<tr class="{css}">(.*?)</tr>', html, flags=re.S)


def test_it_makes_one_step_per_decision_with_its_messages_and_engine_line(
    app: Flask, session: Session, case: Case, district: dict[str, User]
) -> None:
    with app.test_request_context():
        steps = business_steps(case, deliveries(session, case), four_decisions())
        assert [s.event.kind for s in steps] == ["opened", "assign", "resolve", "satisfied", "confirm"]
        assert [[(t.delivery.user.username, t.channel, t.status) for t in s.told] for s in steps] == [
            [("dm", "e-mail", "sent")],
            [("cmho", "e-mail", "sent"), ("cmho", "Telegram", "given_up")],
            [("collector", "e-mail", "pending")],
            [],
            [("operator", "e-mail", "sent")],
        ]
        assert steps[1].told[0].sent_at == at("assign", 50)
        engines = [s.engine for s in steps]
        assert [e is not None for e in engines] == [True, True, True, False, True]
        # The task run that did the work, not the "Cached" replays of each later resume.
        assert [(e.step, e.at, e.state, e.unhappy) for e in engines if e] == [
            ("Logging the complaint", at("opened", 15), "Completed", False),
            ("Recording the assignment", at("assign", 35), "Completed", False),
            ("Recording the resolution", at("resolve", 36), "Completed", False),
            ("Recording the closure", at("confirm", 37), "Completed", False),
        ]


def test_it_shows_the_last_try_of_a_step_that_failed(app: Flask, session: Session, case: Case) -> None:
    run = four_decisions()
    run.tasks = [
        task(at("assign", 35), "assign_officer-f3c", "Failed", "FAILED"),
        task(at("resolve", 35), "assign_officer-a03"),  # a failed step runs again on the next replay
        task(at("resolve", 36), "record_action-9d1", "Crashed", "CRASHED"),
    ]
    with app.test_request_context():
        steps = {s.event.kind: s for s in business_steps(case, deliveries(session, case), run)}
    assigned, resolved = steps["assign"].engine, steps["resolve"].engine
    assert assigned is not None and (assigned.at, assigned.state, assigned.unhappy) == (
        at("resolve", 35),
        "Completed",
        False,
    )
    assert resolved is not None and (resolved.state, resolved.unhappy) == ("Crashed", True)
    assert steps["opened"].engine is None and steps["confirm"].engine is None


def test_it_leaves_the_engine_out_when_prefect_did_not_answer(
    app: Flask, session: Session, case: Case
) -> None:
    run = four_decisions()
    run.error = "no answer within 3 s"
    with app.test_request_context():
        steps = business_steps(case, deliveries(session, case), run)
    assert len(steps) == 5 and all(s.engine is None for s in steps)
    assert [len(s.told) for s in steps] == [1, 2, 1, 0, 1]


def test_it_keeps_every_engine_row_for_the_detail(session: Session, case: Case) -> None:
    run = four_decisions()
    entries = merge_timeline(case, deliveries(session, case), run)
    assert len(entries) == 5 + 5 + len(run.states) + len(run.tasks)
    assert [e["at"] for e in entries] == sorted(e["at"] for e in entries)


def render(app: Flask, session: Session, case: Case, user: User, detail: bool, language: str = "en") -> str:
    with app.test_request_context(), force_locale(language):
        login_user(user)
        return page(case, deliveries(session, case), four_decisions(), detail=detail)


def test_it_renders_the_steps_without_the_engine_rows(
    app: Flask, session: Session, case: Case, district: dict[str, User]
) -> None:
    html = render(app, session, case, district["collector"], detail=False)
    steps = rows(html, "step")
    assert len(steps) == 5
    assert not rows(html, "state") and not rows(html, "task")
    assert "Engine: Recording the assignment" in steps[1]
    assert f"{district['cmho'].name} by e-mail" in steps[1] and "Given up" in steps[1]
    assert not any(raw in html for raw in RAW)


def test_it_renders_every_engine_row_in_the_detail(
    app: Flask, session: Session, case: Case, district: dict[str, User]
) -> None:
    run = four_decisions()
    html = render(app, session, case, district["collector"], detail=True)
    assert not rows(html, "step")
    assert len(rows(html, "case")) == 5 and len(rows(html, "delivery")) == 5
    assert len(rows(html, "state")) == len(run.states) and len(rows(html, "task")) == len(run.tasks)
    tasks = rows(html, "task")
    assert "Logging the complaint" in tasks[0]
    assert "log_complaint-e64" in tasks[0]  # the raw name too, for engineers
    assert "Already done (replayed)" in tasks[1]


def test_it_renders_the_engine_in_hindi(
    app: Flask, session: Session, case: Case, district: dict[str, User]
) -> None:
    html = render(app, session, case, district["collector"], detail=False, language="hi")
    assert "पूरा हुआ" in rows(html, "step")[0]  # Completed
    assert "शिकायत दर्ज की जा रही है" in rows(html, "step")[0]  # Logging the complaint


@pytest.mark.parametrize(
    ("name", "kind", "hindi"),
    [
        ("Scheduled", "SCHEDULED", "निर्धारित"),
        ("Pending", "PENDING", "शुरू होने की प्रतीक्षा"),
        ("Running", "RUNNING", "चल रहा है"),
        ("Paused", "PAUSED", "रुका हुआ"),
        ("Suspended", "PAUSED", "निर्णय की प्रतीक्षा"),
        ("Completed", "COMPLETED", "पूरा हुआ"),
        ("Failed", "FAILED", "विफल"),
        ("Crashed", "CRASHED", "अचानक बंद हुआ"),
        ("Cancelled", "CANCELLED", "रद्द"),
        ("SomethingNew", "FAILED", "विफल"),  # a name Prefect adds later: its type's label
    ],
)
def test_it_labels_engine_states_in_hindi(app: Flask, name: str, kind: str, hindi: str) -> None:
    with app.test_request_context(), force_locale("hi"):
        assert state_label(name, kind) == hindi


def test_it_labels_tasks_and_channels(app: Flask) -> None:
    with app.test_request_context():
        assert task_label("log_complaint-e64") == "Logging the complaint"
        assert task_label("confirm_closure") == "Recording the closure"
        assert task_label("some_other_task-1a2") == "some_other_task-1a2"
        assert state_label("Weird") == "Weird"
        assert channel_label("mailto://127.0.0.1:25") == "e-mail"
        assert channel_label("tgram://b...c/") == "Telegram"
        assert channel_label("json://gateway.local/sms") == "json"


def test_it_shows_the_business_steps_by_default(
    client: FlaskClient, case: Case, district: dict[str, User]
) -> None:
    login(client, "collector")
    html = client.get(f"/cases/{case.number}/timeline").get_data(as_text=True)
    steps = rows(html, "step")
    assert len(steps) == 5
    assert "Assigned to an officer" in steps[1] and f"by {district['dm'].name}" in steps[1]
    cmho = district["cmho"].name
    assert f"{cmho} by e-mail" in steps[1] and f"{cmho} by Telegram" in steps[1]
    assert NOTICE in html  # the run's history is unavailable (port 9); the steps are all there
    assert not rows(html, "state") and not rows(html, "case") and "Engine:" not in html
    assert f'href="/cases/{case.number}/timeline?detail=engine"' in html


def test_it_shows_every_row_one_click_away(
    client: FlaskClient, session: Session, case: Case, district: dict[str, User]
) -> None:
    login(client, "collector")
    html = client.get(f"/cases/{case.number}/timeline").get_data(as_text=True)
    link = re.search(r'href="([^"]*detail=engine)"', html)
    assert link
    response = client.get(link.group(1))
    assert response.status_code == 200
    detail = response.get_data(as_text=True)
    assert len(rows(detail, "case")) == 5 and len(rows(detail, "delivery")) == 5
    assert not rows(detail, "step")
    assert f'href="/cases/{case.number}/timeline"' in detail  # and back
    views = session.scalars(select(AuditEntry.target).where(AuditEntry.action == "view")).all()
    assert views == [case.number, case.number]
