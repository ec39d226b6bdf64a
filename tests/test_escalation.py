"""The escalation ladder on a controlled clock: due rungs, exactly once, stopped when a case moves on."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from apprise.decorators import notify
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from flows.escalation import notify_escalation, record_escalations
from models.cases.decisions import Intake, decide, open_case
from models.cases.lifecycle import Action, State
from models.cases.sla import Limits, clock, rungs_reached, step_limit
from models.cases.tables import Case, CaseEvent, Priority
from models.config import Settings
from models.messages import Delivery
from models.oversight.escalation import due_escalations, escalate, unnotified
from models.oversight.tables import Escalation, EscalationRung
from models.reference.tables import User
from notifications.mailsink import body_text, read_messages, start
from tests.conftest import unique
from tests.helpers import free_port, mail_url

T0 = datetime(2026, 11, 29, 4, 0, tzinfo=UTC)
LIMITS = Limits(assign=30, resolve=360, confirm=120, urgent=60)
CAPTURED: list[dict[str, Any]] = []


@notify(on="ladder")
def capture(body: str, title: str, *args: Any, **kwargs: Any) -> bool:
    CAPTURED.append({"title": title, "body": body, "to": kwargs["meta"]["host"]})
    return True


@pytest.fixture
def ladder(session: Session) -> list[EscalationRung]:
    rungs = [
        EscalationRung(step=None, percent=80, audience="assignee"),
        EscalationRung(step=None, percent=100, audience="dm"),
        EscalationRung(step=None, percent=200, audience="collector"),
    ]
    session.add_all(rungs)
    session.commit()
    return rungs


def make_case(session: Session, by: User, now: datetime = T0, **overrides: Any) -> Case:
    fields: dict[str, Any] = {
        "token": unique(),
        "caller_name": "Sita",
        "phone": "+919876543210",
        "village_id": 1,
        "category_id": 1,  # hospital bed: 15 min to assign, 3 h to resolve
        "description": "Needs a bed",
        "priority": Priority.normal,
        **overrides,
    }
    case = open_case(session, Intake(**fields), by, "SRJ", now)
    session.commit()
    return case


Sweep = Callable[[datetime], list[Escalation]]


@pytest.fixture
def sweep(settings: Settings, session: Session, monkeypatch: pytest.MonkeyPatch) -> Sweep:
    """The sweep's recording step, flows/escalation.record_escalations, on the test's clock.

    Its body (`.fn`) runs without the Prefect server and reads the settings from the
    environment, as in a deployed run.
    """
    monkeypatch.setenv("DATABASE_URL", settings.database_url)

    def run(now: datetime) -> list[Escalation]:
        made = record_escalations.fn(now)
        session.expire_all()
        return [session.get_one(Escalation, escalation_id) for escalation_id in made]

    return run


@pytest.mark.parametrize(
    ("state", "urgent", "minutes"),
    [
        (State.awaiting_assignment, False, 30),
        (State.assigned, False, 360),
        (State.resolved, False, 120),
        (State.assigned, True, 60),
        (State.awaiting_assignment, True, 30),  # the tighter of the step's and the urgent limit
    ],
)
def test_it_times_each_step_by_its_limit(state: State, urgent: bool, minutes: int) -> None:
    running = clock(state, T0, urgent, LIMITS)
    assert running is not None
    assert running.limit == timedelta(minutes=minutes) == step_limit(running.step, urgent, LIMITS)
    assert running.left(T0 + timedelta(minutes=minutes + 5)) == timedelta(minutes=-5)


def test_it_has_no_clock_once_final() -> None:
    assert clock(State.closed, T0, False, LIMITS) is None
    assert clock(State.rejected, T0, True, LIMITS) is None


@pytest.mark.parametrize(
    ("minutes", "percents"), [(23, []), (24, [80]), (30, [80, 100]), (60, [80, 100, 200])]
)
def test_it_reaches_rungs_by_share_of_the_limit(minutes: int, percents: list[int]) -> None:
    from models.cases.sla import Rung

    rungs = [Rung(3, None, 200, "collector"), Rung(1, None, 80, "assignee"), Rung(2, None, 100, "dm")]
    running = clock(State.awaiting_assignment, T0, False, LIMITS)
    assert running is not None
    assert [r.percent for r in rungs_reached(running, rungs, T0 + timedelta(minutes=minutes))] == percents


def test_it_escalates_each_rung_once_however_many_sweeps(
    session: Session, district: dict[str, User], ladder: list[EscalationRung], sweep: Sweep
) -> None:
    case = make_case(session, district["operator"])
    assert sweep(T0 + timedelta(minutes=11)) == []
    assert [e.rung.percent for e in sweep(T0 + timedelta(minutes=13))] == [80]
    for _ in range(3):
        assert sweep(T0 + timedelta(minutes=13)) == []
    assert [e.rung.percent for e in sweep(T0 + timedelta(minutes=31))] == [100, 200]
    assert sweep(T0 + timedelta(hours=5)) == []
    events = session.scalars(
        select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.kind == "escalation")
    )
    assert [(e.by_user_id, e.to_state) for e in events] == [(None, State.awaiting_assignment)] * 3


def test_it_stops_the_ladder_when_the_case_moves_on(
    session: Session, district: dict[str, User], ladder: list[EscalationRung], sweep: Sweep
) -> None:
    case = make_case(session, district["operator"])
    sweep(T0 + timedelta(minutes=13))
    due_before = due_escalations(session, T0 + timedelta(minutes=16))
    assert [d.rung_id for d in due_before] == [ladder[1].id]
    decide(
        session, case, Action.assign, district["dm"], version=0, now=T0 + timedelta(minutes=14),
        officer_id=district["cmho"].id,
    )  # fmt: skip
    session.commit()
    # The sweep that saw the DM step due acts after the assignment: nothing happens.
    assert escalate(session, due_before[0], T0 + timedelta(minutes=16)) is None
    assert sweep(T0 + timedelta(minutes=16)) == []
    # The officer's step has its own ladder, from the assignment: 80 % of 3 h.
    assert sweep(T0 + timedelta(minutes=14 + 143)) == []
    made = sweep(T0 + timedelta(minutes=14 + 145))
    assert [(e.rung.percent, e.decisions) for e in made] == [(80, 1)]


def test_it_sends_escalations_to_their_audience_once(
    session: Session,
    district: dict[str, User],
    ladder: list[EscalationRung],
    sweep: Sweep,
    tmp_path: Path,
) -> None:
    CAPTURED.clear()
    port = free_port()
    controller = start(tmp_path / "inbox", port=port)
    try:
        district["dm"].notify_urls = "ladder://dm"
        # The Collector's first channel takes it: the second is for when it refuses.
        district["collector"].notify_urls = f"{mail_url(port, 'collector@test.local')}\nladder://collector"
        district["cmho"].notify_urls = "ladder://cmho"
        district["cmho"].language = "hi"
        session.commit()
        case = make_case(session, district["operator"], description="ऑक्सीजन बिस्तर चाहिए")
        decide(
            session, case, Action.assign, district["dm"], version=0, now=T0, officer_id=district["cmho"].id
        )
        session.commit()
        made = sweep(T0 + timedelta(hours=7))  # over twice the officer's 3 h
        assert [(e.rung.percent, e.audience) for e in made] == [
            (80, "assignee"),
            (100, "dm"),
            (200, "collector"),
        ]
        counts = [[notify_escalation.fn(e.id) for e in made] for _ in range(2)]
        assert counts == [[1, 1, 1], [0, 0, 0]]  # a retried sweep sends nothing twice
        assert [c["to"] for c in CAPTURED] == ["cmho", "dm"]
        assert "अनुस्मारक" in CAPTURED[0]["title"] and case.number in CAPTURED[0]["title"]
        assert "Overdue" in CAPTURED[1]["title"] and "action by the officer" in CAPTURED[1]["title"]
        # Assigned at 04:00 UTC with 3 h to act: due 07:00 UTC, 12:30 in India, written as on the pages.
        assert "समय सीमा: 29/11/2026, 12:30 (भारतीय समय)" in CAPTURED[0]["body"]
        assert "Limit: 29/11/2026, 12:30 pm (India time)" in CAPTURED[1]["body"]
        mails = read_messages(tmp_path / "inbox")
        assert len(mails) == 1 and "ऑक्सीजन बिस्तर चाहिए" in body_text(mails[0])
        sent = session.scalar(select(func.count()).select_from(Delivery).where(Delivery.status == "sent"))
        assert sent == 3
        assert unnotified(session) == []
    finally:
        controller.stop()


def test_it_offers_a_case_page_with_its_clock(
    client, session: Session, district: dict[str, User], ladder: list[EscalationRung], sweep: Sweep
) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import login

    case = make_case(session, district["operator"], now=datetime.now(UTC) - timedelta(minutes=45))
    sweep(datetime.now(UTC))
    login(client, "dm")
    page = client.get(f"/cases/{case.number}").get_data(as_text=True)
    assert "overdue" in page
    assert "Overdue (100% of the time limit): the DM told" in page
    assert "Reminder to the person it waits on: 80% of the time limit used" in page


def test_it_loads_the_ladder_from_csv_all_or_nothing(session: Session, ladder: list[EscalationRung]) -> None:
    import io

    from models.reference.loading import ImportFailed, load_csv

    bad = "step,percent,audience,active\nofficer,50,assignee,yes\nnurse,100,dm,yes\ndm,-5,dm,yes\n"
    with pytest.raises(ImportFailed) as failed:
        load_csv(session, "ladder", io.StringIO(bad))
    session.rollback()
    assert failed.value.report.errors == [
        "line 3: unknown step 'nurse' (dm, officer, collector, or empty for every step)",
        "line 4: 'percent' must be a positive number of percent",
    ]
    good = "step,percent,audience,active\nofficer,50,assignee,yes\n,200,collector,no\n"
    report = load_csv(session, "ladder", io.StringIO(good))
    session.commit()
    assert (report.created, report.updated) == (1, 1)
    rungs = session.scalars(select(EscalationRung).order_by(EscalationRung.id)).all()
    assert [(r.step, r.percent, r.audience, r.active) for r in rungs][2:] == [
        (None, 200, "collector", False),
        ("officer", 50, "assignee", True),
    ]
