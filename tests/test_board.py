"""The wall board: its figures (models/oversight/board), the shifts, the page, and board links."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from models.access.board_links import make_link
from models.access.tables import BoardLink
from models.cases.lifecycle import Action, State
from models.desk.calls import log_call
from models.desk.shifts import current_hour, current_shift
from models.desk.tables import CallKind
from models.homecare.followups import make_day_list
from models.oversight.board import board
from models.oversight.tables import AuditEntry
from models.reference.tables import User
from models.times import INDIA
from tests.casedata import make_case, move
from tests.conftest import csrf_token, login

HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)
# Names and phones the board must never show: the test's own, unlike any label on the page.
CALLER, PHONE = "Zorawar Qasimbhai", "+919811122233"


def india(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment on 1 March 2026 (+ day) India time, as aware UTC."""
    return datetime(2026, 3, 1 + day, hour, minute, tzinfo=INDIA).astimezone(UTC)


@pytest.mark.parametrize(
    ("moment", "start", "end"),
    [
        (india(0, 0, 0), india(0, 0), india(0, 8)),
        (india(0, 7, 59), india(0, 0), india(0, 8)),
        (india(0, 8, 0), india(0, 8), india(0, 16)),
        (india(0, 15, 59), india(0, 8), india(0, 16)),
        (india(0, 16, 0), india(0, 16), india(1, 0)),
        (india(0, 23, 59), india(0, 16), india(1, 0)),
    ],
)
def test_it_finds_the_shift_of_a_moment(moment: datetime, start: datetime, end: datetime) -> None:
    shift = current_shift(moment)
    assert (shift.start, shift.end) == (start, end)


def test_it_finds_a_shift_that_began_the_day_before() -> None:
    shift = current_shift(india(1, 3), starts=(time(6), time(14), time(22)))
    assert (shift.start, shift.end) == (india(0, 22), india(1, 6))


def test_it_takes_the_hour_on_india_s_clock() -> None:
    # 10:45 in India is 05:15 UTC: the hour began at 10:00 India time, 04:30 UTC, not at 05:00 UTC.
    assert current_hour(india(0, 10, 45)) == india(0, 10)


def test_it_counts_calls_this_hour_and_this_shift_across_a_shift_boundary(
    session: Session, district: dict[str, User]
) -> None:
    operator = district["operator"]
    for moment in (india(0, 7, 10), india(0, 7, 59), india(0, 8, 0), india(0, 8, 30), india(0, 9, 5)):
        log_call(session, phone=PHONE, kind=CallKind.information, by=operator, now=moment)
    session.commit()

    before = board(
        session,
        india(
            0,
            7,
            59,
        ),
    )
    assert (before.calls_hour, before.calls_shift) == (2, 2)  # 07:10 and 07:59, of the 00:00 shift
    at_start = board(session, india(0, 8, 0))
    assert (at_start.calls_hour, at_start.calls_shift) == (1, 1)  # the new shift starts empty but for 08:00
    later = board(session, india(0, 9, 10))
    assert (later.calls_hour, later.calls_shift) == (1, 3)  # 09:05; 08:00, 08:30, 09:05
    assert later.shift.start == india(0, 8) and later.hour == india(0, 9)


def test_it_counts_open_cases_by_step_with_the_oldest(session: Session, district: dict[str, User]) -> None:
    u = district
    now = datetime.now(UTC)
    make_case(session, u["operator"], now - 3 * HOUR)  # waits on the DM for 3 hours
    make_case(session, u["operator"], now - 5 * MINUTE)
    assigned = make_case(session, u["operator"], now - 50 * MINUTE)
    move(session, assigned, Action.assign, u["dm"], now - 40 * MINUTE, u["cmho"])  # with the officer 40 min
    closed = make_case(session, u["operator"], now - 2 * HOUR)
    move(session, closed, Action.assign, u["dm"], now - 2 * HOUR, u["cmho"])
    move(session, closed, Action.resolve, u["cmho"], now - HOUR)
    move(session, closed, Action.satisfied, u["operator"], now - 45 * MINUTE)
    move(session, closed, Action.confirm, u["collector"], now - 30 * MINUTE)
    session.commit()

    steps = {s.state: s for s in board(session, now).steps}

    assert [s.state for s in board(session, now).steps] == [
        State.awaiting_assignment,
        State.assigned,
        State.callback,
        State.resolved,
    ]
    assert steps[State.awaiting_assignment].count == 2
    assert steps[State.awaiting_assignment].oldest == 3 * HOUR
    assert (steps[State.assigned].count, steps[State.assigned].oldest) == (1, 40 * MINUTE)
    assert (steps[State.resolved].count, steps[State.resolved].oldest) == (0, None)  # the closed one is gone


