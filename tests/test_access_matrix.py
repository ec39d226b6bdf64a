"""Who may use each endpoint: every rule of the URL map, GET and POST, for each role and a visitor.

The expected answers are written once, in ACCESS. A new endpoint without a row fails, and so does
a row whose endpoint is gone. The matrix is about endpoint x role; rules that depend on the row
(an officer sees only their own cases and decides only on those, an operator intakes only from
their own calls) are noted on the rows and tested in the endpoints' own modules.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_babel import force_locale, gettext
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.exceptions import MethodNotAllowed
from werkzeug.routing import MapAdapter, Rule
from werkzeug.test import TestResponse

from models.access.act_links import make_token
from models.access.board_links import make_link
from models.advisories.tables import Advisory
from models.cases.lifecycle import Action
from models.cases.public import status_token
from models.desk.handover import prepare, previous_shift
from models.duty.roster import add_shift
from models.duty.tables import Duty
from models.homecare.followups import make_day_list
from models.homecare.tables import FollowUp, Patient
from models.messages import Delivery, DeliveryStatus
from models.outbox import Outbox
from models.reference.tables import Role, User
from models.times import INDIA
from tests.casedata import make_case, move
from tests.conftest import csrf_token, login

ANONYMOUS = "anonymous"
ROLES = ("operator", "dm", "officer", "collector", "admin")
PERSONAS = {"operator": "operator", "dm": "dm", "officer": "cmho", "collector": "collector", "admin": "admin"}
ANY_USER = frozenset(ROLES)
PUBLIC = ANY_USER | {ANONYMOUS}


def only(*roles: str) -> frozenset[str]:
    """A row's roles."""
    return frozenset(roles)


ADMIN = only("admin")
DESK = only("operator", "admin")  # takes calls, opens cases and emergencies, works follow-up calls
OVERSIGHT = only("dm", "collector", "admin")
REGISTER = only("operator", "dm", "collector", "admin")  # the home-isolation register, advisories

# Endpoint -> who may use it. Anonymous elsewhere: 302 to /login; a role not listed: 403.
ACCESS: dict[str, frozenset[str]] = {
    "account.password": ANY_USER,  # one's own password
    "account.sign_out_everywhere": ADMIN,
    "account.signed_in": ADMIN,
    "act.seen": ANY_USER,  # one's own messages about a case one may see (webapp/cases.get_case)
    "act.show": PUBLIC,  # a one-tap link: the token is the credential (tests/test_act_links.py)
    "act.take": PUBLIC,
    "advisories.index": REGISTER,
    "advisories.new": REGISTER,
    "advisories.view": REGISTER,
    "auth.language": PUBLIC,
    "auth.login": PUBLIC,
    "auth.logout": ANY_USER,
    "board.index": REGISTER,  # the wall board: no personal data on it
    "board.links": ADMIN,
    "board.revoke_link": ADMIN,
    "board.shared": PUBLIC,  # with a live board link's token (tests/test_board.py: a bad one is a 404)
    "callers.attach": DESK,  # the intake form sent to an open case instead of a new one
    "callers.similar": DESK,  # the intake form's suggestions
    "merging.merge_case": only("dm", "collector"),  # one problem, one case
    "merging.unmerge_case": only("dm", "collector"),  # within the shift of the merge
    "caselist.audit_log": only("collector", "admin"),
    "caselist.daily": OVERSIGHT,
    # An officer lists and exports only their own cases (models/cases/listing.visible).
    "caselist.export": only("officer", "dm", "collector", "admin"),
    "caselist.index": only("officer", "dm", "collector", "admin"),
    # Each role its own action (ACT below), an officer only on their own case; the admin takes none.
    "cases.act": only("operator", "dm", "officer", "collector"),
    "cases.index": ANY_USER,
    # From a logged call, only the operator who logged it (webapp/desk.call_for_intake).
    "cases.new": DESK,
    "cases.queue": ANY_USER,
    "cases.retry_delivery": OVERSIGHT,
    "cases.timeline": OVERSIGHT,
    # An officer sees the cases assigned to them and those they acted on (webapp/cases.get_case).
    "cases.view": ANY_USER,
    "dashboard.breakdown": OVERSIGHT,
    "dashboard.callers": OVERSIGHT,
    "dashboard.index": OVERSIGHT,
    "dashboard.seen": OVERSIGHT,
    "desk.calls": DESK,
    "desk.directory": ANY_USER,
    "desk.export": ADMIN,
    "desk.history": DESK,
    "desk.import_contacts": ADMIN,
    "desk.villages": DESK,  # JSON, yet a visitor gets the login redirect too (Flask-Login's default)
    "duty.add": only("dm", "admin"),
    "duty.index": ANY_USER,
    "duty.remove": only("dm", "admin"),
    "emergency.new": DESK,
    "health.healthz": PUBLIC,  # for monitors: no personal data in it
    "health.processes": ADMIN,  # every process alive, Prefect's workers
    "live.pulse": ANY_USER,  # JSON for the page's own script; a visitor gets the login redirect
    "handover.index": REGISTER,  # notes: the desk only (tests/test_handover.py)
    "handover.take_over": DESK,  # the incoming operators take the shift over
    "handover.view": REGISTER,
    "homecare.call": DESK,
    "homecare.discharge": DESK,
    "homecare.follow_ups": DESK,
    "homecare.import_patients": DESK,
    "homecare.make_list": DESK,  # today's follow-up list now: an outbox row for the dispatcher
    "homecare.patient": REGISTER,
    "homecare.register": REGISTER,
    "homecare.unreachable": DESK,
    "mailbox.index": ANY_USER,  # demo mode only (404 otherwise); the tests run in demo mode
    "outbox.parked_rows": ADMIN,
    "outbox.restart": ADMIN,
    "outbox.retry": ADMIN,
    # The Open311 API: public GETs without personal data; a POST needs an API key, not a login (KEYED).
    "open311.one_request": PUBLIC,
    "open311.requests": PUBLIC,
    "open311.service_definition": PUBLIC,
    "open311.services_list": PUBLIC,
    "public.favicon": PUBLIC,  # a static asset, like /static/
    "public.status": PUBLIC,
    "public.status_link": PUBLIC,  # the signed link in the caller's messages
}
ENDS_SESSION = frozenset({"auth.logout"})  # its allowed answer is the redirect to /login
# POSTs that take an API key instead of a login and a CSRF token: without a key, 403 for everyone.
KEYED = frozenset({"open311.requests"})

