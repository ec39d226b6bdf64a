"""The callers' feedback from the call backs: ratings by category, department and officer, the cases
reopened after a call back and the closures without the caller's word, on the dashboard and the report."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from models.cases.decisions import decide
from models.cases.lifecycle import Action
from models.oversight.feedback import FeedbackFigures, feedback
from models.reference.tables import User
from models.times import day_start, india_day
from tests.casedata import make_case, move
from tests.conftest import login

NOW = datetime.now(UTC)
AT = NOW - timedelta(hours=2)


def called_back(
    session: Session,
    u: dict[str, User],
    at: datetime,
    category: str,
    officer: str,
    *verdicts: tuple[Action, int],
) -> None:
    """A case resolved by officer and rung back with each verdict in turn (a rating or a try count)."""
    case = make_case(session, u["operator"], at - timedelta(hours=1), category=category)
    move(session, case, Action.assign, u["dm"], at, u[officer])
    move(session, case, Action.resolve, u[officer], at)
    for action, value in verdicts:
        if action == Action.satisfied:
            decide(session, case, action, u["operator"], version=case.decisions, now=at, rating=value)
        elif action == Action.unreachable:
            for _ in range(value):
                move(session, case, action, u["operator"], at)
        elif action == Action.not_satisfied:
            move(session, case, action, u["operator"], at)
            move(session, case, Action.resolve, u[officer], at)
        else:
            move(session, case, action, u["collector"], at)


@pytest.fixture
def rung_back(session: Session, district: dict[str, User]) -> None:
    u = district
    called_back(session, u, AT, "bed", "cmho", (Action.satisfied, 5))
    called_back(session, u, AT, "bed", "cmho", (Action.satisfied, 2))
    called_back(session, u, AT, "ration", "dfo", (Action.not_satisfied, 0), (Action.satisfied, 4))
    called_back(session, u, AT, "oxygen", "cmho", (Action.unreachable, 3), (Action.close_unverified, 0))
    called_back(session, u, NOW - timedelta(days=15), "bed", "cmho", (Action.satisfied, 1))  # long ago
    session.commit()


def lines(figures: FeedbackFigures, kind: str) -> dict[str, tuple[int, float | None, int, int]]:
    return {
        line.name: (line.rated, line.average, line.reopened, line.forced)
        for line in getattr(figures, f"by_{kind}")
    }


def test_it_counts_the_call_backs_that_ended_in_the_span(session: Session, rung_back: None) -> None:
    figures = feedback(session, day_start(india_day(AT)) - timedelta(days=1), NOW)
    t = figures.total
    assert (t.rated, t.average, t.reopened, t.forced) == (3, 11 / 3, 1, 1)
    by_category = lines(figures, "category")
    assert by_category["Hospital bed"] == (2, 3.5, 0, 0)
    assert by_category["Food / ration"][:3] == (1, 4.0, 1)
    assert [line for line in by_category.values() if line[3]] == [(0, None, 0, 1)]  # the oxygen case
    by_department = lines(figures, "department")
    assert sorted(by_department.values()) == [(1, 4.0, 1, 0), (2, 3.5, 0, 1)]
    by_officer = lines(figures, "officer")
    assert sorted(by_officer.values()) == [(1, 4.0, 1, 0), (2, 3.5, 0, 1)]
    # Nothing before the span: the call back of 15 days ago with its rating of 1 is not counted.
    everything = feedback(session, NOW - timedelta(days=30), NOW).total
    assert (everything.rated, everything.average) == (4, 3.0)


def figure(page: str, name: str) -> str:
    found = re.search(rf'id="feedback-{name}">([^<]*)<', page)
    assert found, name
    return found.group(1)


def test_the_dashboard_and_the_daily_report_show_them(
    client: FlaskClient, session: Session, district: dict[str, User], rung_back: None
) -> None:
    login(client, "collector")
    page = client.get("/dashboard/feedback?period=recent").get_data(as_text=True)
    assert [figure(page, n) for n in ("average", "rated", "reopened", "forced")] == ["3.7", "3", "1", "1"]
    assert "Callers' feedback on the call backs" in page and "By department" in page
    report = client.get(f"/reports/daily?date={india_day(AT).isoformat()}").get_data(as_text=True)
    assert [figure(report, n) for n in ("average", "rated", "reopened", "forced")] == ["3.7", "3", "1", "1"]
    page = client.get(f"/reports/daily?date={(india_day(AT) - timedelta(days=1)).isoformat()}").get_data(
        as_text=True
    )
    assert "No call back ended in this period." in page


def test_the_dashboards_breakdown_has_a_column_per_step(
    client: FlaskClient, session: Session, district: dict[str, User], rung_back: None
) -> None:
    login(client, "collector")
    page = client.get("/dashboard/breakdown?period=recent").get_data(as_text=True)
    tables = re.findall(r'<table class="breakdown">(.*?)</table>', page, re.S)
    assert tables
    for html in tables:
        head, body = html.split("</thead>")
        first_row = body.split("</tr>")[0]
        assert head.count("<th>") == first_row.count("<td><a ") > 0
    assert "Waiting for a call back to the caller</th>" in page