def test_it_lists_overdue_cases_longest_overdue_first(session: Session, district: dict[str, User]) -> None:
    u = district
    now = datetime.now(UTC)
    # A bed complaint gives the DM 15 minutes, the officer 180.
    first = make_case(session, u["operator"], now - 2 * HOUR, village="Chando")  # 1:45 over
    second = make_case(session, u["operator"], now - HOUR)  # 45 minutes over
    make_case(session, u["operator"], now - 5 * MINUTE)  # within its limit
    officer = make_case(session, u["operator"], now - 4 * HOUR, village="Sawaraon")
    move(session, officer, Action.assign, u["dm"], now - 4 * HOUR, u["cmho"])  # 180 min: 1 hour over
    session.commit()

    data = board(session, now)

    assert data.overdue == 3
    assert [c.number for c in data.late] == [first.number, officer.number, second.number]
    assert data.late[0].number == first.number
    assert data.late[0].time == timedelta(hours=1, minutes=45)
    assert (data.late[0].block.name, data.late[0].village.name) == ("Pratappur", "Chando")
    assert data.late[0].category.name == "Hospital bed"
    late = {c.number: c for c in data.late}
    assert late[officer.number].state == State.assigned and late[officer.number].time == HOUR


def test_it_counts_emergencies_in_progress_and_follow_ups_due(
    session: Session, district: dict[str, User]
) -> None:
    now = datetime.now(UTC)
    emergency = make_case(session, district["operator"], now - 20 * MINUTE, category="ambulance")
    emergency.emergency = True
    done = make_case(session, district["operator"], now - 2 * HOUR)
    done.emergency = True
    move(session, done, Action.reject, district["dm"], now - HOUR)
    today = now.astimezone(INDIA).date()
    due = make_day_list(session, today, "00:00", now - 30 * MINUTE)  # the demo's four isolating patients
    make_day_list(session, today, "23:59", now + HOUR)  # not due yet
    session.commit()

    data = board(session, now)

    assert data.emergencies == 1 and [c.number for c in data.emergency_cases] == [emergency.number]
    assert data.emergency_cases[0].time == 20 * MINUTE
    assert due == 4 and data.follow_ups_due == 4 and data.follow_up_oldest == 30 * MINUTE


def world(session: Session, district: dict[str, User]) -> dict[str, str]:
    """An overdue case, one with the officer, an emergency and a call, all naming CALLER and PHONE."""
    now = datetime.now(UTC)
    late = make_case(session, district["operator"], now - 3 * HOUR, caller=CALLER, phone=PHONE)
    officer = make_case(session, district["operator"], now - 20 * MINUTE, caller=CALLER, phone=PHONE)
    move(session, officer, Action.assign, district["dm"], now - 10 * MINUTE, district["bmo"])
    emergency = make_case(session, district["operator"], now - 5 * MINUTE, caller=CALLER, phone=PHONE)
    emergency.emergency = True
    log_call(
        session, phone=PHONE, kind=CallKind.complaint, by=district["operator"], now=now, caller_name=CALLER
    )
    session.commit()
    return {"late": str(late.number), "officer": str(officer.number), "emergency": str(emergency.number)}


