"""The caller's side of the loop: after the officer resolves, an operator rings the caller back."""

from __future__ import annotations

import io
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from models.cases.callback import unanswered_tries
from models.cases.decisions import NotAllowed, decide, queue_for
from models.cases.lifecycle import WAITING_ON, Action, State, Step, apply, step_for
from models.cases.pulse import pulse
from models.cases.sla import Limits, step_limit
from models.cases.tables import Case, CaseEvent
from models.config import Settings
from models.messages import CallerMessage
from models.outbox import Outbox
from models.oversight.escalation import due_escalations, escalate
from models.oversight.tables import EscalationRung
from models.reference.tables import Role, User
from notifications import caller
from notifications.delivery import recipients
from tests.casedata import make_case, move
from tests.conftest import csrf_token, decision_data, login
from tests.conftest import decide as decide_by_form

T0 = datetime(2026, 11, 29, 4, 0, tzinfo=UTC)


def resolved(session: Session, u: dict[str, User], at: datetime = T0, **kwargs: str) -> Case:
    """A case the CMHO resolved at `at` + 1 h: waiting on the call back."""
    case = make_case(session, u["operator"], at, **kwargs)
    move(session, case, Action.assign, u["dm"], at + timedelta(minutes=10), u["cmho"])
    move(session, case, Action.resolve, u["cmho"], at + timedelta(hours=1))
    session.commit()
    return case


def usernames(users: list[User]) -> set[str]:
    return {u.username for u in users}


def last_event(case: Case) -> CaseEvent:
    return case.events[-1]


def test_the_officers_resolution_waits_on_a_call_back() -> None:
    assert apply(State.assigned, Action.resolve) == State.callback
    assert WAITING_ON[State.callback] == Step.callback
    verdicts = (Action.satisfied, Action.not_satisfied, Action.unreachable, Action.close_unverified)
    assert {step_for(a) for a in verdicts} == {Step.callback}
    assert apply(State.callback, Action.unreachable) == State.callback  # one more try, same step
    limits = Limits(assign=30, resolve=360, confirm=120, urgent=60, callback=90)
    assert step_limit(Step.callback, False, limits) == timedelta(minutes=90)
    assert step_limit(Step.callback, True, limits) == timedelta(minutes=60)


def test_a_satisfied_caller_gives_a_rating_and_the_case_goes_to_the_collector(
    session: Session, district: dict[str, User]
) -> None:
    u = district
    case = resolved(session, u)
    assert case.state == State.callback
    assert case.resolved_at is not None  # the officer's resolution, not the caller's word
    due = case.due_at
    assert due is not None
    assert due.replace(tzinfo=UTC) == T0 + timedelta(hours=1, minutes=case.category.callback_minutes)
    at = T0 + timedelta(hours=2)
    version = case.decisions
    for rating in (None, 0, 6):
        with pytest.raises(NotAllowed):
            decide(session, case, Action.satisfied, u["operator"], version=version, now=at, rating=rating)
    with pytest.raises(NotAllowed):  # the officer may not answer for the caller
        decide(session, case, Action.satisfied, u["cmho"], version=case.decisions, now=at, rating=5)
    event = decide(session, case, Action.satisfied, u["operator"], version=case.decisions, now=at, rating=5)
    session.commit()
    assert (case.state, event.rating) == (State.resolved, 5)
    assert usernames(recipients(session, case, event)) == {"collector"}


def test_an_unsatisfied_caller_sends_it_back_to_the_officer_and_the_dm_is_told(
    session: Session, district: dict[str, User]
) -> None:
    u = district
    case = resolved(session, u)
    at = T0 + timedelta(hours=2)
    with pytest.raises(NotAllowed):  # the caller's words are the point
        decide(session, case, Action.not_satisfied, u["operator"], version=case.decisions, now=at, text="  ")
    event = decide(
        session, case, Action.not_satisfied, u["operator"], version=case.decisions, now=at, text="No bed yet"
    )
    session.commit()
    assert (case.state, case.officer_id, event.rating) == (State.assigned, u["cmho"].id, None)
    assert usernames(recipients(session, case, event)) == {"cmho", "dm"}


