"""Reference data from CSV: whole files or nothing, each bad row reported with its line."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.reference.loading import ImportFailed, load_csv
from models.reference.tables import Category, Department, User, Village


def load(session: Session, kind: str, text: str):  # type: ignore[no-untyped-def]
    report = load_csv(session, kind, io.StringIO(text))
    session.commit()
    return report


def test_it_loads_and_updates_keeping_hindi_exactly(session: Session) -> None:
    load(session, "departments", "code,name,name_hi\nhealth,Health,स्वास्थ्य\n")
    report = load(session, "villages", "block,block_hi,village,village_hi\nPratappur,प्रतापपुर,Chando,चांदो\n")
    assert (report.created, report.updated) == (1, 0)
    report = load(session, "villages", "block,block_hi,village,village_hi\nPratappur,प्रतापपुर,Chando,चाँदो\n")
    assert (report.created, report.updated) == (0, 1)
    village = session.scalars(select(Village)).one()
    assert village.name_hi == "चाँदो" and village.block.name_hi == "प्रतापपुर"


def test_it_imports_nothing_when_a_row_is_bad(session: Session) -> None:
    load(session, "departments", "code,name\nhealth,Health\n")
    text = (
        "code,name,name_hi,department,assign_minutes,resolve_minutes,urgent_minutes\n"
        "bed,Hospital bed,अस्पताल बिस्तर,health,15,180,60\n"
        "ration,Ration,राशन,food,30,360,60\n"
        ",No code,,health,,,\n"
        "oxygen,Oxygen,ऑक्सीजन,health,soon,120,30\n"
    )
    with pytest.raises(ImportFailed) as failed:
        load_csv(session, "categories", io.StringIO(text))
    assert failed.value.report.errors == [
        "line 3: unknown department 'food'",
        "line 4: 'code' is empty",
        "line 5: invalid literal for int() with base 10: 'soon'",
    ]
    session.commit()
    assert session.scalar(select(func.count()).select_from(Category)) == 0
    assert session.scalar(select(func.count()).select_from(Department)) == 1


def test_it_reports_missing_columns(session: Session) -> None:
    with pytest.raises(ImportFailed) as failed:
        load_csv(session, "officers", io.StringIO("username,name\nasha,Asha\n"))
    assert failed.value.report.errors == ["line 1: missing columns department"]


def test_it_keeps_an_officers_phone_as_an_indian_number(session: Session) -> None:
    load(session, "departments", "code,name\nhealth,Health\n")
    header = "username,name,department,phone\n"
    with pytest.raises(ImportFailed) as failed:
        load_csv(session, "officers", io.StringIO(header + "asha,Asha,health,+1 415 555 0100\n"))
    assert failed.value.report.errors == ["line 2: invalid phone number '+1 415 555 0100'"]
    session.rollback()
    load(session, "officers", header + "asha,Asha,health,९४२५१ ००००१\nravi,Ravi,health,\n")
    phones = {user.username: user.phone for user in session.scalars(select(User))}
    assert phones == {"asha": "+919425100001", "ravi": ""}