def no_personal_data(html: str, district: dict[str, User]) -> None:
    people = [CALLER, "Zorawar", PHONE, PHONE[3:], "98111 22233", "Needs a hospital bed"]
    people += [u.name for u in district.values() if u.role in ("officer", "operator")]
    people += [u.username for u in district.values()]
    shown = re.sub(r"<[^>]+>", " ", html)  # the text, not the markup (class="board" is no person)
    found = [p for p in people if p in shown or p in html]
    assert not found, found


@pytest.mark.parametrize("who", ["operator", "dm", "collector", "admin"])
def test_it_shows_the_board_without_personal_data(
    client: FlaskClient, session: Session, district: dict[str, User], who: str
) -> None:
    numbers = world(session, district)
    login(client, who)

    page = client.get("/board")

    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert numbers["late"] in html and numbers["emergency"] in html
    assert numbers["officer"] not in html  # neither overdue nor an emergency: only counted
    assert re.search(r'class="panel overdue late".*?' + re.escape(numbers["late"]), html, re.S)  # in red
    assert 'hx-get="/board"' in html and 'hx-select="#board"' in html and "vendor/htmx.min.js" in html
    assert 'id="site-nav"' not in html and "Log out" not in html  # a board has no navigation
    no_personal_data(html, district)


def test_it_keeps_the_board_from_officers(client: FlaskClient, district: dict[str, User]) -> None:
    login(client, "cmho")
    assert client.get("/board").status_code == 403


def test_it_shows_the_board_in_hindi(
    client: FlaskClient, session: Session, district: dict[str, User]
) -> None:
    world(session, district)
    district["dm"].language = "hi"
    session.commit()
    login(client, "dm")

    html = client.get("/board").get_data(as_text=True)

    assert '<html lang="hi">' in html
    assert "समय-सीमा पार" in html  # Overdue
    assert "सूरजपुर / बिश्रामपुर" in html  # the block and village in Hindi
    assert "Overdue" not in html


def make_board_link(session: Session, district: dict[str, User], language: str = "") -> str:
    made = make_link(session, "Hall screen", district["admin"], datetime.now(UTC), language)
    session.commit()
    return made.token


def test_it_shows_the_board_through_a_link_without_login(
    client: FlaskClient, session: Session, district: dict[str, User]
) -> None:
    numbers = world(session, district)
    token = make_board_link(session, district)

    page = client.get(f"/board/{token}")

    html = page.get_data(as_text=True)
    assert page.status_code == 200 and numbers["late"] in html
    assert f'hx-get="/board/{token}"' in html
    no_personal_data(html, district)
    assert session.scalars(select(BoardLink)).one().last_used_at is not None