def test_the_resolution_tells_the_operators_and_a_try_tells_nobody(
    session: Session, district: dict[str, User]
) -> None:
    u = district
    case = resolved(session, u)
    resolution = last_event(case)
    assert resolution.kind == Action.resolve
    operators = set(session.scalars(select(User.username).where(User.role == Role.operator)))
    assert usernames(recipients(session, case, resolution)) == operators
    move(session, case, Action.unreachable, u["operator"], T0 + timedelta(hours=2))
    assert recipients(session, case, last_event(case)) == []


def test_each_try_is_a_decision_of_the_run_and_restarts_the_clock(
    session: Session, district: dict[str, User]
) -> None:
    u = district
    case = resolved(session, u)
    for n in (1, 2):
        at = T0 + timedelta(hours=1 + n)
        move(session, case, Action.unreachable, u["operator"], at)
        assert (case.state, unanswered_tries(session, case)) == (State.callback, n)
        assert case.due_at is not None
        assert case.due_at.replace(tzinfo=UTC) == at + timedelta(minutes=case.category.callback_minutes)
    session.commit()
    resumes = session.scalars(
        select(Outbox).where(Outbox.case_id == case.id, Outbox.kind == "resume").order_by(Outbox.id)
    ).all()
    # Each try its own suspend of the flow run, each keyed by its own event.
    assert [(o.pause_key, o.payload["action"]) for o in resumes[-2:]] == [
        ("decision-2", "unreachable"),
        ("decision-3", "unreachable"),
    ]
    assert resumes[-1].payload["event_id"] != resumes[-2].payload["event_id"]


def test_the_collector_closes_without_the_callers_word_only_after_the_tries(
    session: Session, district: dict[str, User], settings: Settings
) -> None:
    u = district
    case = resolved(session, u, phone="+919811111111")
    case.category.callback_tries = 2
    at = T0 + timedelta(hours=3)

    def close(text: str = "Rang twice a day for two days") -> CaseEvent:
        by, version = u["collector"], case.decisions
        return decide(session, case, Action.close_unverified, by, version=version, now=at, text=text)

    move(session, case, Action.unreachable, u["operator"], T0 + timedelta(hours=2))
    with pytest.raises(NotAllowed):  # one try of two
        close()
    # Tries before a later resolution do not count: the caller who said no is rung again.
    move(session, case, Action.not_satisfied, u["operator"], T0 + timedelta(hours=2, minutes=5))
    move(session, case, Action.resolve, u["cmho"], T0 + timedelta(hours=2, minutes=10))
    move(session, case, Action.unreachable, u["operator"], T0 + timedelta(hours=2, minutes=20))
    assert unanswered_tries(session, case) == 1
    with pytest.raises(NotAllowed):
        close()
    move(session, case, Action.unreachable, u["operator"], T0 + timedelta(hours=2, minutes=40))
    with pytest.raises(NotAllowed):  # a reason is required
        close(text="")
    with pytest.raises(NotAllowed):  # the Collector's, not the operator's
        version = case.decisions
        decide(session, case, Action.close_unverified, u["operator"], version=version, now=at, text="xy")
    event = close()
    session.commit()
    assert (case.state, case.closed_at is not None) == (State.closed, True)
    assert usernames(recipients(session, case, event)) == {"operator"}
    # The caller hears why, in their language, by SMS.
    sms = replace(settings, sms_url="mailto://127.0.0.1:9?from=cr@test.local&to=sms{phone}@sms.test.local")
    (row_id,) = caller.plan_caller_messages(session, case.id, event.id, sms)
    row = session.get_one(CallerMessage, row_id)
    for language, words in (("hi", "संपर्क नहीं हो सका"), ("en", "could not reach you")):
        row.language = language
        message = caller.compose(session, row, sms)
        assert words in message.body and "Rang twice a day for two days" in message.body
        assert case.number in message.body