# The case (by its state) and the action each one POSTs to cases.act: its own, where it has one.
ACT: dict[str, tuple[str, Action]] = {
    ANONYMOUS: ("awaiting", Action.assign),
    "operator": ("closed", Action.reopen_closed),
    "dm": ("awaiting", Action.assign),
    "officer": ("assigned", Action.resolve),
    "collector": ("resolved", Action.confirm),
    "admin": ("awaiting", Action.assign),
}


@dataclass(frozen=True)
class Rows:
    """Ids of real rows for the URL arguments, so that an allowed answer is a real page."""

    cases: dict[str, str]  # case number by state; "assigned" is the officer's (cmho's)
    delivery: int
    advisory: int
    shift: int
    patient: int
    discharged: int  # the patient the discharge POST discharges
    call: int
    missed: int  # the follow-up call the unreachable POST records
    parked: int  # an outbox row to try again
    stuck: int  # an outbox row of another case, to start anew
    user: int  # a user to sign out everywhere
    board_token: str  # a live board link's token
    board_link: int  # another board link, the one the revoke POST revokes
    handover: int  # the last ended shift's handover
    act_token: str  # a one-tap link's token: the DM's, to assign the awaiting case


# Endpoint -> its URL arguments, for who asks.
ARGS: dict[str, Callable[[Rows, str], dict[str, Any]]] = {
    "account.sign_out_everywhere": lambda r, who: {"user_id": r.user},  # not who asks: another user
    "act.seen": lambda r, who: {"number": r.cases["assigned"]},
    "act.show": lambda r, who: {"token": r.act_token},
    "act.take": lambda r, who: {"token": r.act_token, "action": Action.assign.value},
    "advisories.view": lambda r, who: {"advisory_id": r.advisory},
    "board.revoke_link": lambda r, who: {"link_id": r.board_link},
    "handover.take_over": lambda r, who: {"handover_id": r.handover},
    "handover.view": lambda r, who: {"handover_id": r.handover},
    "board.shared": lambda r, who: {"token": r.board_token},
    "callers.attach": lambda r, who: {"number": r.cases["assigned"]},
    "merging.merge_case": lambda r, who: {"number": r.cases["awaiting"]},
    "merging.unmerge_case": lambda r, who: {"number": r.cases["awaiting"]},
    "cases.act": lambda r, who: {"number": r.cases[ACT[who][0]], "action": ACT[who][1].value},
    "cases.retry_delivery": lambda r, who: {"delivery_id": r.delivery},
    "cases.timeline": lambda r, who: {"number": r.cases["assigned"]},
    "cases.view": lambda r, who: {"number": r.cases["assigned"]},
    "duty.remove": lambda r, who: {"shift_id": r.shift},
    "homecare.call": lambda r, who: {"call_id": r.call},
    "homecare.discharge": lambda r, who: {"patient_id": r.discharged},
    "homecare.patient": lambda r, who: {"patient_id": r.patient},
    "homecare.unreachable": lambda r, who: {"call_id": r.missed},
    "outbox.restart": lambda r, who: {"row_id": r.stuck},
    "public.status_link": lambda r, who: {"token": status_token(r.cases["assigned"], "test-secret")},
    "outbox.retry": lambda r, who: {"row_id": r.parked},
    "open311.one_request": lambda r, who: {"number": r.cases["assigned"], "fmt": "json"},
    "open311.requests": lambda r, who: {"fmt": "xml"},
    "open311.service_definition": lambda r, who: {"code": "bed", "fmt": "json"},
    "open311.services_list": lambda r, who: {"fmt": "xml"},
}

