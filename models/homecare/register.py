"""The home-isolation register as CSV, from the health department's list: all rows or none.

Every row is checked first (each bad one reported with its line), then the rows are written in
chunks, so a caller can show progress on a large file and commit once at the end.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import IO, Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from models.desk.tables import Contact, ContactRole
from models.homecare.tables import (
    FollowUp,
    FollowUpStatus,
    Patient,
    PatientStatus,
)
from models.normalize import e164, search_key
from models.reference.loading import ImportFailed, ImportReport, filled_rows
from models.reference.tables import Village
from models.reference.villages import VillageIndex
from models.times import FIRST_DAY, LAST_DAY, DayOutOfRange, entered_day

ISOLATION_DAYS = 7  # the planned end when the list gives none (home isolation guidance)
CHUNK = 500  # rows per executemany, and per progress report
COLUMNS = (
    "health_id", "name", "age", "sex", "phone", "block", "village", "village_id", "address",
    "test_date", "isolation_start", "isolation_end", "conditions", "mitanin_phone",
)  # fmt: skip
REQUIRED = ("name", "phone", "isolation_start")
SEXES = {"": "", "m": "M", "male": "M", "पुरुष": "M", "f": "F", "female": "F", "महिला": "F", "o": "O"}
SEXES |= {"other": "O", "अन्य": "O"}
# Lengths as the table declares them: PostgreSQL refuses a longer value (a failed import), SQLite keeps it.
HEALTH_ID_MAX: int = Patient.__table__.c.health_id.type.length  # type: ignore[attr-defined]
NAME_MAX: int = Patient.__table__.c.name.type.length  # type: ignore[attr-defined]
DATE = re.compile(
    r"^(?:(?P<d>\d{1,2})[-/.](?P<m>\d{1,2})[-/.](?P<Y>\d{4})|(?P<y>\d{4})-(?P<mo>\d{2})-(?P<da>\d{2}))$"
)


def parse_date(raw: str) -> date:
    """DD-MM-YYYY (also with / or .) or YYYY-MM-DD, from FIRST_DAY to LAST_DAY. :raise ValueError: else."""
    match = DATE.match(raw.strip())
    if match is None:
        raise ValueError(f"'{raw}' is not a date (DD-MM-YYYY or YYYY-MM-DD)")
    try:
        if match["y"]:
            return entered_day(date(int(match["y"]), int(match["mo"]), int(match["da"])))
        return entered_day(date(int(match["Y"]), int(match["m"]), int(match["d"])))
    except DayOutOfRange:
        raise ValueError(f"'{raw}' is not between {FIRST_DAY:%d-%m-%Y} and {LAST_DAY:%d-%m-%Y}") from None
    except ValueError:  # no such day, like 30-02-2026
        raise ValueError(f"'{raw}' is not a date (DD-MM-YYYY or YYYY-MM-DD)") from None


@dataclass(frozen=True)
class PatientRow:
    line: int
    health_id: str | None
    values: dict[str, Any]  # Patient columns


class _Mitanins:
    """Contacts by phone; a phone listed for several contacts means its Mitanin entry."""

    def __init__(self, session: Session) -> None:
        self.by_phone: dict[str, int] = {}
        rows = session.execute(
            select(Contact.id, Contact.phone, ContactRole.code)
            .join(Contact.role)
            .where(Contact.active.is_(True))
            .order_by(ContactRole.code != "mitanin", Contact.id)
        )
        for contact_id, phone, _code in rows:
            self.by_phone.setdefault(phone, contact_id)


def _check_row(
    cells: dict[str, str], villages: VillageIndex, village_ids: set[int], mitanins: _Mitanins
) -> dict[str, Any]:
    """The Patient columns of one row. :raise ValueError: the first thing wrong with it."""
    if cells["village_id"]:
        if not cells["village_id"].isdigit() or int(cells["village_id"]) not in village_ids:
            raise ValueError(f"unknown village_id '{cells['village_id']}'")
        village_id = int(cells["village_id"])
    elif cells["village"]:
        village_id = villages.resolve(cells["village"], cells["block"])
    else:
        raise ValueError("'village' is empty")
    try:
        phone = e164(cells["phone"])
    except ValueError:
        raise ValueError(f"invalid phone number '{cells['phone']}'") from None
    if len(cells["health_id"]) > HEALTH_ID_MAX:
        raise ValueError(f"'health_id' is longer than {HEALTH_ID_MAX} characters")
    if len(cells["name"]) > NAME_MAX:
        raise ValueError(f"'name' is longer than {NAME_MAX} characters")
    age = None
    if cells["age"]:
        if not cells["age"].isdigit() or not 0 <= int(cells["age"]) <= 120:
            raise ValueError(f"'age' must be a number of years, not '{cells['age']}'")
        age = int(cells["age"])
    sex = SEXES.get(cells["sex"].lower())
    if sex is None:
        raise ValueError(f"'sex' must be M, F or O, not '{cells['sex']}'")
    start = parse_date(cells["isolation_start"])
    end = parse_date(cells["isolation_end"]) if cells["isolation_end"] else start + timedelta(ISOLATION_DAYS)
    if end < start:
        raise ValueError("'isolation_end' is before 'isolation_start'")
    mitanin_id = None
    if cells["mitanin_phone"]:
        try:
            mitanin_id = mitanins.by_phone.get(e164(cells["mitanin_phone"]))
        except ValueError:
            raise ValueError(f"invalid phone number '{cells['mitanin_phone']}'") from None
        if mitanin_id is None:
            raise ValueError(f"no contact in the directory has the phone '{cells['mitanin_phone']}'")
    return {
        "name": cells["name"],  # exactly as the department wrote it: Hindi is not normalised
        "age": age,
        "sex": sex,
        "phone": phone,
        "village_id": village_id,
        "address": cells["address"],
        "test_date": parse_date(cells["test_date"]) if cells["test_date"] else None,
        "isolation_start": start,
        "isolation_end": end,
        "conditions": cells["conditions"],
        "mitanin_id": mitanin_id,
    }


def _identity(name: str, phone: str, village_id: int) -> tuple[str, str, int]:
    """Who a patient without a health_id is: the same name (as searched), phone and village."""
    return search_key(name), phone, village_id


def check_patient_rows(session: Session, rows: Iterable[dict[str, str]]) -> list[PatientRow]:
    """Check every row without writing. :raise ImportFailed: the bad rows, each with its line.

    A row without a health_id cannot update anyone, so one naming a patient already in isolation
    (or an earlier row) would list that person twice, with two calls a day: it is refused instead.
    """
    villages, mitanins = VillageIndex(session), _Mitanins(session)
    village_ids = set(session.scalars(select(Village.id)))
    isolating = {
        _identity(*row)
        for row in session.execute(
            select(Patient.name, Patient.phone, Patient.village_id).where(
                Patient.status == PatientStatus.isolating
            )
        )
    }
    report, checked, seen = ImportReport(), [], {}
    people: dict[tuple[str, str, int], int] = {}  # each row's identity: its first line
    for line, cells in filled_rows(rows, COLUMNS, REQUIRED, report):
        try:
            values = _check_row(cells, villages, village_ids, mitanins)
        except ValueError as exc:
            report.errors.append(f"line {line}: {exc}")
            continue
        health_id = cells["health_id"] or None
        identity = _identity(values["name"], values["phone"], values["village_id"])
        if health_id is not None:
            if health_id in seen:
                report.errors.append(f"line {line}: same health_id as line {seen[health_id]}")
                continue
            seen[health_id] = line
        elif identity in people:
            report.errors.append(
                f"line {line}: same name, phone and village as line {people[identity]}, and no health_id"
            )
            continue
        elif identity in isolating:
            report.errors.append(
                f"line {line}: already in isolation with this name, phone and village, and no health_id"
            )
            continue
        people.setdefault(identity, line)
        checked.append(PatientRow(line, health_id, values))
    if report.errors:
        raise ImportFailed(report)
    return checked


def write_patients(session: Session, checked: Sequence[PatientRow]) -> Iterator[ImportReport]:
    """Add or update (by health_id) checked rows, a chunk at a time; yield the counts after each."""
    report = ImportReport()
    for start in range(0, len(checked), CHUNK):
        chunk = checked[start : start + CHUNK]
        ids = [r.health_id for r in chunk if r.health_id]
        found = session.execute(select(Patient.health_id, Patient.id).where(Patient.health_id.in_(ids)))
        known = {health_id: patient_id for health_id, patient_id in found}
        new = [{"health_id": r.health_id, **r.values} for r in chunk if r.health_id not in known]
        changed = [{"id": known[r.health_id], **r.values} for r in chunk if r.health_id in known]
        if new:
            session.execute(insert(Patient), new)
        if changed:
            session.execute(update(Patient), changed)
        report.created += len(new)
        report.updated += len(changed)
        yield report


def import_patient_rows(session: Session, rows: Iterable[dict[str, str]]) -> ImportReport:
    """Check then write every row. :raise ImportFailed: any bad row; nothing is written then."""
    return import_checked(session, check_patient_rows(session, rows))


def import_checked(session: Session, checked: Sequence[PatientRow]) -> ImportReport:
    """Write checked rows in one go; return the counts."""
    report = ImportReport()
    for progress in write_patients(session, checked):
        report = progress
    return report


def patient_csv_rows(stream: IO[str]) -> Iterator[dict[str, str]]:
    """The rows of a patients CSV. :raise ImportFailed: a needed column is missing."""
    reader = csv.DictReader(stream)
    fields = reader.fieldnames or []
    missing = [c for c in REQUIRED if c not in fields]
    if "village" not in fields and "village_id" not in fields:
        missing.append("village")
    if missing:
        raise ImportFailed(ImportReport(errors=[f"line 1: missing columns {', '.join(missing)}"]))
    return iter(reader)


def end_follow_ups(session: Session, patient_id: int, status: PatientStatus, now: datetime) -> bool:
    """The patient was admitted or discharged: set their status and cancel the calls still due.

    Return False, changing nothing, when the patient is not isolating any more.
    """
    # Conditional update: of an admission and a discharge at once, the first ends the
    # isolation and the other changes nothing, so neither overwrites the other (rowcount 1).
    result = session.execute(
        update(Patient)
        .where(Patient.id == patient_id, Patient.status == PatientStatus.isolating)
        .values(status=PatientStatus(status), status_since=now)
        .execution_options(synchronize_session="fetch")
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    session.execute(
        update(FollowUp)
        .where(FollowUp.patient_id == patient_id, FollowUp.status == FollowUpStatus.due)
        .values(status=FollowUpStatus.cancelled)
        .execution_options(synchronize_session="fetch")
    )
    return True


def discharge_ended(session: Session, today: date, now: datetime) -> int:
    """Discharge every isolating patient whose isolation ended before today (India). Return how many.

    A patient admitted or discharged by someone else meanwhile keeps that status and is not counted.
    """
    ended = list(
        session.scalars(
            select(Patient.id).where(Patient.status == PatientStatus.isolating, Patient.isolation_end < today)
        )
    )
    return sum(end_follow_ups(session, patient_id, PatientStatus.discharged, now) for patient_id in ended)
