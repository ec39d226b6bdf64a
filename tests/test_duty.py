"""The duty roster: who is on duty at a moment, shifts added and removed on the page, CSV load."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from models.duty.roster import (
    InvalidShift,
    OverlappingShift,
    add_shift,
    india_time,
    on_duty,
    remove_shift,
    roster,
)
from models.duty.tables import Duty, DutyShift
from models.reference.loading import ImportFailed, load_csv
from models.reference.tables import User
from models.times import aware
from tests.conftest import csrf_token, login

HEADER = "username,duty,starts_at,ends_at\n"


@pytest.fixture
def officers(session: Session, district: dict[str, User]) -> dict[str, User]:
    """The demo district without its year-long demo shifts."""
    session.execute(delete(DutyShift))
    session.commit()
    return district


def shift(session: Session, user: User, duty: str, starts: str, ends: str) -> DutyShift:
    made = DutyShift(user_id=user.id, duty=duty, starts_at=india_time(starts), ends_at=india_time(ends))
    session.add(made)
    session.commit()
    return made


def shifts(session: Session) -> list[tuple[str, str, datetime, datetime]]:
    session.expire_all()
    rows = session.scalars(select(DutyShift).order_by(DutyShift.starts_at, DutyShift.id))
    return [(s.user.username, s.duty, aware(s.starts_at), aware(s.ends_at)) for s in rows]


def test_the_demo_has_someone_on_each_duty(session: Session, district: dict[str, User]) -> None:
    now = datetime.now(UTC)
    assert on_duty(session, Duty.admission, now) == district["cmho"]
    assert on_duty(session, Duty.doctor, now) == district["bmo"]
    assert on_duty(session, Duty.doctor, now + timedelta(days=400)) is None


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        ("2030-01-10 07:59", "tehsildar"),  # the night shift before
        ("2030-01-10 08:00", "cmho"),  # a shift starts on the minute
        ("2030-01-10 12:30", "dfo"),  # two overlap: the later start wins
        ("2030-01-10 14:00", "cmho"),  # the overlap ended: back to the day shift
        ("2030-01-10 20:00", None),  # ends_at is not part of the shift
        ("2030-01-10 23:00", None),  # the inactive officer's shift counts for nothing
    ],
)
def test_it_picks_who_is_on_duty(
    session: Session, officers: dict[str, User], moment: str, expected: str | None
) -> None:
    shift(session, officers["tehsildar"], Duty.admission, "2030-01-09 20:00", "2030-01-10 08:00")
    shift(session, officers["cmho"], Duty.admission, "2030-01-10 08:00", "2030-01-10 20:00")
    shift(session, officers["dfo"], Duty.admission, "2030-01-10 12:00", "2030-01-10 14:00")
    shift(session, officers["bmo"], Duty.admission, "2030-01-10 22:00", "2030-01-11 08:00")
    shift(session, officers["cmho"], Duty.doctor, "2030-01-10 00:00", "2030-01-11 00:00")  # another duty
    officers["bmo"].active = False
    session.commit()
    holder = on_duty(session, Duty.admission, india_time(moment))
    assert (holder.username if holder else None) == expected


def test_it_lists_each_duty_now_and_next(session: Session, officers: dict[str, User]) -> None:
    shift(session, officers["cmho"], Duty.admission, "2030-01-10 08:00", "2030-01-10 20:00")
    shift(session, officers["tehsildar"], Duty.admission, "2030-01-10 20:00", "2030-01-11 08:00")
    shift(session, officers["dfo"], Duty.admission, "2030-01-09 08:00", "2030-01-09 20:00")  # over
    admission, doctor = roster(session, india_time("2030-01-10 09:00"))
    assert admission.duty == Duty.admission and admission.holder == officers["cmho"]
    assert [s.user.username for s in admission.current] == ["cmho"]
    assert [s.user.username for s in admission.upcoming] == ["tehsildar"]
    assert doctor.holder is None and doctor.current == [] and doctor.upcoming == []


def test_it_keeps_started_shifts(session: Session, officers: dict[str, User]) -> None:
    now = india_time("2030-01-10 09:00")
    started = shift(session, officers["cmho"], Duty.admission, "2030-01-10 08:00", "2030-01-10 20:00")
    with pytest.raises(InvalidShift):
        remove_shift(session, started.id, now)
    with pytest.raises(InvalidShift, match="already ended"):
        add_shift(
            session,
            user_id=officers["cmho"].id,
            duty=Duty.doctor,
            starts_at=india_time("2030-01-09 08:00"),
            ends_at=india_time("2030-01-09 20:00"),
            now=now,
        )


def test_it_refuses_a_shift_overlapping_the_same_persons_on_that_duty(
    session: Session, officers: dict[str, User]
) -> None:
    now = india_time("2030-01-01 00:00")
    shift(session, officers["cmho"], Duty.admission, "2030-01-10 08:00", "2099-12-31 23:00")
    values: dict[str, Any] = {"user_id": officers["cmho"].id, "duty": Duty.admission, "now": now}
    for starts, ends in [
        ("2030-01-11 08:00", "2030-01-11 20:00"),  # inside the long one
        ("2030-01-10 00:00", "2030-01-10 08:01"),  # its last minute overlaps
    ]:
        with pytest.raises(OverlappingShift, match="already has this duty"):
            add_shift(session, **values, starts_at=india_time(starts), ends_at=india_time(ends))
    session.rollback()
    add_shift(
        session, **values, starts_at=india_time("2030-01-09 20:00"), ends_at=india_time("2030-01-10 08:00")
    )
    other_duty = {**values, "duty": Duty.doctor}  # one person may hold both duties at once
    add_shift(
        session,
        **other_duty,
        starts_at=india_time("2030-01-11 08:00"),
        ends_at=india_time("2030-01-11 20:00"),
    )
    someone_else = {**values, "user_id": officers["dfo"].id}  # two people on one duty: the later start wins
    add_shift(
        session,
        **someone_else,
        starts_at=india_time("2030-01-11 08:00"),
        ends_at=india_time("2030-01-11 20:00"),
    )
    session.commit()
    assert len(shifts(session)) == 4


# The page.


def form_data(client: FlaskClient, officer: User, **overrides: Any) -> dict[str, Any]:
    """The add-shift form's fields, times in India time as a browser sends them."""
    page = client.get("/duty").get_data(as_text=True)
    data = {
        "csrf_token": csrf_token(page),
        "user": officer.id,
        "duty": "admission",
        "starts_at": "2031-01-10T08:00",
        "ends_at": "2031-01-10T20:00",
    }
    data.update(overrides)
    return data