ALLOWED, LOGIN = "allowed", "302 to /login"


def make_rows(session: Session, district: dict[str, User]) -> Rows:
    """A case in each state, a failed delivery, an advisory, a future shift, follow-up calls, parked rows."""
    now = datetime.now(UTC)
    operator, cmho, collector = district["operator"], district["cmho"], district["collector"]
    awaiting = make_case(session, operator, now)
    assigned, resolved, closed, stuck = (make_case(session, operator, now) for _ in range(4))
    for case in (assigned, resolved, closed):
        move(session, case, Action.assign, district["dm"], now, officer=cmho)
    for case in (resolved, closed):
        move(session, case, Action.resolve, cmho, now)
        move(session, case, Action.satisfied, operator, now)
    move(session, closed, Action.confirm, collector, now)
    session.flush()
    delivery = Delivery(
        case_id=awaiting.id,
        event_id=awaiting.events[0].id,
        user_id=district["dm"].id,
        channel_key="0" * 64,
        channel="mailto://dm@demo.local",
        status=DeliveryStatus.failed,
        next_attempt_at=None,
    )
    session.add(delivery)
    parked: dict[str, int] = {}
    for case in (awaiting, stuck):
        row = session.scalars(select(Outbox).where(Outbox.case_id == case.id, Outbox.kind == "start")).one()
        row.parked_at, row.attempts, row.last_error = now, 3, "the run was cancelled"
        parked[case.number] = row.id
    advisory = Advisory(title="Heat", body="Water", language="en", by_user_id=operator.id, created_at=now)
    session.add(advisory)
    shift = add_shift(
        session,
        user_id=cmho.id,
        duty=Duty.doctor,
        starts_at=now + timedelta(days=1),
        ends_at=now + timedelta(days=2),
        now=now,
    )
    make_day_list(session, now.astimezone(INDIA).date(), "00:00", now - timedelta(minutes=1))
    patients = {p.health_id: p.id for p in session.scalars(select(Patient))}
    calls = {c.patient_id: c.id for c in session.scalars(select(FollowUp))}
    board_link = make_link(session, "Hall", district["admin"], now)
    to_revoke = make_link(session, "Side room", district["admin"], now)
    handover = prepare(session, previous_shift(now), now)
    session.commit()
    return Rows(
        cases={
            "awaiting": awaiting.number,
            "assigned": assigned.number,
            "resolved": resolved.number,
            "closed": closed.number,
        },
        delivery=delivery.id,
        advisory=advisory.id,
        shift=shift.id,
        patient=patients["DEMO-4"],
        discharged=patients["DEMO-1"],
        call=calls[patients["DEMO-2"]],
        missed=calls[patients["DEMO-3"]],
        parked=parked[awaiting.number],
        stuck=parked[stuck.number],
        user=district["bmo"].id,
        board_token=board_link.token,
        board_link=to_revoke.link_id,
        handover=handover.id,
        act_token=make_token(district["dm"].id, awaiting.id, awaiting.decisions, "test-secret", now),
    )


def rules(app: Flask) -> list[Rule]:
    """Every rule of the app but the static files, by endpoint."""
    return sorted((r for r in app.url_map.iter_rules() if r.endpoint != "static"), key=lambda r: r.endpoint)


def path_of(adapter: MapAdapter, rule: Rule, rows: Rows, who: str) -> str:
    """The rule's URL, its arguments filled with real rows."""
    values = ARGS[rule.endpoint](rows, who) if rule.arguments else {}
    return adapter.build(rule.endpoint, values)


