"""The escalation sweep as deployed: a run on the real Prefect server and worker, with the test's clock."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from models.cases.tables import Case, CaseEvent
from models.db import get_sessionmaker
from models.times import aware
from scripts.stack import Stack
from tests.e2e.web import PrefectApi, WebUser, mails_about, wait_until
from tests.helpers import HttpSink

pytestmark = pytest.mark.e2e

SWEEP = "escalation-sweep/escalation-sweep"


def escalations(stack: Stack, number: str) -> list[str]:
    with get_sessionmaker(stack.database_url)() as session:
        events = session.scalars(
            select(CaseEvent).join(Case).where(Case.number == number, CaseEvent.kind == "escalation")
        )
        return [f"{e.escalation.rung.percent}:{e.escalation.audience}" for e in events if e.escalation]


def test_it_escalates_once_per_rung_on_a_controlled_clock(
    stack: Stack, users: dict[str, WebUser], http_sink: HttpSink, cmho_id: str
) -> None:
    number = users["operator"].open_case(caller_name="Ladder", description="बिस्तर नहीं मिला")
    maildir = stack.instance / "mail"
    wait_until(lambda: mails_about(maildir, number), timeout=180, what="the DM's first mail")
    with get_sessionmaker(stack.database_url)() as session:
        case = session.scalar(select(Case).where(Case.number == number))
        assert case is not None and case.due_at is not None
        opened = aware(case.created_at)
    prefect = PrefectApi(stack.api_url)
    later = (opened + timedelta(minutes=31)).isoformat()  # past twice the bed category's 15 minutes

    run = prefect.run_deployment(SWEEP, {"now": later})
    assert run["state_type"] == "COMPLETED", run["state"]
    assert escalations(stack, number) == ["80:assignee", "100:dm", "200:collector"]
    wait_until(lambda: len(mails_about(maildir, number)) >= 4, what="4 mails")
    mails = mails_about(maildir, number)
    subjects = sorted((to, subject.split(":")[0].split("] ")[1]) for to, subject in mails[1:])
    assert subjects == [
        ("collector@demo.local", "Overdue"),
        ("dm@demo.local", "Overdue"),
        ("dm@demo.local", "Reminder"),
    ], mails
    # One channel each: the Collector's mail took it; the HTTP channel after it is for when mail refuses.
    assert not any(number in str(body) for body in http_sink.received)

    # Sweeps again, as the schedule would: nothing new, nothing sent twice.
    for _ in range(2):
        assert prefect.run_deployment(SWEEP, {"now": later})["state_type"] == "COMPLETED"
    assert len(escalations(stack, number)) == 3
    assert len(mails_about(maildir, number)) == 4

    # The DM assigns: the DM step's ladder stops; the officer's clock starts now.
    users["dm"].decide(number, "assign", officer=cmho_id, text="")
    wait_until(lambda: len(mails_about(maildir, number)) >= 5, timeout=180, what="the officer's mail")
    assert prefect.run_deployment(SWEEP, {"now": later})["state_type"] == "COMPLETED"
    assert len(escalations(stack, number)) == 3


def test_it_reopens_a_closed_case_in_a_new_run(stack: Stack, users: dict[str, WebUser], cmho_id: str) -> None:
    """A caller's new complaint about a closed case: the operator reopens it, its next run carries it on."""
    maildir = stack.instance / "mail"
    number = users["operator"].open_case(caller_name="Reopen", description="बिस्तर चाहिए")
    for who, action, fields in [
        ("dm", "assign", {"officer": cmho_id, "text": ""}),
        ("cmho", "resolve", {"text": "Bed 3"}),
        ("operator", "satisfied", {"rating": "4", "text": ""}),
        ("collector", "confirm", {"text": ""}),
    ]:
        users[who].decide(number, action, **fields)  # the case moves at once; its run follows
    prefect = PrefectApi(stack.api_url)
    wait_until(
        lambda: [r for r in prefect.runs_named(number) if r["state_type"] == "COMPLETED"],
        timeout=180,
        what="the first run to complete",
    )
    users["operator"].decide(number, "reopen_closed", text="फिर से बिस्तर नहीं मिला")
    reopened = wait_until(
        lambda: [s for to, s in mails_about(maildir, number) if "reopened by the caller" in s],
        timeout=180,
        what="the DMs' mail about the reopening",
    )
    assert reopened
    runs = prefect.runs_named(number)
    assert sorted(r["state_type"] for r in runs) == ["COMPLETED", "PAUSED"]
    users["dm"].decide(number, "assign", officer=cmho_id, text="फिर देखें")
    wait_until(
        lambda: sum(1 for to, _ in mails_about(maildir, number) if to == "cmho@demo.local") >= 2,
        timeout=180,
        what="the officer's second mail",
    )
