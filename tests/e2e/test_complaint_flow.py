"""A complaint through the real stack: Prefect server, worker, dispatcher, web app, SMTP and HTTP sinks."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import select

from models.cases.tables import Case
from models.db import get_sessionmaker
from models.messages import Delivery
from models.outbox import Outbox
from scripts.stack import Stack
from tests.e2e.web import PrefectApi, WebUser, mails_about, texts_about, wait_until
from tests.helpers import HttpSink, kill_tree

pytestmark = pytest.mark.e2e

# A phrase of each of the caller's Hindi texts (notifications/templates/hi/caller_*.txt).
CALLER_WORDS = {
    "opened": "नंबर पर दर्ज",
    "assigned": "विभाग को सौंपी",
    "resolved": "फ़ोन करेंगे",
    "closed": "बंद हो गई",
}


def wait_for_mails(stack: Stack, number: str, count: int, timeout: float = 180) -> list[tuple[str, str]]:
    maildir = stack.instance / "mail"
    # Generous: CI shares two cores between the stack, the tests and the browser.
    return wait_until(
        lambda: len(mails_about(maildir, number)) >= count and mails_about(maildir, number),
        timeout=timeout,
        what=f"{count} mails about {number}",
    )


def test_it_carries_a_complaint_to_closure(
    stack: Stack, users: dict[str, WebUser], http_sink: HttpSink, cmho_id: str
) -> None:
    number = users["operator"].open_case(description="ऑक्सीजन बिस्तर चाहिए")
    wait_for_mails(stack, number, 1)
    # Each decision, and the mails about the case once its run has recorded it (cumulative).
    steps = [
        ("dm", "assign", {"officer": cmho_id, "text": "तुरंत देखें"}, 2),
        ("cmho", "send_back", {"text": "Needs the BMO"}, 3),
        ("dm", "assign", {"officer": cmho_id, "text": "Please handle"}, 4),
        ("cmho", "resolve", {"text": "Bed 12 at the district hospital"}, 5),  # the operators ring back
        ("operator", "not_satisfied", {"text": "No bed yet"}, 7),  # the officer and the DM
        ("cmho", "resolve", {"text": "Bed 12 now free"}, 8),
        ("operator", "unreachable", {"text": "No answer"}, 8),  # nobody is told; the step waits again
        ("operator", "satisfied", {"rating": "3", "text": ""}, 9),
        ("collector", "reopen", {"text": "Caller says no bed yet"}, 10),
        ("cmho", "resolve", {"text": "Admitted, bed 14"}, 11),
        ("operator", "satisfied", {"rating": "5", "text": "Admitted"}, 12),
        ("collector", "confirm", {"text": "Confirmed with the caller"}, 13),
    ]
    for who, action, fields, mails_by_then in steps:
        users[who].decide(number, action, **fields)
        wait_for_mails(stack, number, mails_by_then)

    prefect = PrefectApi(stack.api_url)
    runs = wait_until(
        lambda: [r for r in prefect.runs_named(number) if r["state_type"] == "COMPLETED"],
        what="run completed",
    )
    assert len(prefect.runs_named(number)) == 1
    run = runs[0]
    assert f"case:{number}" in run["tags"]
    assert run["work_queue_name"] == "default"  # a routine complaint: after any urgent run
    states = prefect.states(run["id"])
    assert states.count("Suspended") == len(steps) and states[-1] == "Completed"
    # Each resume replays the flow, but a step's task that completed is not called again (no "Cached"
    # task runs): each ran once. Task run states reach the server as events, a moment after the run ends.
    expected = {"log_complaint": 1, "assign_officer": 2, "send_back": 1, "record_action": 3}
    expected |= {"caller_not_satisfied": 1, "caller_unreachable": 1, "caller_satisfied": 2}
    expected |= {"reopen_case": 1, "confirm_closure": 1}

    def completed_tasks() -> Counter[str]:
        runs = prefect.task_runs(run["id"])
        return Counter(t["name"].rsplit("-", 1)[0] for t in runs if t["state_name"] == "Completed")

    wait_until(lambda: completed_tasks() == expected, timeout=30, what=f"task runs {expected}")
    assert len(prefect.task_runs(run["id"])) == sum(expected.values())

    mails = mails_about(stack.instance / "mail", number)
    tos = [to for to, _ in mails]
    assert tos[:5] == [
        "dm@demo.local",
        "cmho@demo.local",
        "dm@demo.local",
        "cmho@demo.local",
        "operator@demo.local",
    ]
    assert sorted(tos[5:7]) == ["cmho@demo.local", "dm@demo.local"]  # one step: no order between them
    assert tos[7:] == [
        "operator@demo.local",
        "collector@demo.local",
        "cmho@demo.local",
        "operator@demo.local",
        "collector@demo.local",
        "operator@demo.local",
    ]
    assert Counter(mails).most_common(1)[0][1] <= 3  # the same subject again only for repeated steps
    # The Collector's mail took each hand-off: the HTTP channel after it is for when mail refuses.
    assert not [p for p in http_sink.received if number in p.get("title", "")]

    # The caller heard of each step they hear of, once each, in Hindi (the intake form's default):
    # registered, with the department (twice: assigned again after the send-back), acted on (three
    # times), closed. The call backs themselves are no text: the caller was on the phone.
    texts = texts_about(stack.instance / "mail", number)
    (to,) = {to for to, _ in texts}  # the caller's phone, as the operator typed it
    assert re.fullmatch(r"sms\+919\d{9}@demo\.local", to), to
    steps_told = Counter(
        next(step for step, words in CALLER_WORDS.items() if words in text) for _, text in texts
    )
    assert steps_told == {"opened": 1, "assigned": 2, "resolved": 3, "closed": 1}

    with get_sessionmaker(stack.database_url)() as session:
        case = session.scalar(select(Case).where(Case.number == number))
        assert case is not None and case.state == "closed" and case.flow_run_id == run["id"]
        deliveries = session.scalars(select(Delivery).where(Delivery.case_id == case.id)).all()
        assert len(deliveries) == 13 and {(d.status, d.attempts) for d in deliveries} == {("sent", 1)}
        assert {d.reason for d in deliveries} == {"first"}
        assert all(o.done_at for o in session.scalars(select(Outbox).where(Outbox.case_id == case.id)))

    # By default the business steps, each with its engine line; every run state and task one click away.
    timeline = users["collector"].http.get(f"/cases/{number}/timeline").text
    assert "Engine: Recording the assignment" in timeline and '<tr class="state">' not in timeline
    assert f"/runs/flow-run/{run['id']}" in timeline
    detail = users["collector"].http.get(f"/cases/{number}/timeline?detail=engine").text
    assert "Suspended" in detail and "Completed" in detail and "assign_officer" in detail


def test_it_keeps_complaints_while_prefect_is_down(stack: Stack, users: dict[str, WebUser]) -> None:
    stack.stop("prefect-server")
    try:
        numbers = [users["operator"].open_case(caller_name=f"Caller {i}") for i in range(3)]
        with get_sessionmaker(stack.database_url)() as session:

            def failing() -> list[Outbox]:
                session.expire_all()  # the rows as the dispatcher left them now, not as first loaded
                # Not rows parked by other tests: those wait for a person, whatever Prefect does.
                undone = select(Outbox).where(Outbox.done_at.is_(None), Outbox.parked_at.is_(None))
                return [o for o in session.scalars(undone) if o.last_error]

            pending = wait_until(failing, what="the dispatcher to record the outage")
            assert {o.payload["case_number"] for o in pending} <= set(numbers)
    finally:
        stack.start_prefect_server()
    for number in numbers:
        wait_for_mails(stack, number, 1)
    prefect = PrefectApi(stack.api_url)
    for number in numbers:
        assert len(prefect.runs_named(number)) == 1


def test_it_retries_a_failed_mail_once(stack: Stack, users: dict[str, WebUser]) -> None:
    stack.stop("mailsink")
    try:
        number = users["operator"].open_case(caller_name="Mail outage")
        with get_sessionmaker(stack.database_url)() as session:
            failed = wait_until(
                lambda: session.scalars(
                    select(Delivery).join(Case).where(Case.number == number, Delivery.status == "failed")
                ).all(),
                what="a failed delivery",
            )
            assert failed[0].last_error
        page = users["dm"].http.get(f"/cases/{number}").text
        assert "Failed" in page
    finally:
        stack.start_mail_sink()
    wait_for_mails(stack, number, 1)
    with get_sessionmaker(stack.database_url)() as session:
        delivery = session.scalars(select(Delivery).join(Case).where(Case.number == number)).one()
        assert delivery.status == "sent" and delivery.attempts >= 2
    assert len(mails_about(stack.instance / "mail", number)) == 1


def test_it_keeps_complaints_while_the_worker_is_down(
    stack: Stack, users: dict[str, WebUser], cmho_id: str
) -> None:
    prefect = PrefectApi(stack.api_url)
    stack.stop("worker")
    try:
        number = users["operator"].open_case(caller_name="Worker outage")
        run = wait_until(lambda: prefect.runs_named(number), what="the run to be created")[0]
        assert run["state_type"] in ("SCHEDULED", "PENDING")
        assert mails_about(stack.instance / "mail", number) == []
    finally:
        stack.start_worker()
    wait_for_mails(stack, number, 1)
    users["dm"].decide(number, "assign", officer=cmho_id)
    wait_for_mails(stack, number, 2)
    assert len(prefect.runs_named(number)) == 1


def test_it_recovers_a_run_whose_worker_died_mid_step(
    stack: Stack, users: dict[str, WebUser], cmho_id: str
) -> None:
    prefect = PrefectApi(stack.api_url)
    stack.stop("mailsink")  # the run's notify task now sits in its retries: the run is mid-step
    number = users["operator"].open_case(caller_name="Worker crash")
    with get_sessionmaker(stack.database_url)() as session:
        wait_until(
            lambda: session.scalars(
                select(Delivery).join(Case).where(Case.number == number, Delivery.status == "failed")
            ).all(),
            what="the first delivery attempt to fail",
        )
    run = prefect.runs_named(number)[0]
    assert run["state_type"] == "RUNNING"
    assert kill_tree(stack.procs.pop("worker").pid) >= 2  # the worker and the run's process
    stack.start_mail_sink()
    stack.start_worker()
    # Prefect's zombie automation (flows/automations.py) notices the missing heartbeats and
    # marks the run Crashed (heartbeats every 30 s here); the dispatcher reschedules it;
    # the replay sends the DM's mail, without waiting for the DM.
    mails = wait_for_mails(stack, number, 1, timeout=300)
    assert [to for to, _ in mails] == ["dm@demo.local"]
    states = prefect.states(run["id"])
    crashed = states.index("Crashed")
    assert "Scheduled" in states[crashed:], states
    users["dm"].decide(number, "assign", officer=cmho_id)
    mails = wait_for_mails(stack, number, 2)
    assert [to for to, _ in mails] == ["dm@demo.local", "cmho@demo.local"]
    run = wait_until(
        lambda: [r for r in prefect.runs_named(number) if r["state_name"] == "Suspended"], what="suspended"
    )[0]
    assert set(run["empirical_policy"]["pause_keys"]) == {"decision-0", "decision-1"}


def waiting_for_the_dm(
    stack: Stack, users: dict[str, WebUser], prefect: PrefectApi, caller: str
) -> tuple[str, dict[str, Any]]:
    """A new complaint whose DM was mailed: its number and its run, Suspended for the DM."""
    number = users["operator"].open_case(caller_name=caller)
    wait_for_mails(stack, number, 1)
    run = wait_until(
        lambda: [r for r in prefect.runs_named(number) if r["state_name"] == "Suspended"], what="suspended"
    )[0]
    return number, run


def test_it_puts_back_a_waiting_run_marked_crashed(
    stack: Stack, users: dict[str, WebUser], cmho_id: str
) -> None:
    """Prefect's zombie automation can mark a run that has just suspended Crashed, when its
    start-up heartbeat reaches a busy server after its suspension (seen in the burst bench).
    Rescheduled, the run would find its suspension fired and no decision stored; the
    dispatcher puts the suspension back instead, and the DM's decision resumes it."""
    prefect = PrefectApi(stack.api_url)
    number, run = waiting_for_the_dm(stack, users, prefect, "False zombie")
    # What the automation's action does (flows/automations.py).
    crash = {"type": "CRASHED", "name": "Crashed", "message": "marked as crashed: heartbeats stopped."}
    answer = prefect.http.post(f"/flow_runs/{run['id']}/set_state", json={"state": crash, "force": True})
    assert answer.status_code == 201 and answer.json()["status"] == "ACCEPT"
    wait_until(
        lambda: prefect.runs_named(number)[0]["state_name"] == "Suspended",
        timeout=60,
        what="the suspension put back",
    )
    users["dm"].decide(number, "assign", officer=cmho_id)
    mails = wait_for_mails(stack, number, 2)
    assert [to for to, _ in mails] == ["dm@demo.local", "cmho@demo.local"]
    run = wait_until(
        lambda: [
            r
            for r in prefect.runs_named(number)
            if r["state_name"] == "Suspended" and "decision-1" in r["empirical_policy"]["pause_keys"]
        ],
        what="suspended for the officer",
    )[0]
    assert len(prefect.runs_named(number)) == 1
    states = prefect.states(run["id"])
    assert states[states.index("Crashed") + 1] == "Suspended", states


def test_it_resumes_a_run_that_died_before_saving_its_input_schema(
    stack: Stack, users: dict[str, WebUser], cmho_id: str
) -> None:
    """Prefect's suspend sets the Suspended state, then saves the schema of the input it waits for: a
    worker killed in between (the fault drill's dead worker, tests/e2e/cluster) leaves a run that
    refuses every resume ("Run input schema not found"). The dispatcher saves a schema and resumes it."""
    prefect = PrefectApi(stack.api_url)
    number, run = waiting_for_the_dm(stack, users, prefect, "Half suspended")
    schema = run["state"]["state_details"]["run_input_keyset"]["schema"]
    deleted = prefect.http.delete(f"/flow_runs/{run['id']}/input/{schema}")  # as if never saved
    assert deleted.status_code == 204
    users["dm"].decide(number, "assign", officer=cmho_id)
    mails = wait_for_mails(stack, number, 2)
    assert [to for to, _ in mails] == ["dm@demo.local", "cmho@demo.local"]
    assert prefect.http.get(f"/flow_runs/{run['id']}/input/{schema}").status_code == 200