def test_the_collector_sees_a_case_whose_tries_are_used_up_whatever_other_cases_do(
    session: Session, district: dict[str, User]
) -> None:
    """The Collector's queue and tab count hold a case once its caller went unanswered as often as
    its category allows, counted since its own latest resolution: another case resolved later
    changes nothing (its resolution was taken for this case's, and the tries counted none)."""
    u = district
    case = resolved(session, u, phone="+919811111111")
    case.category.callback_tries = 2
    for minutes in (10, 20):
        move(session, case, Action.unreachable, u["operator"], T0 + timedelta(hours=2, minutes=minutes))
    session.commit()
    collector = u["collector"]
    assert [c.id for c in queue_for(session, collector)] == [case.id]
    assert pulse(session, collector).waiting == 1
    resolved(session, u, at=T0 + timedelta(hours=3), phone="+919822222222")  # another case, resolved after
    assert [c.id for c in queue_for(session, collector)] == [case.id]
    assert pulse(session, collector).waiting == 1


def test_the_operators_queue_puts_the_call_backs_first_for_every_operator(
    session: Session, district: dict[str, User]
) -> None:
    u = district
    second = User(username="operator2", name="Second Operator", role=Role.operator, language="en")
    session.add(second)
    mine = make_case(session, u["operator"], T0)  # waits on the DM
    older = resolved(session, u, T0 - timedelta(hours=5))
    newer = resolved(session, u, T0 - timedelta(hours=1))
    theirs = make_case(session, second, T0)
    session.commit()
    assert [c.id for c in queue_for(session, u["operator"])] == [older.id, newer.id, mine.id]
    assert [c.id for c in queue_for(session, second)] == [older.id, newer.id, theirs.id]
    # A try not answered sends the case to the back of the call backs.
    move(session, older, Action.unreachable, u["operator"], T0 + timedelta(hours=2))
    session.commit()
    assert [c.id for c in queue_for(session, second)] == [newer.id, older.id, theirs.id]
    for user in (u["operator"], second, u["collector"], u["dm"]):
        assert pulse(session, user).waiting == len(queue_for(session, user)), user.username
    # Once the tries are used up the Collector has it on their queue too.
    assert older not in queue_for(session, u["collector"])
    for _ in range(older.category.callback_tries - 1):
        move(session, older, Action.unreachable, u["operator"], T0 + timedelta(hours=3))
    session.commit()
    assert older in queue_for(session, u["collector"]) and newer not in queue_for(session, u["collector"])
    assert pulse(session, u["collector"]).waiting == len(queue_for(session, u["collector"])) == 1


def test_the_ladder_tells_the_operators_of_a_late_call_back(
    session: Session, district: dict[str, User]
) -> None:
    session.add(EscalationRung(step=Step.callback.value, percent=100, audience="assignee"))
    case = resolved(session, district)
    late = T0 + timedelta(hours=1, minutes=case.category.callback_minutes + 1)
    (due,) = due_escalations(session, late)
    escalation = escalate(session, due, late)
    assert escalation is not None
    event = session.get_one(CaseEvent, escalation.event_id)
    operators = set(session.scalars(select(User.username).where(User.role == Role.operator)))
    assert usernames(recipients(session, case, event)) == operators


def forms_on(page: str) -> set[str]:
    """The decisions the page offers (the merge of an open case into another is not one of its steps)."""
    return set(re.findall(r'id="form-([a-z_]+)"', page)) - {"merge"}


def as_user(client: FlaskClient, username: str) -> FlaskClient:
    client.delete_cookie("session")
    login(client, username)
    return client


