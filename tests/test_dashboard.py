"""The dashboard page: who may see it, its figures, and the case lists its numbers and bars open."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from models.cases.decisions import Intake, decide, open_case
from models.cases.lifecycle import Action
from models.cases.tables import CaseEvent, Priority
from models.desk.tables import Call
from models.messages import Delivery, Reason, is_hand_off
from models.reference.tables import User
from models.times import day_start, india_day
from tests.conftest import login


@pytest.fixture
def today(session: Session, district: dict[str, User]) -> str:
    """Two complaints opened in the last hour (one closed, one waiting on the DM) and a call."""
    now = datetime.now(UTC)
    # Just after India's midnight "40 minutes ago" is yesterday: the cases open after midnight then
    # (their later steps may lie minutes ahead; the figures count them all the same).
    midnight = day_start(india_day(now))
    p = district
    for minutes, category in ((40, 1), (5, 2)):
        intake = Intake(f"t{minutes}", "Ramu", "+919876543210", 1, category, "Needs help", Priority.normal)
        opened = max(now - timedelta(minutes=minutes), midnight + timedelta(minutes=1))
        case = open_case(session, intake, p["operator"], "SRJ", opened)
        if minutes == 40:
            at = opened + timedelta(minutes=10)
            decide(session, case, Action.assign, p["dm"], version=0, now=at, officer_id=p["cmho"].id)
            decide(session, case, Action.resolve, p["cmho"], version=1, now=at + timedelta(minutes=12))
            called = at + timedelta(minutes=14)
            decide(session, case, Action.satisfied, p["operator"], version=2, now=called, rating=4)
            decide(session, case, Action.confirm, p["collector"], version=3, now=at + timedelta(minutes=15))
    session.add(Call(phone="+919876543210", kind="complaint", by_user_id=p["operator"].id, created_at=now))
    session.commit()
    return india_day(now).isoformat()


def links(page: str) -> set[str]:
    return {html.unescape(h) for h in re.findall(r'href="([^"]+)"', page)}


def test_it_needs_a_login(client: FlaskClient, district: dict[str, User]) -> None:
    response = client.get("/dashboard")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


@pytest.mark.parametrize("username", ["operator", "cmho"])
def test_it_is_not_for_operators_or_officers(
    client: FlaskClient, district: dict[str, User], username: str
) -> None:
    login(client, username)
    assert client.get("/dashboard").status_code == 403
    assert 'href="/dashboard"' not in client.get("/queue").get_data(as_text=True)


@pytest.mark.parametrize("username", ["dm", "collector", "admin"])
def test_it_shows_the_figures(client: FlaskClient, today: str, username: str) -> None:
    login(client, username)
    response = client.get("/dashboard")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'href="/dashboard"' in page  # the nav link
    # Today's headline: 1 call, 2 opened, 1 closed, resolved within the limit in 22 minutes.
    figures = dict(re.findall(r"<dt>([^<]+)</dt>\s*<dd>(?:<a [^>]+>)?([^<]+)", page))
    assert figures["Calls"] == "1"
    assert figures["Complaints opened"] == "2"
    assert figures["Closed"] == "1"
    assert figures["Resolved within the limit"] == "100%"
    assert figures["Median time to resolve"] == "22 min"


def test_it_links_each_figure_to_its_cases(client: FlaskClient, today: str) -> None:
    login(client, "collector")
    top = links(client.get("/dashboard").get_data(as_text=True))
    # The breakdown, the callers' feedback and the hand-offs seen are parts the page loads (and links
    # to, for a reader without scripts).
    parts = {f"/dashboard/{name}?period=recent" for name in ("breakdown", "feedback", "seen")}
    assert parts <= top
    hrefs = top | links(client.get("/dashboard/breakdown?period=recent").get_data(as_text=True))
    day = f"from={today}&to={today}"
    assert f"/cases?{day}" in hrefs  # opened today
    assert f"/cases?state=closed&{day}" in hrefs  # closed, headline and the day's bar
    assert f"/cases?state=awaiting_assignment&{day}" in hrefs  # the day's bar, segment waiting on the DM
    assert f"/cases?category=1&{day}" in hrefs or any(h.startswith("/cases?category=1&from=") for h in hrefs)
    assert any(h.startswith("/cases?block=1&from=") for h in hrefs)
    assert any(h.startswith("/cases?officer=") for h in hrefs)
    assert "/cases?step=dm" in hrefs and "/cases?step=dm&overdue=1" in hrefs
    # Open under an hour, waiting on the DM: the India days that hour spans (two just after midnight).
    hour_ago = india_day(datetime.now(UTC) - timedelta(hours=1)).isoformat()
    assert f"/cases?step=dm&from={hour_ago}&to={today}" in hrefs
    assert not [h for h in hrefs if h.startswith("http")]  # nothing from the internet


def test_it_switches_the_breakdown_to_today(client: FlaskClient, today: str) -> None:
    login(client, "dm")
    page = client.get("/dashboard?period=today").get_data(as_text=True)
    assert 'hx-get="/dashboard/breakdown?period=today"' in page and 'hx-select="#breakdown-part"' in page
    assert 'hx-get="/dashboard/seen?period=today"' in page
    page = client.get("/dashboard/breakdown?period=today").get_data(as_text=True)
    assert f"/cases?category=2&amp;from={today}&amp;to={today}" in page
    for path in ("/dashboard", "/dashboard/breakdown", "/dashboard/feedback", "/dashboard/seen"):
        assert client.get(f"{path}?period=nonsense").status_code == 200


def test_it_shows_an_empty_district(client: FlaskClient, district: dict[str, User]) -> None:
    login(client, "dm")
    breakdown = client.get("/dashboard/breakdown").get_data(as_text=True)
    assert "No complaint was opened in this period." in breakdown
    assert "No hand-off was sent in this period." in client.get("/dashboard/seen").get_data(as_text=True)


def test_it_shows_who_saw_their_hand_offs_and_how_soon(
    client: FlaskClient, session: Session, district: dict[str, User], today: str
) -> None:
    """The officer saw the assignment 6 minutes after its mail; the DMs never saw the new complaints.
    A step told on two channels (the first refused) counts once."""
    now = datetime.now(UTC)
    for event in session.scalars(select(CaseEvent).where(CaseEvent.kind.in_(["opened", "assign"]))):
        user = district["cmho"] if event.kind == "assign" else district["dm"]
        sent = max(now - timedelta(minutes=30), day_start(india_day(now)))  # today's, even after midnight
        for reason, status in ((Reason.first, "failed"), (Reason.fallback, "sent")):
            seen = sent + timedelta(minutes=6) if user is district["cmho"] and status == "sent" else None
            session.add(
                Delivery(
                    case_id=event.case_id, event_id=event.id, user_id=user.id, channel_key=reason,
                    channel=reason, status=status, sent_at=sent if status == "sent" else None,
                    seen_at=seen, reason=reason, hand_off=is_hand_off(event.kind, user.role, reason),
                )
            )  # fmt: skip
    session.commit()
    login(client, "collector")
    page = client.get("/dashboard/seen?period=today").get_data(as_text=True)
    section = page.split('id="seen-part"', 1)[1].split("</table>", 1)[0]
    rows = [re.sub(r"<[^>]+>", "|", r) for r in section.split("<tr>")[2:]]
    cells = [[c.strip() for c in r.split("|") if c.strip()] for r in rows]
    assert cells == [
        ["District Magistrate", "District Magistrate", "2", "0", "–", "–"],  # the role, as the pages name it
        ["Dr. Ramesh Gupta", "Officer", "1", "1", "6 min", "6 min"],
    ], cells
