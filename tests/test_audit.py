"""The audit log: who viewed, listed, exported and printed what; the page the Collector reads it on."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from models.oversight.audit import record
from models.oversight.tables import AuditEntry
from models.reference.tables import User
from tests.casedata import build
from tests.conftest import login


@pytest.fixture
def numbers(session: Session, district: dict[str, User]) -> dict[str, str]:
    return build(session, district)


def entries(session: Session) -> list[tuple[str, str, str]]:
    """What was seen, listed or exported (sign-ins are recorded too: tests/test_auth.py reads those)."""
    session.expire_all()
    rows = session.scalars(
        select(AuditEntry).where(AuditEntry.action.not_in(["login", "logout"])).order_by(AuditEntry.id)
    ).all()
    return [(r.user.username, r.action, r.target) for r in rows]


def test_it_records_a_case_view(client: FlaskClient, session: Session, numbers: dict[str, str]) -> None:
    login(client, "cmho")
    assert client.get(f"/cases/{numbers['c']}").status_code == 200
    assert client.get(f"/cases/{numbers['b']}").status_code == 403  # not theirs: nothing seen
    assert entries(session) == [("cmho", "view", numbers["c"])]


def test_it_records_a_timeline_view(client: FlaskClient, session: Session, numbers: dict[str, str]) -> None:
    login(client, "collector")
    assert client.get(f"/cases/{numbers['a']}/timeline").status_code == 200
    assert entries(session) == [("collector", "view", numbers["a"])]


def test_it_records_lists_with_their_filters(
    client: FlaskClient, session: Session, numbers: dict[str, str]
) -> None:
    login(client, "dm")
    client.get("/cases")
    client.get("/cases?state=assigned&q=राशन&page=1")
    client.get("/cases?state=nonsense")  # refused: nothing listed
    assert entries(session) == [
        ("dm", "list", ""),
        ("dm", "list", "state=assigned&q=%E0%A4%B0%E0%A4%BE%E0%A4%B6%E0%A4%A8"),
    ]


def test_it_records_an_export(client: FlaskClient, session: Session, numbers: dict[str, str]) -> None:
    login(client, "collector")
    with client.get("/cases/export.csv?overdue=1&sort=due") as response:
        assert response.status_code == 200
        response.get_data()
    assert entries(session) == [("collector", "export", "overdue=1&sort=due")]


def test_it_records_a_report(client: FlaskClient, session: Session, numbers: dict[str, str]) -> None:
    login(client, "collector")
    assert client.get("/reports/daily?date=2026-03-11").status_code == 200
    assert entries(session) == [("collector", "report", "2026-03-11")]


def test_it_shows_the_log_newest_first_by_user(
    client: FlaskClient, session: Session, district: dict[str, User]
) -> None:
    moment = datetime(2026, 3, 11, 6, 0, tzinfo=UTC)
    for minute, (username, target) in enumerate([("dm", "SRJ-2026-000001"), ("cmho", "SRJ-2026-000002")]):
        record(session, district[username], "view", target, moment.replace(minute=minute))
    session.commit()
    login(client, "collector")
    page = client.get("/audit").get_data(as_text=True)
    assert page.index("SRJ-2026-000002") < page.index("SRJ-2026-000001")
    assert 'href="/cases/SRJ-2026-000001"' in page and "Viewed a case" in page
    page = client.get(f"/audit?user={district['dm'].id}").get_data(as_text=True)
    assert "SRJ-2026-000001" in page and "SRJ-2026-000002" not in page


def test_it_shows_a_hindi_search_decoded(client: FlaskClient, numbers: dict[str, str]) -> None:
    login(client, "dm")
    client.get("/cases?q=राशन")
    login(client, "collector")
    page = client.get("/audit").get_data(as_text=True)
    # Stored as the query string was sent (test_it_records_lists_with_their_filters); read as typed.
    assert '<a href="/cases?q=%E0%A4%B0%E0%A4%BE%E0%A4%B6%E0%A4%A8"><code>q=राशन</code></a>' in page


def test_it_pages_the_log(client: FlaskClient, session: Session, district: dict[str, User]) -> None:
    moment = datetime(2026, 3, 11, 6, 0, tzinfo=UTC)
    for n in range(51):
        record(session, district["dm"], "view", f"SRJ-2026-{n:06d}", moment.replace(second=n))
    session.commit()
    login(client, "admin")
    first = client.get("/audit").get_data(as_text=True)
    assert "Page 1 of 2" in first and "SRJ-2026-000050" in first and "SRJ-2026-000000" not in first
    second = client.get("/audit?page=2").get_data(as_text=True)
    assert "SRJ-2026-000000" in second
    assert client.get("/audit?page=x").status_code == 400


@pytest.mark.parametrize("username", ["dm", "cmho", "operator"])
def test_it_keeps_the_log_from_others(client: FlaskClient, district: dict[str, User], username: str) -> None:
    login(client, username)
    assert client.get("/audit").status_code == 403
