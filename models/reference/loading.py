"""Loading reference data (departments, places, categories, officers) from CSV: all rows or none."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.cases.lifecycle import Step
from models.config import LANGUAGES
from models.duty.roster import OverlappingShift, check_shift, india_time, overlapping
from models.duty.tables import DutyShift
from models.normalize import e164
from models.oversight.tables import Audience, EscalationRung
from models.reference.tables import Block, Category, Department, Role, User, Village


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    errors: list[str] = field(default_factory=list)


class ImportFailed(Exception):
    def __init__(self, report: ImportReport) -> None:
        super().__init__("; ".join(report.errors))
        self.report = report


def filled_rows(
    rows: Iterable[dict[str, str]], columns: Sequence[str], required: Sequence[str], report: ImportReport
) -> Iterator[tuple[int, dict[str, str]]]:
    """(line, stripped cells) of each row; a row with an empty required cell goes to report.errors."""
    for line, row in enumerate(rows, start=2):  # line 1 is the header
        cells = {k: (row.get(k) or "").strip() for k in columns}
        problems = [f"'{n}' is empty" for n in required if not cells[n]] + _unstorable(cells)
        if problems:
            report.errors.append(f"line {line}: {', '.join(problems)}")
            continue
        yield line, cells


NUL = "\x00"


def _unstorable(row: dict[str, str]) -> list[str]:
    """Cells holding a NUL (a binary file's bytes, a broken export): no text column can keep one."""
    return [
        f"'{name}' holds a NUL character, which cannot be saved"
        for name, v in row.items()
        if NUL in (v or "")
    ]


def _required(row: dict[str, str], *names: str) -> list[str]:
    return [f"'{n}' is empty" for n in names if not (row.get(n) or "").strip()]


def _department(session: Session, row: dict[str, str]) -> str | None:
    code = row["code"].strip()
    dept = session.scalar(select(Department).where(Department.code == code))
    if dept is None:
        session.add(
            Department(code=code, name=row["name"].strip(), name_hi=(row.get("name_hi") or "").strip())
        )
        return "created"
    dept.name, dept.name_hi = row["name"].strip(), (row.get("name_hi") or "").strip()
    return "updated"


def _village(session: Session, row: dict[str, str]) -> str | None:
    block = session.scalar(select(Block).where(Block.name == row["block"].strip()))
    if block is None:
        block = Block(name=row["block"].strip(), name_hi=(row.get("block_hi") or "").strip())
        session.add(block)
        session.flush()
    village = session.scalar(
        select(Village).where(Village.block_id == block.id, Village.name == row["village"].strip())
    )
    if village is None:
        session.add(
            Village(
                block_id=block.id, name=row["village"].strip(), name_hi=(row.get("village_hi") or "").strip()
            )
        )
        return "created"
    village.name_hi = (row.get("village_hi") or "").strip()
    return "updated"


def _minutes(row: dict[str, str], name: str, default: int, unit: str = "minutes") -> int:
    raw = (row.get(name) or "").strip()
    if not raw:
        return default
    value = int(raw)  # ValueError is reported with the line
    if value <= 0:
        raise ValueError(f"'{name}' must be a positive number of {unit}")
    return value


def _category(session: Session, row: dict[str, str]) -> str | None:
    dept = session.scalar(select(Department).where(Department.code == row["department"].strip()))
    if dept is None:
        raise ValueError(f"unknown department '{row['department'].strip()}'")
    values = dict(
        name=row["name"].strip(),
        name_hi=(row.get("name_hi") or "").strip(),
        department_id=dept.id,
        assign_minutes=_minutes(row, "assign_minutes", 30),
        resolve_minutes=_minutes(row, "resolve_minutes", 360),
        confirm_minutes=_minutes(row, "confirm_minutes", 120),
        urgent_minutes=_minutes(row, "urgent_minutes", 60),
        reopen_days=_minutes(row, "reopen_days", 7, unit="days"),
        callback_minutes=_minutes(row, "callback_minutes", 120),
        callback_tries=_minutes(row, "callback_tries", 3, unit="tries"),
        ack_minutes=_minutes(row, "ack_minutes", 10),
    )
    category = session.scalar(select(Category).where(Category.code == row["code"].strip()))
    if category is None:
        session.add(Category(code=row["code"].strip(), **values))
        return "created"
    for key, value in values.items():
        setattr(category, key, value)
    return "updated"


def _rung(session: Session, row: dict[str, str]) -> str | None:
    step = (row.get("step") or "").strip() or None
    if step is not None and step not in {s.value for s in Step}:
        raise ValueError(f"unknown step '{step}' (dm, officer, collector, or empty for every step)")
    audience = row["audience"].strip()
    if audience not in Audience.ALL:
        raise ValueError(f"unknown audience '{audience}' ({', '.join(Audience.ALL)})")
    percent = _minutes(row, "percent", 100, unit="percent")
    active = (row.get("active") or "yes").strip().lower() not in ("no", "false", "0")
    rung = session.scalar(
        select(EscalationRung).where(
            EscalationRung.step.is_(None) if step is None else EscalationRung.step == step,
            EscalationRung.percent == percent,
            EscalationRung.audience == audience,
        )
    )
    if rung is None:
        session.add(EscalationRung(step=step, percent=percent, audience=audience, active=active))
        return "created"
    rung.active = active
    return "updated"


def _phone(typed: str) -> str:
    """An officer's phone as E.164 (the roster shows it as a tel: link), or "" when none is given."""
    try:
        return e164(typed) if typed else ""
    except ValueError:
        raise ValueError(f"invalid phone number '{typed}'") from None


def _officer(session: Session, row: dict[str, str]) -> str | None:
    dept = session.scalar(select(Department).where(Department.code == row["department"].strip()))
    if dept is None:
        raise ValueError(f"unknown department '{row['department'].strip()}'")
    language = (row.get("language") or "en").strip() or "en"
    if language not in LANGUAGES:
        raise ValueError("'language' must be en or hi")
    values = dict(
        name=row["name"].strip(),
        department_id=dept.id,
        designation=(row.get("designation") or "").strip(),
        phone=_phone((row.get("phone") or "").strip()),
        notify_urls="\n".join(u.strip() for u in (row.get("notify_urls") or "").split() if u.strip()),
        language=language,
    )
    user = session.scalar(select(User).where(User.username == row["username"].strip()))
    if user is None:
        session.add(User(username=row["username"].strip(), role=Role.officer, **values))
        return "created"
    if user.role != Role.officer:
        raise ValueError(f"user '{user.username}' exists and is not an officer")
    for key, value in values.items():
        setattr(user, key, value)
    return "updated"


def _shift(session: Session, row: dict[str, str]) -> str | None:
    username = row["username"].strip()
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise ValueError(f"unknown user '{username}'")
    duty = row["duty"].strip()
    starts_at, ends_at = india_time(row["starts_at"]), india_time(row["ends_at"])
    check_shift(user, duty, starts_at, ends_at)
    same = select(DutyShift.id).where(
        DutyShift.user_id == user.id,
        DutyShift.duty == duty,
        DutyShift.starts_at == starts_at,
        DutyShift.ends_at == ends_at,
    )
    if session.scalar(same) is not None:
        return "updated"  # the same file loaded again adds nothing
    clash = overlapping(session, user, duty, starts_at, ends_at)
    if clash is not None:
        raise OverlappingShift(user, clash)
    session.add(DutyShift(user_id=user.id, duty=duty, starts_at=starts_at, ends_at=ends_at))
    return "created"


LOADERS: dict[str, tuple[tuple[str, ...], Callable[[Session, dict[str, str]], str | None]]] = {
    "departments": (("code", "name"), _department),
    "villages": (("block", "village"), _village),
    "categories": (("code", "name", "department"), _category),
    "officers": (("username", "name", "department"), _officer),
    "ladder": (("percent", "audience"), _rung),
    "duty": (("username", "duty", "starts_at", "ends_at"), _shift),
}


def load_rows(session: Session, kind: str, rows: Iterable[dict[str, str]]) -> ImportReport:
    """Upsert rows of kind. :raise ImportFailed: any bad row (with its line); nothing is kept then."""
    required, loader = LOADERS[kind]
    report = ImportReport()
    for line, row in enumerate(rows, start=2):  # line 1 is the header
        problems = _required(row, *required) + _unstorable(row)
        if problems:
            report.errors.append(f"line {line}: {', '.join(problems)}")
            continue
        # Loaders check a row before they write it, so no savepoint is needed (pysqlite's
        # SAVEPOINT handling would commit a released one on SQLite anyway).
        try:
            outcome = loader(session, row)
            session.flush()
        except (ValueError, KeyError) as exc:
            report.errors.append(f"line {line}: {exc}")
            continue
        if outcome == "created":
            report.created += 1
        else:
            report.updated += 1
    if report.errors:
        session.rollback()
        raise ImportFailed(report)
    return report


def load_csv(session: Session, kind: str, stream: IO[str]) -> ImportReport:
    reader = csv.DictReader(stream)
    missing = [c for c in LOADERS[kind][0] if c not in (reader.fieldnames or [])]
    if missing:
        raise ImportFailed(ImportReport(errors=[f"line 1: missing columns {', '.join(missing)}"]))
    return load_rows(session, kind, reader)