def test_the_operator_records_the_call_back_on_the_case_page(
    client: FlaskClient, session: Session, district: dict[str, User]
) -> None:
    case = resolved(session, district)
    number = str(case.number)
    as_user(client, "operator")
    page = client.get(f"/cases/{number}").get_data(as_text=True)
    assert forms_on(page) == {"satisfied", "not_satisfied", "unreachable"}
    assert "0 of 3 tries unanswered" in page
    # No token: refused, nothing changed.
    data = decision_data(client, number, "satisfied", rating="4")
    del data["satisfied-csrf_token"]
    assert client.post(f"/cases/{number}/satisfied", data=data).status_code == 400
    response = decide_by_form(client, number, "satisfied", rating="0")
    assert response.status_code == 400
    assert "Choose the caller's rating." in response.get_data(as_text=True)
    response = decide_by_form(client, number, "not_satisfied", text="")
    assert response.status_code == 400 and "This field is required." in response.get_data(as_text=True)
    assert decide_by_form(client, number, "unreachable", text="Switched off").status_code == 302
    assert "1 of 3 tries unanswered" in client.get(f"/cases/{number}").get_data(as_text=True)
    assert decide_by_form(client, number, "satisfied", rating="4", text="Bed given").status_code == 302
    session.expire_all()
    case = session.get_one(Case, case.id)
    assert case.state == State.resolved and case.events[-1].rating == 4
    # The Collector's confirmation shows the caller's verdict, in Hindi to a Hindi reader.
    as_user(client, "collector")
    page = client.get(f"/cases/{number}").get_data(as_text=True)
    assert forms_on(page) == {"confirm", "reopen"}
    assert "Satisfied on the call back, rating 4 of 5" in page
    client.post("/language", data={"csrf_token": csrf_token(page), "language": "hi"})
    assert "वापस फ़ोन पर संतुष्ट, रेटिंग 5 में से 4" in client.get(f"/cases/{number}").get_data(as_text=True)


def test_the_collector_closes_an_unreachable_callers_case_on_the_page(
    client: FlaskClient, session: Session, district: dict[str, User]
) -> None:
    case = resolved(session, district)
    number = str(case.number)
    as_user(client, "collector")
    assert forms_on(client.get(f"/cases/{number}").get_data(as_text=True)) == set()
    for _ in range(case.category.callback_tries):
        move(session, case, Action.unreachable, district["operator"], T0 + timedelta(hours=2))
    session.commit()
    assert forms_on(client.get(f"/cases/{number}").get_data(as_text=True)) == {"close_unverified"}
    response = decide_by_form(client, number, "close_unverified", text="")
    assert response.status_code == 400 and "This field is required." in response.get_data(as_text=True)
    response = decide_by_form(client, number, "close_unverified", text="Phone off for three days")
    assert response.status_code == 302
    page = client.get(f"/cases/{number}").get_data(as_text=True)
    assert "closed without the caller's word (counted as a forced closure)" in page
    session.expire_all()
    assert session.get_one(Case, case.id).state == State.closed


def test_a_categories_file_sets_the_call_backs_limit_and_tries(
    session: Session, district: dict[str, User]
) -> None:
    from models.reference.loading import load_csv
    from models.reference.tables import Category

    text = "code,name,department,callback_minutes,callback_tries\nbed,Hospital bed,health,45,5\n"
    load_csv(session, "categories", io.StringIO(text))
    session.commit()
    bed = session.scalars(select(Category).where(Category.code == "bed")).one()
    assert (bed.callback_minutes, bed.callback_tries, bed.limits.callback) == (45, 5, 45)


def test_the_operators_queue_page_lists_the_callers_to_ring_back_first(
    client: FlaskClient, session: Session, district: dict[str, User]
) -> None:
    own = make_case(session, district["operator"], T0)
    due = resolved(session, district)
    as_user(client, "operator")
    page = client.get("/queue").get_data(as_text=True)
    callbacks, opened = page.split("Complaints I opened")
    assert "Callers to ring back" in callbacks and str(due.number) in callbacks
    assert str(own.number) not in callbacks and str(own.number) in opened and str(due.number) not in opened
