"""The daily report for the review meeting, counted against the hand-counted cases of tests/casedata.py."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from models.cases.lifecycle import Action, Step
from models.cases.tables import Case, CaseEvent
from models.oversight.report import OVERDUE_LISTED, daily_report
from models.reference.tables import User
from tests.casedata import build, make_case, move
from tests.conftest import login

NOW = datetime(2026, 3, 20, 6, 0, tzinfo=UTC)


@pytest.fixture
def numbers(session: Session, district: dict[str, User]) -> dict[str, str]:
    return build(session, district)


def case(session: Session, number: str) -> Case:
    found = session.scalar(select(Case).where(Case.number == number))
    assert found is not None
    return found


def test_it_counts_the_day(session: Session, numbers: dict[str, str]) -> None:
    report = daily_report(session, date(2026, 3, 11), NOW)
    assert report.at == datetime(2026, 3, 11, 18, 30, tzinfo=UTC)  # midnight in India
    # b opened at 00:30 in India (10 March in UTC), c, d, e during the day; d confirmed, e rejected.
    assert (report.opened, report.closed, report.rejected) == (4, 1, 1)
    assert report.pending == {Step.dm: 1, Step.officer: 1, Step.callback: 0, Step.collector: 1}
    # c was resolved at 22:30 and the Collector's two hours had not run out by midnight.
    assert [p.number for p in report.overdue] == [numbers["a"], numbers["b"]]
    assert [
        (line.category.code, line.opened, line.closed, line.pending, line.overdue)
        for line in report.categories
    ] == [
        ("ration", 1, 0, 1, 1),
        ("bed", 1, 1, 1, 1),
        ("other", 1, 0, 0, 0),
        ("oxygen", 1, 0, 1, 0),
    ]


def test_it_counts_the_day_before(session: Session, numbers: dict[str, str]) -> None:
    report = daily_report(session, date(2026, 3, 10), NOW)
    assert (report.opened, report.closed, report.rejected) == (1, 0, 0)
    assert report.pending == {Step.dm: 1, Step.officer: 0, Step.callback: 0, Step.collector: 0}
    assert [p.number for p in report.overdue] == [numbers["a"]]


def test_it_reports_a_past_day_as_it_stood(
    session: Session, district: dict[str, User], numbers: dict[str, str]
) -> None:
    move(
        session,
        case(session, numbers["a"]),
        Action.assign,
        district["dm"],
        NOW.replace(day=12),
        district["cmho"],
    )
    # An escalation repeats the state: it must not restart b's step clock.
    session.add(
        CaseEvent(
            case_id=case(session, numbers["b"]).id,
            kind="escalation",
            from_state="assigned",
            to_state="assigned",
            created_at=datetime(2026, 3, 11, 15, 0, tzinfo=UTC),
        )
    )
    session.commit()
    before = daily_report(session, date(2026, 3, 11), NOW)
    assert before.pending == {Step.dm: 1, Step.officer: 1, Step.callback: 0, Step.collector: 1}
    assert [p.number for p in before.overdue] == [numbers["a"], numbers["b"]]
    after = daily_report(session, date(2026, 3, 12), NOW)
    assert after.pending == {Step.dm: 0, Step.officer: 2, Step.callback: 0, Step.collector: 1}
    assert after.opened == 0


def test_it_prints_the_report(client: FlaskClient, numbers: dict[str, str]) -> None:
    login(client, "collector")
    page = client.get("/reports/daily?date=2026-03-11").get_data(as_text=True)
    overdue = page[page.index("Overdue cases") : page.index("By category")]
    assert numbers["a"] in overdue and numbers["b"] in overdue and numbers["c"] not in overdue
    assert "Food Officer" in overdue
    assert "window.print()" in page
    assert page.count('class="category-line"') == 4


def test_it_lists_the_longest_overdue_and_counts_the_rest(
    client: FlaskClient, session: Session, district: dict[str, User]
) -> None:
    opened = datetime(2026, 3, 10, 4, 30, tzinfo=UTC)
    cases = [
        make_case(session, district["operator"], opened + timedelta(minutes=i))
        for i in range(OVERDUE_LISTED + 2)
    ]
    session.commit()
    login(client, "collector")
    page = client.get("/reports/daily?date=2026-03-11").get_data(as_text=True)
    overdue = page[page.index("Overdue cases") : page.index("By category")]
    listed = re.findall(r'class="number" href="/cases/([^"]+)"', overdue)
    assert listed == [c.number for c in cases[:OVERDUE_LISTED]]  # the longest overdue first
    assert f"The {OVERDUE_LISTED} longest overdue are listed; 2 more were overdue." in overdue
    assert "See every overdue case" not in overdue  # a past day: the case list shows now, not then
    assert f'<td class="count">{OVERDUE_LISTED + 2}</td>' in page  # all counted


@pytest.mark.parametrize(
    ("query", "status", "text"),
    [
        ("", 200, "Daily report"),
        ("date=11-03-2026", 400, "is not a date"),
        ("date=2999-01-01", 400, "There is no report yet"),
    ],
)
def test_it_checks_the_date(
    client: FlaskClient, numbers: dict[str, str], query: str, status: int, text: str
) -> None:
    login(client, "dm")
    response = client.get(f"/reports/daily?{query}")
    assert response.status_code == status
    assert text in response.get_data(as_text=True)


@pytest.mark.parametrize("username", ["cmho", "operator"])
def test_it_keeps_the_report_from_others(
    client: FlaskClient, district: dict[str, User], username: str
) -> None:
    login(client, username)
    assert client.get("/reports/daily").status_code == 403
