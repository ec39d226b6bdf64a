"""One bound for every date a person enters (models.times.FIRST_DAY..LAST_DAY): a query string, a form,
a CSV cell. Year 1 or 9999 cannot be moved to India time or have a week added; it is a typo, refused."""

from __future__ import annotations

import io
from datetime import date

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.cases.listing import CaseFilter, FilterError
from models.duty.roster import InvalidShift, india_time
from models.duty.tables import DutyShift
from models.homecare.register import parse_date
from models.homecare.tables import Patient
from models.reference.tables import User
from models.times import FIRST_DAY, LAST_DAY, DayOutOfRange, entered_day
from tests.conftest import csrf_token, login


@pytest.mark.parametrize("day", [date(1, 1, 1), date(1999, 12, 31), date(2100, 1, 1), date(9999, 12, 31)])
def test_it_refuses_a_day_outside_the_bounds(day: date) -> None:
    with pytest.raises(DayOutOfRange, match="is not between 2000-01-01 and 2099-12-31"):
        entered_day(day)
    assert entered_day(FIRST_DAY) == FIRST_DAY and entered_day(LAST_DAY) == LAST_DAY


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ({"from": "0001-01-01"}, FilterError("from", "0001-01-01", "day_range")),
        ({"to": "9999-12-31"}, FilterError("to", "9999-12-31", "day_range")),
        ({"to": "2024-02-30"}, FilterError("to", "2024-02-30", "date")),
    ],
)
def test_it_refuses_a_filter_day_outside_the_bounds(args: dict[str, str], error: FilterError) -> None:
    assert CaseFilter.from_args(args) == (CaseFilter(), [error])


def test_it_refuses_dates_outside_the_bounds_in_a_csv_or_the_roster() -> None:
    with pytest.raises(ValueError, match="'31-12-9999' is not between 01-01-2000 and 31-12-2099"):
        parse_date("31-12-9999")
    with pytest.raises(ValueError, match="'2024-02-30' is not a date"):
        parse_date("2024-02-30")
    with pytest.raises(InvalidShift, match="0001-01-01 is not between"):
        india_time("0001-01-01 00:00")


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/cases?from=0001-01-01", "Opened from: “0001-01-01” is not between 2000-01-01 and 2099-12-31."),
        ("/cases?to=9999-12-31", "Opened to: “9999-12-31” is not between 2000-01-01 and 2099-12-31."),
        ("/cases/export.csv?from=0001-01-01", "Opened from: “0001-01-01” is not between"),
        ("/reports/daily?date=0001-01-01", "There is no report for 0001-01-01: choose a day from 2000-01-01"),
        ("/reports/daily?date=9999-12-31", "There is no report yet for 9999-12-31."),
    ],
)
def test_it_refuses_a_query_day_outside_the_bounds_with_400(
    client: FlaskClient, district: dict[str, User], path: str, message: str
) -> None:
    login(client, "dm")
    response = client.get(path)
    assert response.status_code == 400 and message in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("starts_at", "ends_at"),
    [("0001-01-01T00:00", "2031-01-10T20:00"), ("2031-01-10T08:00", "9999-12-31T23:59")],
)
def test_it_refuses_a_shift_outside_the_bounds_with_400(
    client: FlaskClient, session: Session, district: dict[str, User], starts_at: str, ends_at: str
) -> None:
    login(client, "dm")
    before = session.scalar(select(func.count()).select_from(DutyShift))
    page = client.get("/duty").get_data(as_text=True)
    data = {
        "csrf_token": csrf_token(page),
        "user": district["dfo"].id,
        "duty": "admission",
        "starts_at": starts_at,
        "ends_at": ends_at,
    }
    response = client.post("/duty", data=data)
    assert response.status_code == 400
    assert "Enter a date between 2000-01-01 and 2099-12-31." in response.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(DutyShift)) == before


@pytest.mark.parametrize("cell", ["31-12-9999", "9999-12-31", "01-01-0001"])
def test_it_refuses_a_patients_csv_with_a_date_outside_the_bounds(
    client: FlaskClient, session: Session, district: dict[str, User], cell: str
) -> None:
    login(client, "operator")
    text = f"name,phone,village,isolation_start\nगीता साहू,9876543210,Chando,{cell}\n"
    page = client.get("/patients/import").get_data(as_text=True)
    data = {"csrf_token": csrf_token(page), "file": (io.BytesIO(text.encode()), "list.csv")}
    response = client.post("/patients/import", data=data, content_type="multipart/form-data")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert f"line 2: &#39;{cell}&#39; is not between 01-01-2000 and 31-12-2099" in page
    assert session.scalar(select(func.count()).select_from(Patient).where(Patient.name == "गीता साहू")) == 0
