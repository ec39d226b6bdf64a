"""The CSV export of a filtered list: Excel-readable UTF-8, the filters and the viewer's limits applied."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from models.cases.listing import CaseFilter, stream
from models.reference.tables import User
from tests.casedata import build
from tests.conftest import login
from webapp.caselist import EXPORT_COLUMNS


@pytest.fixture
def numbers(session: Session, district: dict[str, User]) -> dict[str, str]:
    return build(session, district)


def exported(client: FlaskClient, query: str = "") -> list[dict[str, str]]:
    with client.get(f"/cases/export.csv?{query}") as response:  # closing a stream ends its request
        assert response.status_code == 200, response.get_data(as_text=True)
        body = response.get_data()
    assert body.startswith("\ufeff".encode())
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))


def test_it_exports_with_a_byte_order_mark_as_an_attachment(
    client: FlaskClient, numbers: dict[str, str]
) -> None:
    login(client, "collector")
    with client.get("/cases/export.csv") as response:
        assert response.is_streamed
        text = response.get_data().decode("utf-8")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment; filename=cases-") and disposition.endswith(".csv")
    assert text.startswith("\ufeff" + ",".join(EXPORT_COLUMNS) + "\r\n")


def test_it_round_trips_hindi(client: FlaskClient, numbers: dict[str, str]) -> None:
    login(client, "dm")
    (row,) = exported(client, "q=राशन")
    assert row["number"] == numbers["b"]
    assert row["caller"] == "सीता देवी" and row["description"] == "राशन कार्ड नहीं मिला"
    assert row["opened"] == "2026-03-11 00:30"  # India time
    assert row["state"] == "With the officer" and row["step"] == "officer"
    assert (row["category"], row["block"], row["village"]) == ("Food / ration", "Pratappur", "Chando")
    assert (row["officer"], row["overdue"], row["due"]) == ("Food Officer", "yes", "2026-03-11 06:35")
    assert row["phone"] == "+919800000001" and row["priority"] == "Normal"


def test_it_writes_english_labels_for_a_hindi_reader(
    client: FlaskClient, session: Session, district: dict[str, User], numbers: dict[str, str]
) -> None:
    district["dm"].language = "hi"
    session.commit()
    login(client, "dm")
    assert {r["state"] for r in exported(client, "state=open")} == {
        "Waiting for the DM",
        "With the officer",
        "Waiting for the Collector",
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("state=closed", "d"),
        ("step=dm&sort=-opened", "fa"),
        ("from=2026-03-11&to=2026-03-11&sort=number", "bcde"),
        ("overdue=1", "abc"),
        ("", "abcfed"),
    ],
)
def test_it_applies_the_filters(
    client: FlaskClient, numbers: dict[str, str], query: str, expected: str
) -> None:
    login(client, "collector")
    assert [r["number"] for r in exported(client, query)] == [numbers[k] for k in expected]


def test_it_exports_an_officer_only_their_cases(client: FlaskClient, numbers: dict[str, str]) -> None:
    login(client, "cmho")
    rows = exported(client)
    assert sorted(r["number"] for r in rows) == [numbers["c"], numbers["d"]]
    assert exported(client, "state=awaiting_assignment") == []


def test_it_defuses_formulas(client: FlaskClient, numbers: dict[str, str]) -> None:
    login(client, "collector")
    (row,) = exported(client, "state=closed")
    assert row["description"] == '\'=HYPERLINK("http://x")'
    assert row["closed"] == "2026-03-11 17:30" and row["resolved"] == "2026-03-11 15:30"


def test_it_refuses_a_bad_filter(client: FlaskClient, numbers: dict[str, str]) -> None:
    login(client, "dm")
    response = client.get("/cases/export.csv?from=yesterday")
    assert response.status_code == 400
    assert "is not a date" in response.get_data(as_text=True)


def test_it_streams_in_batches(session: Session, district: dict[str, User], numbers: dict[str, str]) -> None:
    flt, _ = CaseFilter.from_args({"sort": "number"})
    rows = list(stream(session, flt, district["collector"], datetime.now(UTC), batch=2))
    assert [r.number for r in rows] == sorted(numbers.values())
