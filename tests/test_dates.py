"""Dates and times as India writes them, in India time, in both languages: models/times and its filters."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from flask import Flask, render_template_string
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from models.reference.tables import User
from models.times import clock, day, india_day, short_day, when
from tests.casedata import make_case
from tests.conftest import login

MOMENT = datetime(2026, 11, 29, 16, 40, 11, tzinfo=UTC)  # 22:10:11 in India


@pytest.mark.parametrize(
    ("moment", "language", "seconds", "shown"),
    [
        (MOMENT, "en", False, "29/11/2026, 10:10 pm"),
        (MOMENT, "hi", False, "29/11/2026, 22:10"),
        (MOMENT, "en", True, "29/11/2026, 10:10:11 pm"),
        (MOMENT, "hi", True, "29/11/2026, 22:10:11"),
        (datetime(2026, 1, 5, 3, 35, tzinfo=UTC), "en", False, "05/01/2026, 9:05 am"),
        (datetime(2026, 1, 5, 3, 35, tzinfo=UTC), "hi", False, "05/01/2026, 09:05"),
        (datetime(2026, 11, 29, 6, 30, tzinfo=UTC), "en", False, "29/11/2026, 12:00 pm"),  # noon
        # 18:30 UTC is midnight in India: already the next day there.
        (datetime(2026, 11, 29, 18, 30, tzinfo=UTC), "en", False, "30/11/2026, 12:00 am"),
        (datetime(2026, 11, 29, 18, 30, tzinfo=UTC), "hi", False, "30/11/2026, 00:00"),
        (datetime(2026, 11, 29, 16, 40), "en", False, "29/11/2026, 10:10 pm"),  # naive: UTC, as stored
        (MOMENT, "xx", False, "29/11/2026, 10:10 pm"),  # an unknown language reads as English
    ],
)
def test_it_shows_a_moment_in_india_time_day_first(
    moment: datetime, language: str, seconds: bool, shown: str
) -> None:
    assert when(moment, language, seconds) == shown
    assert clock(moment, language, seconds) == shown.partition(", ")[2]


def test_it_shows_a_day_day_first_with_its_year() -> None:
    assert day(date(2026, 1, 5)) == "05/01/2026"
    assert day(datetime(2026, 11, 29, 18, 30, tzinfo=UTC)) == "30/11/2026"  # a moment: its India date
    assert short_day(date(2026, 11, 29)) == "29/11"
    assert short_day(date(2026, 11, 29), "en", weekday=True) == "Sun 29/11"
    assert short_day(date(2026, 11, 29), "hi", weekday=True) == "रवि 29/11"


@pytest.mark.parametrize(("language", "shown"), [("en", "29/11/2026, 10:10 pm"), ("hi", "29/11/2026, 22:10")])
def test_it_shows_india_dates_on_the_case_page_and_list(
    client: FlaskClient, session: Session, district: dict[str, User], language: str, shown: str
) -> None:
    case = make_case(session, district["operator"], MOMENT)
    district["dm"].language = language
    session.commit()
    login(client, "dm")
    for url in (f"/cases/{case.number}", "/cases?state=awaiting_assignment"):
        page = client.get(url).get_data(as_text=True)
        assert shown in page, url
        assert "11/29/26" not in page and "29/11/26," not in page and "PM" not in page


def test_it_shows_the_dashboards_days_day_first(client: FlaskClient, district: dict[str, User]) -> None:
    login(client, "dm")
    before = india_day(datetime.now(UTC))
    page = client.get("/dashboard?period=today").get_data(as_text=True)
    after = india_day(datetime.now(UTC))  # a request across midnight shows either day
    assert any(f"Today, {day(d)}" in page for d in (before, after))
    assert any(
        f'<span class="day-label">{short_day(d - timedelta(days=1))}</span>' in page for d in (before, after)
    )


@pytest.mark.parametrize(("language", "shown"), [("en", "10:10 pm"), ("hi", "22:10")])
def test_it_shows_flask_babels_date_filters_in_the_same_style(app: Flask, language: str, shown: str) -> None:
    """A template still calling |datetimeformat or |dateformat shows the India style too."""
    page = "{{ m|datetimeformat('short') }} · {{ m|dateformat('medium') }} · {{ m|clock }} · {{ none|when }}"
    with app.test_request_context(headers={"Accept-Language": language}):
        assert render_template_string(page, m=MOMENT) == f"29/11/2026, {shown} · 29/11/2026 · {shown} · "