def test_it_shows_a_link_s_board_in_the_link_s_language(
    client: FlaskClient, session: Session, district: dict[str, User]
) -> None:
    world(session, district)
    token = make_board_link(session, district, "hi")
    html = client.get(f"/board/{token}", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert '<html lang="hi">' in html and "दीवार बोर्ड" in html


def test_it_opens_no_other_page_with_a_board_link(
    client: FlaskClient, session: Session, district: dict[str, User]
) -> None:
    world(session, district)
    token = make_board_link(session, district)
    assert client.get(f"/board/{token}").status_code == 200

    for path in ("/board", "/queue", "/cases", "/dashboard", "/admin/board-links", "/calls"):
        response = client.get(path)
        assert response.status_code == 302 and response.location.startswith("/login"), path
    assert client.get(f"/board/{token}/../../queue").status_code in (302, 404)
    assert client.get(f"/queue?token={token}").status_code == 302


def test_it_answers_404_to_a_revoked_unknown_or_altered_token(
    client: FlaskClient, session: Session, district: dict[str, User]
) -> None:
    token = make_board_link(session, district)
    altered = token[:-1] + ("A" if token[-1] != "A" else "B")
    for bad in (altered, "nonsense", "x" * 5000, token.upper() if token.upper() != token else token + "x"):
        assert client.get(f"/board/{bad}").status_code == 404, bad

    login(client, "admin")
    page = client.get("/admin/board-links").get_data(as_text=True)
    link = session.scalars(select(BoardLink)).one()
    response = client.post(f"/admin/board-links/{link.id}/revoke", data={"csrf_token": csrf_token(page)})
    assert response.status_code == 302
    client.post("/logout", data={"csrf_token": csrf_token(page)})

    gone = client.get(f"/board/{token}")
    assert gone.status_code == 404 and "Not found" in gone.get_data(as_text=True)


def test_it_lets_an_admin_make_and_revoke_links(
    app: Flask, client: FlaskClient, session: Session, district: dict[str, User]
) -> None:
    login(client, "admin")
    page = client.get("/admin/board-links").get_data(as_text=True)

    made = client.post("/admin/board-links", data={"csrf_token": csrf_token(page), "name": "Hall, left wall"})

    html = made.get_data(as_text=True)
    assert made.status_code == 200 and made.headers["Cache-Control"] == "no-store"
    url = re.search(r'value="(http[^"]+/board/([^"]+))"', html)
    assert url, html
    link = session.scalars(select(BoardLink)).one()
    assert link.name == "Hall, left wall" and link.made_by_id == district["admin"].id
    assert url.group(2) not in link.token_hash  # only its hash is kept
    again = client.get("/admin/board-links").get_data(as_text=True)
    assert "Hall, left wall" in again and url.group(2) not in again  # the address is shown once
    assert client.get(f"/board/{url.group(2)}").status_code == 200

    revoked = client.post(f"/admin/board-links/{link.id}/revoke", data={"csrf_token": csrf_token(again)})

    assert revoked.status_code == 302 and revoked.location == "/admin/board-links"
    session.refresh(link)
    assert link.revoked_at is not None
    actions = [(a.action, a.user_id) for a in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert ("board-link-made", district["admin"].id) in actions
    assert ("board-link-revoked", district["admin"].id) in actions


def test_it_needs_a_name_and_a_csrf_token_to_make_a_link(
    client: FlaskClient, session: Session, district: dict[str, User]
) -> None:
    login(client, "admin")
    page = client.get("/admin/board-links").get_data(as_text=True)

    assert client.post("/admin/board-links", data={"name": "Hall"}).status_code == 400
    assert (
        client.post("/admin/board-links", data={"csrf_token": csrf_token(page), "name": " "}).status_code
        == 400
    )
    link = make_link(session, "Hall", district["admin"], datetime.now(UTC))
    session.commit()
    assert client.post(f"/admin/board-links/{link.link_id}/revoke", data={}).status_code == 400
    assert session.scalars(select(BoardLink)).one().revoked_at is None


@pytest.mark.parametrize("who", ["operator", "dm", "collector", "cmho"])
def test_it_keeps_board_links_to_admins(
    client: FlaskClient, session: Session, district: dict[str, User], who: str
) -> None:
    link = make_link(session, "Hall", district["admin"], datetime.now(UTC))
    session.commit()
    login(client, who)
    page = client.get("/queue").get_data(as_text=True)
    assert client.get("/admin/board-links").status_code == 403
    revoke = client.post(f"/admin/board-links/{link.link_id}/revoke", data={"csrf_token": csrf_token(page)})
    assert revoke.status_code == 403
    assert session.scalars(select(BoardLink)).one().revoked_at is None


def test_it_prints_a_board_link_from_the_command_line(
    app: Flask, client: FlaskClient, session: Session, district: dict[str, User]
) -> None:
    result = app.test_cli_runner().invoke(args=["board-link", "Hall screen", "--language", "hi"])

    assert result.exit_code == 0, result.output
    url = result.output.strip()
    assert url.startswith("http://127.0.0.1:5000/board/")
    link = session.scalars(select(BoardLink)).one()
    assert (link.name, link.language, link.made_by_id) == ("Hall screen", "hi", district["admin"].id)
    assert client.get(url.removeprefix("http://127.0.0.1:5000")).status_code == 200
    assert app.test_cli_runner().invoke(args=["board-link", "x" * 81]).exit_code != 0
