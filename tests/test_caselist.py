"""The case list: each filter, bad filters, who sees what, order and pages."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from models.cases.listing import CaseFilter, page
from models.reference.tables import User
from tests.casedata import build, ids
from tests.conftest import login

NUMBER = re.compile(r'class="number" href="/cases/([^"]+)"')


@pytest.fixture
def numbers(session: Session, district: dict[str, User]) -> dict[str, str]:
    return build(session, district)


def listed(client: FlaskClient, query: str = "") -> list[str]:
    response = client.get(f"/cases?{query}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return NUMBER.findall(response.get_data(as_text=True))


def names(numbers: dict[str, str], found: list[str]) -> str:
    by_number = {number: name for name, number in numbers.items()}
    return "".join(sorted(by_number[n] for n in found))


# Each filter against the hand-counted cases of tests/casedata.py; {name} is a row id looked up there.
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", "abcdef"),
        ("state=awaiting_assignment", "af"),
        ("state=open", "abcf"),
        ("state=closed", "d"),
        ("state=rejected", "e"),
        ("step=dm", "af"),
        ("step=officer", "b"),
        ("step=collector", "c"),
        ("category={bed}", "ad"),
        ("block={Pratappur}", "be"),
        ("officer={cmho}", "cd"),
        ("from=2026-03-11", "bcdef"),
        ("to=2026-03-10", "a"),
        ("from=2026-03-11&to=2026-03-11", "bcde"),
        ("overdue=1", "abc"),
        ("overdue=0", "abcdef"),
        ("q=oxygen", "ac"),
        ("q=राशन", "b"),
        ("q=सीता", "b"),
        ("q=98123", "c"),
        ("q=98123 45678", "c"),
        ("q=ramu", "adef"),
        ("q=100%25", ""),
        ("state=open&category={bed}&overdue=1", "a"),
        ("step=dm&state=closed", ""),
    ],
)
def test_it_filters(
    client: FlaskClient,
    session: Session,
    district: dict[str, User],
    numbers: dict[str, str],
    query: str,
    expected: str,
) -> None:
    known = ids(session) | {u.username: u.id for u in district.values()}
    login(client, "collector")
    assert names(numbers, listed(client, query.format(**known))) == expected


def test_it_searches_by_case_number(client: FlaskClient, numbers: dict[str, str]) -> None:
    login(client, "dm")
    assert listed(client, f"q={numbers['d'].lower()}") == [numbers["d"]]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("state=bogus", "Status: “bogus” is not one of the choices."),
        ("step=clerk", "Waiting on: “clerk” is not one of the choices."),
        ("category=abc", "Category: “abc” is not a valid number."),
        ("block=0", "Block: “0” is not a valid number."),
        ("officer=-3", "Officer: “-3” is not a valid number."),
        ("from=2026-13-01", "Opened from: “2026-13-01” is not a date; write it as YYYY-MM-DD."),
        ("to=10/03/2026", "Opened to: “10/03/2026” is not a date; write it as YYYY-MM-DD."),
        ("from=2026-03-12&to=2026-03-11", "Opened to: the date is before the “from” date."),
        ("overdue=yes", "Overdue only: “yes” should be 1 or 0."),
        ("sort=price", "Order: “price” is not one of the choices."),
        ("page=0", "Page: “0” is not a valid number."),
        ("page=99999999999999999999", "Page: “99999999999999999999” is not a valid number."),
        ("q=" + "x" * 101, "Search: the text is too long."),
    ],
)
def test_it_refuses_a_bad_filter(
    client: FlaskClient, district: dict[str, User], query: str, message: str
) -> None:
    login(client, "dm")
    response = client.get(f"/cases?{query}")
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)


def test_it_shows_an_officer_only_their_cases(
    client: FlaskClient, district: dict[str, User], numbers: dict[str, str]
) -> None:
    login(client, "cmho")
    assert names(numbers, listed(client)) == "cd"
    assert listed(client, f"officer={district['dfo'].id}") == []
    assert names(numbers, listed(client, "q=oxygen")) == "c"
    login(client, "bmo")  # also health, never assigned
    assert listed(client) == []


def test_it_keeps_operators_out(client: FlaskClient, district: dict[str, User]) -> None:
    login(client, "operator")
    assert client.get("/cases").status_code == 403
    assert client.get("/cases/export.csv").status_code == 403


def test_it_sends_the_anonymous_to_log_in(client: FlaskClient, district: dict[str, User]) -> None:
    response = client.get("/cases?state=open")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


# With a first day, the page is sorted after its rows are found (models/cases/listing._ids): the same order.
SINCE = ("", "from=2026-01-01&")


@pytest.mark.parametrize("since", SINCE)
def test_it_lists_open_cases_first_longest_waiting_first(
    client: FlaskClient, numbers: dict[str, str], since: str
) -> None:
    login(client, "collector")
    # a, b, c wait since 10 and 11 March, f since now; then d (closed) and e (rejected) by when they moved.
    assert [n for n in listed(client, since)] == [numbers[k] for k in "abcfed"]
    assert listed(client, f"{since}per_page=4&page=2") == [numbers[k] for k in "ed"]


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("opened", "abcdef"),
        ("-opened", "fedcba"),
        ("waited", "abedcf"),
        ("-waited", "fcdeba"),
        ("number", "abcdef"),
        ("-number", "fedcba"),
        ("due", "abcf" + "de"),
    ],
)
@pytest.mark.parametrize("since", SINCE)
def test_it_sorts(client: FlaskClient, numbers: dict[str, str], sort: str, expected: str, since: str) -> None:
    login(client, "dm")
    assert listed(client, f"{since}sort={sort}") == [numbers[k] for k in expected]
    assert listed(client, f"{since}sort={sort}&per_page=4&page=2") == [numbers[k] for k in expected[4:]]


def test_it_pages_and_keeps_the_filters(client: FlaskClient, numbers: dict[str, str]) -> None:
    login(client, "dm")
    first = client.get("/cases?sort=number&per_page=2&q=ramu").get_data(as_text=True)
    assert NUMBER.findall(first) == [numbers["a"], numbers["d"]]
    assert "Page 1 of 2" in first
    nxt = re.search(r'href="([^"]+)" rel="next"', first)
    assert nxt is not None
    link = nxt.group(1).replace("&amp;", "&")
    assert "q=ramu" in link and "sort=number" in link and "per_page=2" in link and "page=2" in link
    second = client.get(link).get_data(as_text=True)
    assert NUMBER.findall(second) == [numbers["e"], numbers["f"]]
    assert 'rel="next"' not in second and 'rel="prev"' in second
    assert listed(client, "sort=number&per_page=2&page=9") == []


def test_it_shows_the_clock(client: FlaskClient, numbers: dict[str, str]) -> None:
    login(client, "dm")
    page_html = client.get("/cases?state=awaiting_assignment&sort=opened").get_data(as_text=True)
    assert 'class="clock late"' in page_html and "overdue" in page_html
    assert 'class="clock ok"' in page_html or 'class="clock soon"' in page_html


def test_it_shows_when_a_final_case_ended_not_how_long_it_waits(
    client: FlaskClient, numbers: dict[str, str]
) -> None:
    login(client, "dm")
    page_html = client.get("/cases?sort=number").get_data(as_text=True)
    rows = {n: row for row in re.findall(r"<tr>.*?</tr>", page_html, re.S) for n in NUMBER.findall(row)}
    waiting = {name: re.findall(r"<td[^>]*>(.*?)</td>", rows[numbers[name]], re.S)[5] for name in "de"}
    # d was closed at 17:30 and e rejected at 14:00 on 11 March (India): they wait on nobody.
    assert waiting["d"] == '<span class="muted">closed 11/03/2026, 5:30 pm</span>'
    assert waiting["e"] == '<span class="muted">rejected 11/03/2026, 2:00 pm</span>'
    open_row = re.findall(r"<td[^>]*>(.*?)</td>", rows[numbers["a"]], re.S)[5]
    assert re.fullmatch(r"\d+ \w+", open_row)  # how long a waits on the DM, e.g. "3 months"


def test_it_links_cases_from_the_menu(client: FlaskClient, district: dict[str, User]) -> None:
    for username in ("dm", "collector", "admin", "cmho"):
        login(client, username)
        assert 'href="/cases">Cases</a>' in client.get("/queue").get_data(as_text=True)
    login(client, "operator")
    assert 'href="/cases">Cases</a>' not in client.get("/queue").get_data(as_text=True)


@pytest.mark.parametrize(
    ("args", "check"),
    [
        ({"state": "open", "q": " x "}, lambda f: f.state == "open" and f.text == "x"),
        ({"from": "2026-03-11", "to": "2026-03-11"}, lambda f: f.opened_from == f.opened_to),
        ({"overdue": "1", "page": "3", "per_page": "200"}, lambda f: f.overdue and f.page == 3),
        ({"unknown": "ignored"}, lambda f: f == CaseFilter()),
    ],
)
def test_it_parses_and_gives_back_the_query(
    args: dict[str, str], check: Callable[[CaseFilter], bool]
) -> None:
    flt, errors = CaseFilter.from_args(args)
    assert errors == [] and check(flt)
    again, _ = CaseFilter.from_args(flt.to_args())
    assert again.to_args() == flt.to_args()


def test_it_counts_every_page(session: Session, district: dict[str, User], numbers: dict[str, str]) -> None:
    flt, _ = CaseFilter.from_args({"per_page": "4"})
    result = page(session, flt, district["dm"], datetime.now(UTC))
    assert (result.total, result.pages, len(result.rows)) == (6, 2, 4)
    assert page(session, flt, district["operator"], datetime.now(UTC)).total == 0
