"""Home isolation under two of everything: an isolation ends once, a call is recorded once.

Each racer has its own session and thread; they meet after reading the same state and before
either writes (tests/races.py), so only the conditional UPDATEs decide.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.config import Settings
from models.db import get_engine, get_sessionmaker
from models.homecare.followups import CallClosed, Vitals, record_reading, record_unreachable
from models.homecare.register import end_follow_ups
from models.homecare.tables import FollowUp, Patient, PatientStatus, Reading
from models.reference.tables import User
from tests.conftest import csrf_token, login
from tests.races import TIMEOUT, meeting_before, race
from tests.test_homecare import MORNING, first_call, make_patient


def test_it_ends_an_isolation_once_when_a_discharge_and_an_admission_race(
    settings: Settings, session: Session, district: dict[str, User]
) -> None:
    """Both read the patient isolating; the first end stands and the other changes nothing."""
    patient = make_patient(session)
    call = first_call(session, patient)
    factory = get_sessionmaker(settings.database_url)
    read = threading.Barrier(2, timeout=TIMEOUT)
    moments = {PatientStatus.discharged: MORNING, PatientStatus.admitted: MORNING + timedelta(minutes=1)}

    def end(status: PatientStatus) -> bool:
        with factory() as db:
            assert db.get_one(Patient, patient.id).status == PatientStatus.isolating
            read.wait()
            ended = end_follow_ups(db, patient.id, status, moments[status])
            db.commit()
            return ended

    outcomes = race(lambda: end(PatientStatus.discharged), lambda: end(PatientStatus.admitted))
    assert sorted(outcomes) == [False, True], outcomes
    winner = [PatientStatus.discharged, PatientStatus.admitted][outcomes.index(True)]
    session.refresh(patient)
    session.refresh(call)
    assert (patient.status, patient.status_since, call.status) == (winner, moments[winner], "cancelled")


def test_it_tells_the_second_of_two_discharges_at_once_that_nothing_changed(
    app: Flask, settings: Settings, session: Session, district: dict[str, User]
) -> None:
    patient = make_patient(session)

    def operator() -> tuple[FlaskClient, str]:
        client = app.test_client()
        login(client, "operator")
        return client, csrf_token(client.get(f"/patients/{patient.id}").get_data(as_text=True))

    racers = [operator(), operator()]
    with meeting_before(get_engine(settings.database_url), "UPDATE patients"):
        responses = race(
            *(
                lambda c=c, t=t: c.post(f"/patients/{patient.id}/discharge", data={"csrf_token": t})
                for c, t in racers
            )
        )
    assert [getattr(r, "status_code", r) for r in responses] == [302, 302]
    pages = [client.get(f"/patients/{patient.id}").get_data(as_text=True) for client, _ in racers]
    discharged = ["is discharged: no more follow-up calls" in page for page in pages]
    unchanged = ["not in isolation any more; nothing was changed" in page for page in pages]
    assert sorted(discharged) == [False, True] and unchanged == [not d for d in discharged], pages
    session.refresh(patient)
    assert patient.status == PatientStatus.discharged


def test_it_records_a_call_once_when_two_operators_record_it_at_once(
    settings: Settings, session: Session, district: dict[str, User]
) -> None:
    """One operator enters a reading while another marks the same call not reachable."""
    patient = make_patient(session)
    call = first_call(session, patient)
    factory = get_sessionmaker(settings.database_url)
    read = threading.Barrier(2, timeout=TIMEOUT)

    def record(how: str) -> str:
        with factory() as db:
            mine = db.get_one(FollowUp, call.id)
            by = db.get_one(User, district["operator"].id)
            assert (mine.status, mine.attempts) == ("due", 0)
            read.wait()
            try:
                if how == "reading":
                    record_reading(db, mine, Vitals(spo2=97), by, MORNING, "SRJ")
                else:
                    record_unreachable(db, mine, by, MORNING, 3)
            except CallClosed:
                db.rollback()
                return "closed"
            db.commit()
            return how

    outcomes: list[Any] = race(lambda: record("reading"), lambda: record("unreachable"))
    assert sorted(map(str, outcomes)) in (["closed", "reading"], ["closed", "unreachable"]), outcomes
    [winner] = [o for o in outcomes if o != "closed"]
    session.refresh(call)
    session.refresh(patient)
    readings = session.scalar(select(func.count()).select_from(Reading))
    expected = {"reading": ("done", 1, 1, 0), "unreachable": ("due", 1, 0, 1)}[winner]
    assert (call.status, call.attempts, readings, patient.misses_in_row) == expected
