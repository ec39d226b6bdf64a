"""One problem, one case, after the fact: an open case merged into another by the DM or the Collector,
its callers joining the survivor's, told once; undone within the shift; counted apart."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from models.cases.callers import attach_caller, told_of
from models.cases.decisions import NotAllowed, StaleDecision, pause_key
from models.cases.lifecycle import FINAL, Action, InvalidTransition, State
from models.cases.merging import MERGED_IN, merge, undoable, unmerge
from models.cases.public import public_status
from models.cases.tables import Case, CaseCaller, CaseEvent
from models.config import Settings
from models.db import get_sessionmaker
from models.desk.shifts import current_shift
from models.messages import CallerMessage, Delivery
from models.outbox import Outbox
from models.oversight.report import daily_report
from models.reference.tables import User
from models.times import india_day
from notifications.caller import plan_caller_messages
from notifications.delivery import plan_deliveries
from tests.casedata import make_case, move
from tests.conftest import csrf_token, login

NOW = datetime.now(UTC)


@pytest.fixture
def pair(session: Session, district: dict[str, User]) -> tuple[Case, Case]:
    """Two calls about one village's oxygen: the first assigned to the CMHO, the second (with one more
    caller attached) still waiting on the DM."""
    by = district["operator"]
    first = make_case(
        session, by, NOW - timedelta(minutes=30), phone="+919876500001", description="Oxygen out"
    )
    second = make_case(
        session, by, NOW - timedelta(minutes=20), phone="+919876500002", description="No oxygen"
    )
    move(session, first, Action.assign, district["dm"], NOW - timedelta(minutes=25), officer=district["cmho"])
    move(session, second, Action.assign, district["dm"], NOW - timedelta(minutes=15), officer=district["bmo"])
    attach_caller(
        session,
        second,
        caller_name="तीसरे कॉलर",
        phone="+919876500003",
        language="hi",
        by_user_id=by.id,
        now=NOW - timedelta(minutes=10),
        text_caller=False,
    )
    session.commit()
    return first, second


def test_the_merged_case_ends_merged_and_its_callers_join_the_survivor(
    session: Session, district: dict[str, User], pair: tuple[Case, Case], settings: Settings
) -> None:
    survivor, doomed = pair
    version = doomed.decisions
    event = merge(session, doomed, survivor, district["dm"], version=version, now=NOW)
    session.commit()
    assert State.merged in FINAL
    assert (doomed.state, doomed.merged_into_id, doomed.decisions) == (State.merged, survivor.id, version + 1)
    assert doomed.closed_at is not None and doomed.due_at is None
    assert (event.kind, event.from_state, event.text) == ("merge", State.assigned, survivor.number)
    # Its run is told to end: the resume row of its next pause, after the rows before it.
    row = session.scalars(
        select(Outbox).where(Outbox.case_id == doomed.id).order_by(Outbox.id.desc())
    ).first()
    assert row is not None and (row.kind, row.pause_key) == ("resume", pause_key(version))
    assert row.payload["action"] == "merge" and row.payload["event_id"] == event.id
    # Its callers (its own, and the one attached to it) are the survivor's now, each once.
    joined = session.scalars(select(CaseCaller).where(CaseCaller.case_id == survivor.id)).all()
    assert sorted(c.phone for c in joined) == ["+919876500002", "+919876500003"]
    marker = session.scalars(select(CaseEvent).where(CaseEvent.case_id == survivor.id)).all()[-1]
    assert (marker.kind, marker.text) == (MERGED_IN, doomed.number)
    # The merge tells the merged case's callers (once each) and its officer; the survivor's next step
    # tells all three callers.
    gateway = replace(settings, sms_url="smscapture://gw/{phone}")
    texts = plan_caller_messages(session, doomed.id, event.id, gateway)
    assert plan_caller_messages(session, doomed.id, event.id, gateway) == texts
    phones = session.scalars(select(CallerMessage.phone).where(CallerMessage.id.in_(texts))).all()
    assert sorted(phones) == ["+919876500002", "+919876500003"]
    assert plan_caller_messages(session, survivor.id, marker.id, gateway) == []
    told = session.scalars(
        select(Delivery.user_id).where(Delivery.id.in_(plan_deliveries(session, doomed.id, event.id)))
    )
    assert set(told) == {district["bmo"].id}
    move(session, survivor, Action.resolve, district["cmho"], NOW)
    resolved = session.scalars(select(CaseEvent).where(CaseEvent.case_id == survivor.id)).all()[-1]
    assert sorted(p for p, _ in told_of(session, survivor, resolved)) == [
        "+919876500001",
        "+919876500002",
        "+919876500003",
    ]
    status = public_status(doomed)
    assert (
        status.merged_into == survivor.number and status.steps[-1].step == "merged" and not status.next_step
    )


def test_it_refuses_what_a_merge_cannot_be(
    session: Session, district: dict[str, User], pair: tuple[Case, Case]
) -> None:
    survivor, doomed = pair
    with pytest.raises(NotAllowed):
        merge(session, doomed, survivor, district["operator"], version=doomed.decisions, now=NOW)
    with pytest.raises(NotAllowed):
        merge(session, doomed, doomed, district["dm"], version=doomed.decisions, now=NOW)
    with pytest.raises(StaleDecision):
        merge(session, doomed, survivor, district["dm"], version=doomed.decisions - 1, now=NOW)
    rejected = make_case(session, district["operator"], NOW, phone="+919876500009")
    move(session, rejected, Action.reject, district["dm"], NOW)
    with pytest.raises(NotAllowed):  # into a case no longer open
        merge(session, doomed, rejected, district["dm"], version=doomed.decisions, now=NOW)
    with pytest.raises(InvalidTransition):  # a case no longer open
        merge(session, rejected, survivor, district["dm"], version=rejected.decisions, now=NOW)
    session.rollback()
    assert session.get_one(Case, doomed.id).state == State.assigned
    assert session.scalars(select(CaseCaller).where(CaseCaller.case_id == survivor.id)).all() == []


def test_undone_within_the_shift_it_goes_on_from_its_step_with_a_new_run(
    session: Session, district: dict[str, User], pair: tuple[Case, Case]
) -> None:
    survivor, doomed = pair
    merge(session, doomed, survivor, district["collector"], version=doomed.decisions, now=NOW)
    session.commit()
    assert undoable(session, doomed, NOW)
    assert not undoable(session, doomed, current_shift(NOW).end)  # the next shift
    with pytest.raises(NotAllowed):
        unmerge(session, doomed, district["dm"], version=doomed.decisions, now=current_shift(NOW).end)
    event = unmerge(session, doomed, district["dm"], version=doomed.decisions, now=NOW)
    session.commit()
    assert (doomed.state, doomed.merged_into_id, doomed.closed_at) == (State.assigned, None, None)
    assert doomed.due_at is not None and (event.kind, event.to_state) == ("unmerge", State.assigned)
    restart = session.scalars(
        select(Outbox).where(Outbox.case_id == doomed.id).order_by(Outbox.id.desc())
    ).first()
    assert restart is not None and restart.kind == "restart"
    assert restart.payload == {
        "case_number": doomed.number,
        "event_id": event.id,
        "first_decision": doomed.decisions,
        "step": "officer",
    }
    assert session.scalars(select(CaseCaller).where(CaseCaller.case_id == survivor.id)).all() == []
    told = session.scalars(
        select(Delivery.user_id).where(Delivery.id.in_(plan_deliveries(session, doomed.id, event.id)))
    )
    assert set(told) == {district["bmo"].id}  # it waits on its officer again
    with pytest.raises(InvalidTransition):
        unmerge(session, doomed, district["dm"], version=doomed.decisions, now=NOW)
    # Merged again, and the survivor's history keeps both.
    merge(session, doomed, survivor, district["dm"], version=doomed.decisions, now=NOW)
    kinds = session.scalars(select(CaseEvent.kind).where(CaseEvent.case_id == survivor.id)).all()
    assert kinds[-3:] == ["merged_in", "merge_undone", "merged_in"]


def test_the_dm_merges_and_undoes_on_the_case_page(
    client: FlaskClient, session: Session, district: dict[str, User], pair: tuple[Case, Case]
) -> None:
    survivor, doomed = pair
    login(client, "dm")
    page = client.get(f"/cases/{doomed.number}").get_data(as_text=True)
    assert 'id="form-merge"' in page and survivor.number in page  # suggested: same village and category
    token = csrf_token(page)

    def post(into: str, version: int | None = None) -> tuple[int, str]:
        data = {
            "csrf_token": token,
            "merge-csrf_token": token,
            "merge-into": into,
            "merge-version": doomed.decisions if version is None else version,
        }
        response = client.post(f"/cases/{doomed.number}/merge", data=data)
        return response.status_code, response.get_data(as_text=True)

    for into, message in (
        ("SRJ-2000-000000", "No case has this number."),
        (doomed.number, "A case cannot be merged into itself."),
        ("", "This field is required."),
        ("\u0905" * 40, "Field cannot be longer than 32 characters."),
    ):
        status, body = post(into)
        assert status == 400 and message in body, into
    assert post(survivor.number, version=doomed.decisions - 1)[0] == 409
    assert (
        client.post(f"/cases/{doomed.number}/merge", data={"merge-into": survivor.number}).status_code == 400
    )
    session.expire_all()
    assert session.get_one(Case, doomed.id).state == State.assigned
    status, _ = post(survivor.number.lower())
    assert status == 302
    session.expire_all()
    assert session.get_one(Case, doomed.id).state == State.merged
    page = client.get(f"/cases/{doomed.number}").get_data(as_text=True)
    assert (
        f"Merged into {survivor.number}" in page
        and 'id="form-unmerge"' in page
        and 'id="form-merge"' not in page
    )
    # The survivor shows the merged case and its history, its callers among its own.
    page = client.get(f"/cases/{survivor.number}").get_data(as_text=True)
    assert 'id="merged-here"' in page and doomed.number in page and "तीसरे कॉलर" in page
    assert "A case about the same problem merged into this one" in page
    unmerge_data = {
        "csrf_token": token,
        "unmerge-csrf_token": token,
        "unmerge-version": session.get_one(Case, doomed.id).decisions,
    }
    assert client.post(f"/cases/{doomed.number}/unmerge", data=unmerge_data).status_code == 302
    session.expire_all()
    assert session.get_one(Case, doomed.id).state == State.assigned
    login(client, "operator")
    page = client.get(f"/cases/{doomed.number}").get_data(as_text=True)
    assert 'id="form-merge"' not in page
    assert (
        client.post(f"/cases/{doomed.number}/merge", data={"csrf_token": csrf_token(page)}).status_code == 403
    )


def test_merged_complaints_are_counted_apart(
    client: FlaskClient, session: Session, district: dict[str, User], pair: tuple[Case, Case], app: Flask
) -> None:
    survivor, doomed = pair
    merge(session, doomed, survivor, district["dm"], version=doomed.decisions, now=NOW)
    session.commit()
    report = daily_report(session, india_day(NOW), NOW + timedelta(seconds=1))
    assert (report.merged, report.closed, report.rejected) == (1, 0, 0)
    login(client, "collector")
    page = client.get("/dashboard").get_data(as_text=True)
    assert "Merged" in page and "state=merged" in page
    listing = client.get("/cases?state=merged").get_data(as_text=True)
    assert doomed.number in listing and survivor.number not in listing


def test_open311_reports_a_merged_request_closed_with_the_other(
    session: Session, district: dict[str, User], pair: tuple[Case, Case]
) -> None:
    from models.api.open311 import request_fields

    survivor, doomed = pair
    merge(session, doomed, survivor, district["dm"], version=doomed.decisions, now=NOW)
    session.commit()
    fields = request_fields(doomed)
    assert fields["status"] == "closed" and survivor.number in fields["status_notes"]
    assert request_fields(survivor)["status"] == "open"


def test_two_people_merging_a_pair_each_way_leave_one_survivor(
    settings: Settings, district: dict[str, User], pair: tuple[Case, Case]
) -> None:
    """The DM merges A into B while the Collector merges B into A, at once (real threads, real
    transactions): one merge wins, the other is refused; never both merged with no survivor."""
    from tests.races import race

    first, second = pair
    factory = get_sessionmaker(settings.database_url)

    def merging(what: int, into: int, who: str) -> str:
        with factory() as session:
            case, target = session.get_one(Case, what), session.get_one(Case, into)
            user = session.get_one(User, district[who].id)
            try:
                merge(session, case, target, user, version=case.decisions, now=NOW)
                session.commit()
                return "merged"
            except (NotAllowed, StaleDecision, InvalidTransition):
                session.rollback()
                return "refused"

    outcomes = race(
        lambda: merging(second.id, first.id, "dm"), lambda: merging(first.id, second.id, "collector")
    )
    assert sorted(outcomes) == ["merged", "refused"]
    with factory() as session:
        states = sorted(session.scalars(select(Case.state).where(Case.id.in_([first.id, second.id]))))
    assert states == ["assigned", "merged"]