def sign_in(client: FlaskClient, who: str) -> str:
    """Log who in (unless anonymous) and return the session's CSRF token, good for every form."""
    if who == ANONYMOUS:
        return csrf_token(client.get("/login").get_data(as_text=True))
    login(client, PERSONAS[who])
    return csrf_token(client.get("/queue").get_data(as_text=True))


def expected(adapter: MapAdapter, rule: Rule, who: str, method: str, path: str) -> str | None:
    """The answer the table asks for; None where another rule takes this method on this path."""
    try:
        endpoint, _values = adapter.match(path, method=method)
    except MethodNotAllowed:
        return "405"
    if endpoint != rule.endpoint:
        return None
    if method == "POST" and rule.endpoint in KEYED:
        return "403"
    allowed = ACCESS[rule.endpoint]
    if who in allowed:
        return ALLOWED
    return LOGIN if who == ANONYMOUS else "403"


def answer(response: TestResponse, endpoint: str, who: str) -> str:
    """What the response means, in the terms of expected()."""
    code = response.status_code
    if code == 302 and urlsplit(response.location).path == "/login":
        return ALLOWED if endpoint in ENDS_SESSION and who != ANONYMOUS else LOGIN
    if code in (401, 403, 404, 405) or code >= 500:
        return str(code)  # 404 too: the URL arguments are real rows, so an allowed page is found
    return ALLOWED  # a page, a redirect elsewhere, or 400/409 for a POST without the form's data


def test_it_has_one_row_for_each_endpoint(app: Flask) -> None:
    endpoints = {r.endpoint for r in rules(app)}
    with_arguments = {r.endpoint for r in rules(app) if r.arguments}
    wrong = [f"{e}: no row in ACCESS" for e in sorted(endpoints - set(ACCESS))]
    wrong += [f"{e}: a row in ACCESS, but no such endpoint" for e in sorted(set(ACCESS) - endpoints)]
    wrong += [f"{e}: no URL arguments in ARGS" for e in sorted(with_arguments - set(ARGS))]
    wrong += [f"{e}: URL arguments in ARGS, but it takes none" for e in sorted(set(ARGS) - with_arguments)]
    wrong += [f"role {r}: no persona in PERSONAS" for r in sorted({r.value for r in Role} - set(PERSONAS))]
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("who", [ANONYMOUS, *ROLES])
def test_it_answers_each_endpoint_as_the_table_says(
    app: Flask, session: Session, district: dict[str, User], who: str
) -> None:
    rows = make_rows(session, district)
    adapter = app.url_map.bind("localhost")
    client = app.test_client()
    token = sign_in(client, who)
    wrong = []
    for rule in rules(app):
        if rule.endpoint not in ACCESS:
            wrong.append(f"{rule.endpoint}: no row in ACCESS")
            continue
        path = path_of(adapter, rule, rows, who)
        for method in ("GET", "POST"):
            want = expected(adapter, rule, who, method, path)
            if want is None:
                continue
            data = {"csrf_token": token} if method == "POST" else None
            response = client.open(path, method=method, data=data)
            got = answer(response, rule.endpoint, who)
            if got != want:
                status = response.status_code
                wrong.append(f"{method} {path} ({rule.endpoint}): expected {want}, got {status}")
            if who != ANONYMOUS and (rule.endpoint in ENDS_SESSION or got == LOGIN):
                token = sign_in(client, who)  # logged out: log in again for the next endpoints
    assert not wrong, f"{who} ({PERSONAS.get(who, 'not logged in')}):\n" + "\n".join(wrong)


def test_it_refuses_every_post_without_a_csrf_token(
    app: Flask, session: Session, district: dict[str, User]
) -> None:
    rows = make_rows(session, district)
    adapter = app.url_map.bind("localhost")
    clients: dict[str, FlaskClient] = {}
    wrong = []
    for rule in rules(app):
        if "POST" not in (rule.methods or ()) or rule.endpoint in KEYED:  # KEYED: tests/test_open311.py
            continue
        allowed = ACCESS.get(rule.endpoint, ADMIN)
        who = next(r for r in (*ROLES, ANONYMOUS) if r in allowed)  # a logged-in user where one may
        if who not in clients:
            clients[who] = app.test_client()
            sign_in(clients[who], who)
        response = clients[who].post(path_of(adapter, rule, rows, who), data={})
        language = district[PERSONAS[who]].language if who != ANONYMOUS else "en"
        with app.test_request_context(), force_locale(language):
            expired = gettext("Form expired")
        if response.status_code != 400 or expired not in response.get_data(as_text=True):
            wrong.append(f"POST {rule.rule} ({rule.endpoint}) as {who}: got {response.status_code}")
    assert not wrong, "\n".join(wrong)
