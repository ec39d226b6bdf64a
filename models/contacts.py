"""The field directory as CSV: load (all rows or none, each bad row with its line) and export."""

from __future__ import annotations

import csv
import unicodedata
from collections.abc import Iterable
from typing import IO

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from models.desk import Contact, ContactRole, e164, ensure_roles, search_key
from models.directory import Block, Village
from models.reference import ImportFailed, ImportReport, filled_rows

COLUMNS = ("block", "village", "village_hi", "role", "name", "phone", "active")
REQUIRED = ("village", "role", "name", "phone")
YES = {"", "yes", "y", "true", "1", "हाँ", "हां"}
NO = {"no", "n", "false", "0", "नहीं"}
CHUNK = 1000  # rows per executemany


class _Villages:
    """Every village by English (any case) and Hindi name, so 50,000 rows need no query each."""

    def __init__(self, session: Session) -> None:
        self.by_name: dict[str, list[tuple[int, str, str]]] = {}
        rows = session.execute(
            select(Village.id, Village.name, Village.name_hi, Block.name, Block.name_hi).join(Village.block)
        )
        for village_id, name, name_hi, block, block_hi in rows:
            entry = (village_id, block, block_hi)
            self.by_name.setdefault(search_key(name), []).append(entry)
            if name_hi:
                self.by_name.setdefault(search_key(name_hi), []).append(entry)

    def resolve(self, village: str, block: str) -> int:
        found = {e[0]: e for e in self.by_name.get(search_key(village), [])}.values()
        if block:
            wanted = search_key(block)
            found = [e for e in found if wanted in (search_key(e[1]), search_key(e[2]))]
        if not found:
            raise ValueError(f"unknown village '{village}'" + (f" in block '{block}'" if block else ""))
        if len(found) > 1:
            blocks = ", ".join(sorted(e[1] for e in found))
            raise ValueError(f"village '{village}' is in several blocks ({blocks}): give the block")
        return next(iter(found))[0]


def _roles(session: Session) -> dict[str, int]:
    roles: dict[str, int] = {}
    for role in session.scalars(select(ContactRole)):
        for name in (role.code, role.name, role.name_hi):
            if name:
                roles[search_key(name)] = role.id
    return roles


def _active(raw: str) -> bool:
    value = search_key(raw)
    if value in YES:
        return True
    if value in NO:
        return False
    raise ValueError(f"'active' must be yes or no, not '{raw}'")


def load_contact_rows(session: Session, rows: Iterable[dict[str, str]]) -> ImportReport:
    """Add or update contacts, keyed by village, role and phone. Never commits.

    :raise ImportFailed: any bad row (with its line); nothing is written then.
    """
    villages, roles = _Villages(session), _roles(session)
    existing = {
        (v, r, p): (i, n, a)
        for i, v, r, p, n, a in session.execute(
            select(
                Contact.id, Contact.village_id, Contact.role_id, Contact.phone, Contact.name, Contact.active
            )
        )
    }
    report = ImportReport()
    new: list[dict[str, object]] = []
    changed: list[dict[str, object]] = []
    seen: dict[tuple[int, int, str], int] = {}
    for line, cells in filled_rows(rows, COLUMNS, REQUIRED, report):
        try:
            village_id = villages.resolve(cells["village"], cells["block"])
            role_id = roles.get(search_key(cells["role"]))
            if role_id is None:
                raise ValueError(f"unknown role '{cells['role']}'")
            try:
                phone = e164(cells["phone"])
            except ValueError:
                raise ValueError(f"invalid phone number '{cells['phone']}'") from None
            if len(cells["name"]) > 120:
                raise ValueError("'name' is longer than 120 characters")
            active = _active(cells["active"])
        except ValueError as exc:
            report.errors.append(f"line {line}: {exc}")
            continue
        key = (village_id, role_id, phone)
        if key in seen:
            report.errors.append(f"line {line}: same village, role and phone as line {seen[key]}")
            continue
        seen[key] = line
        name = unicodedata.normalize("NFC", cells["name"])
        values = {"name": name, "name_key": search_key(name), "active": active}
        if key in existing:
            report.updated += 1
            contact_id, old_name, old_active = existing[key]
            if (old_name, old_active) != (name, active):
                changed.append({"id": contact_id, **values})
        else:
            report.created += 1
            new.append({"village_id": village_id, "role_id": role_id, "phone": phone, **values})
    if report.errors:
        raise ImportFailed(report)
    for i in range(0, len(new), CHUNK):
        session.execute(insert(Contact), new[i : i + CHUNK])
    for i in range(0, len(changed), CHUNK):
        session.execute(update(Contact), changed[i : i + CHUNK])
    return report


def load_contacts(session: Session, stream: IO[str]) -> ImportReport:
    """Load a contacts CSV (block,village,role,name,phone,active; village_hi is ignored)."""
    reader = csv.DictReader(stream)
    missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
    if missing:
        raise ImportFailed(ImportReport(errors=[f"line 1: missing columns {', '.join(missing)}"]))
    return load_contact_rows(session, reader)


def export_contacts(session: Session, stream: IO[str]) -> int:
    """Write every contact as CSV, in the columns load_contacts reads. Return how many."""
    writer = csv.writer(stream)
    writer.writerow(COLUMNS)
    rows = session.execute(
        select(
            Block.name,
            Village.name,
            Village.name_hi,
            ContactRole.code,
            Contact.name,
            Contact.phone,
            Contact.active,
        )
        .select_from(Contact)
        .join(Contact.village)
        .join(Village.block)
        .join(Contact.role)
        .order_by(Block.name, Village.name, ContactRole.id, Contact.name_key, Contact.id)
    )
    count = 0
    for block, village, village_hi, role, name, phone, active in rows:
        writer.writerow((block, village, village_hi, role, name, phone, "yes" if active else "no"))
        count += 1
    return count


def load_roles(session: Session, stream: IO[str]) -> int:
    """Add or rename contact roles from a CSV (code,name,name_hi). Return how many rows."""
    rows = [
        {k: (row.get(k) or "").strip() for k in ("code", "name", "name_hi")} for row in csv.DictReader(stream)
    ]
    bad = [
        f"line {n}: 'code' and 'name' are needed"
        for n, r in enumerate(rows, 2)
        if not (r["code"] and r["name"])
    ]
    if bad:
        raise ImportFailed(ImportReport(errors=bad))
    ensure_roles(session, rows)
    return len(rows)