def test_it_adds_and_removes_a_shift(
    client: FlaskClient, session: Session, officers: dict[str, User]
) -> None:
    login(client, "dm")
    response = client.post("/duty", data=form_data(client, officers["bmo"]))
    assert response.status_code == 302 and response.headers["Location"] == "/duty"
    start = datetime(2031, 1, 10, 2, 30, tzinfo=UTC)  # 08:00 in India
    assert shifts(session) == [("bmo", "admission", start, start + timedelta(hours=12))]
    page = client.get("/duty").get_data(as_text=True)
    assert (
        "Shift added to the roster." in page and "डॉ. अनीता सिंह" in page and "Nobody is on duty now." in page
    )
    shift_id = session.scalars(select(DutyShift.id)).one()
    response = client.post(f"/duty/{shift_id}/remove", data={"csrf_token": csrf_token(page)})
    assert response.status_code == 302 and shifts(session) == []
    response = client.post(f"/duty/{shift_id}/remove", data={"csrf_token": csrf_token(page)})
    assert response.status_code == 404


def test_it_shows_who_is_on_duty_to_everyone(client: FlaskClient, district: dict[str, User]) -> None:
    login(client, "operator")
    page = client.get("/duty").get_data(as_text=True)
    assert page.count("On duty now:") == 2 and "Dr. Ramesh Gupta" in page and "डॉ. अनीता सिंह" in page
    assert "Add a shift" not in page and "Remove" not in page


def test_it_refuses_to_remove_a_started_shift(
    client: FlaskClient, session: Session, officers: dict[str, User]
) -> None:
    now = datetime.now(UTC)
    running = DutyShift(
        user_id=officers["cmho"].id,
        duty="admission",
        starts_at=now - timedelta(hours=1),
        ends_at=now + timedelta(hours=1),
    )
    session.add(running)
    session.commit()
    login(client, "admin")
    page = client.get("/duty").get_data(as_text=True)
    response = client.post(f"/duty/{running.id}/remove", data={"csrf_token": csrf_token(page)})
    assert response.status_code == 400 and "stays on the roster" in response.get_data(as_text=True)
    assert len(shifts(session)) == 1


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"ends_at": "2031-01-10T08:00"}, "must end after it starts"),
        ({"ends_at": "2031-01-09T20:00"}, "must end after it starts"),
        ({"starts_at": "2020-01-10T08:00", "ends_at": "2020-01-10T20:00"}, "must end in the future"),
        ({"starts_at": ""}, "This field is required."),
        ({"ends_at": "tomorrow"}, "Not a valid datetime value."),
        ({"duty": "cook"}, "Not a valid choice."),
        ({"user": "dm"}, "Not a valid choice."),  # the DM holds no shift: only officers
        ({"user": "9999"}, "Not a valid choice."),
    ],
)
def test_it_rejects_a_bad_shift(
    client: FlaskClient, session: Session, officers: dict[str, User], overrides: dict[str, str], error: str
) -> None:
    login(client, "dm")
    if overrides.get("user") == "dm":
        overrides = {"user": str(officers["dm"].id)}
    response = client.post("/duty", data=form_data(client, officers["cmho"], **overrides))
    assert response.status_code == 400 and error in response.get_data(as_text=True)
    assert shifts(session) == []


def test_it_refuses_an_overlapping_shift_on_the_page(
    client: FlaskClient, session: Session, officers: dict[str, User]
) -> None:
    shift(session, officers["cmho"], Duty.admission, "2031-01-10 12:00", "2099-12-31 23:00")
    login(client, "dm")
    response = client.post("/duty", data=form_data(client, officers["cmho"]))
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "already has this duty from 10/01/2031, 12:00 pm" in page
    assert len(shifts(session)) == 1


def test_it_needs_the_csrf_token(client: FlaskClient, session: Session, officers: dict[str, User]) -> None:
    login(client, "dm")
    data = form_data(client, officers["cmho"])
    del data["csrf_token"]
    assert client.post("/duty", data=data).status_code == 400
    assert shifts(session) == []


@pytest.mark.parametrize("username", ["operator", "collector", "cmho"])
def test_only_the_dm_and_admin_edit_the_roster(
    client: FlaskClient, session: Session, officers: dict[str, User], username: str
) -> None:
    future = shift(session, officers["cmho"], Duty.doctor, "2031-01-10 08:00", "2031-01-10 20:00")
    login(client, username)
    data = form_data(client, officers["cmho"])
    assert client.post("/duty", data=data).status_code == 403
    assert (
        client.post(f"/duty/{future.id}/remove", data={"csrf_token": data["csrf_token"]}).status_code == 403
    )
    assert len(shifts(session)) == 1


# CSV.


def test_it_loads_a_roster_from_csv_once(session: Session, officers: dict[str, User]) -> None:
    text = HEADER + (
        "cmho,admission,2030-01-10 08:00,2030-01-10 20:00\n"
        " bmo ,doctor, 2030-01-10 20:00,2030-01-11 08:00\n"  # spaces around values are dropped
    )
    report = load_csv(session, "duty", io.StringIO(text))
    session.commit()
    assert (report.created, report.updated) == (2, 0)
    report = load_csv(session, "duty", io.StringIO(text))  # the same file again
    session.commit()
    assert (report.created, report.updated) == (0, 2)
    assert [(u, d, s.hour, s.minute) for u, d, s, _ in shifts(session)] == [
        ("cmho", "admission", 2, 30),
        ("bmo", "doctor", 14, 30),
    ]
    assert on_duty(session, Duty.doctor, india_time("2030-01-11 07:59")) == officers["bmo"]


def test_it_loads_all_rows_or_none(session: Session, officers: dict[str, User]) -> None:
    text = HEADER + (
        "cmho,admission,2030-01-10 08:00,2030-01-10 20:00\n"  # good, but not kept
        "nobody,admission,2030-01-10 08:00,2030-01-10 20:00\n"
        "dm,admission,2030-01-10 08:00,2030-01-10 20:00\n"
        "bmo,cook,2030-01-10 08:00,2030-01-10 20:00\n"
        "bmo,doctor,10/01/2030 08:00,2030-01-10 20:00\n"
        "bmo,doctor,2030-01-10 20:00,2030-01-10 08:00\n"
        "bmo,doctor,,2030-01-10 08:00\n"
        "cmho,admission,2030-01-10 12:00,2030-01-11 08:00\n"  # overlaps line 2
    )
    with pytest.raises(ImportFailed) as failed:
        load_csv(session, "duty", io.StringIO(text))
    assert failed.value.report.errors == [
        "line 3: unknown user 'nobody'",
        "line 4: 'dm' is not an active officer",
        "line 5: unknown duty 'cook' (admission, doctor)",
        "line 6: '10/01/2030 08:00' is not a time like 2026-12-01 08:00",
        "line 7: a shift must end after it starts",
        "line 8: 'starts_at' is empty",
        "line 9: 'cmho' already has this duty from 2030-01-10 08:00 to 2030-01-10 20:00 (India time)",
    ]
    assert shifts(session) == []
    with pytest.raises(ImportFailed, match="missing columns ends_at"):
        load_csv(session, "duty", io.StringIO("username,duty,starts_at\n"))


def test_it_loads_the_roster_with_the_cli(
    app: Flask, session: Session, officers: dict[str, User], tmp_path: Path
) -> None:
    path = tmp_path / "roster.csv"
    path.write_text(HEADER + "cmho,admission,2030-01-10 08:00,2030-01-10 20:00\n", encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["load-csv", "duty", str(path)])
    assert result.exit_code == 0 and "duty: 1 created" in result.output, result.output
    assert len(shifts(session)) == 1
