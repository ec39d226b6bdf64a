"""The field directory: contact roles, searching contacts by phone, name or village, and its CSV."""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Iterable
from typing import IO

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session, contains_eager

from models.desk.tables import Contact, ContactRole
from models.normalize import e164, search_key
from models.reference.loading import ImportFailed, ImportReport, filled_rows
from models.reference.tables import Block, Village
from models.reference.villages import VillageIndex, villages_starting
from models.spreadsheet import as_written
from models.spreadsheet import row as inert_row

COLUMNS = ("block", "village", "village_hi", "role", "name", "phone", "active")
REQUIRED = ("village", "role", "name", "phone")
YES = {"", "yes", "y", "true", "1", "हाँ", "हां"}
NO = {"no", "n", "false", "0", "नहीं"}
CHUNK = 1000  # rows per executemany


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
    villages, roles = VillageIndex(session), _roles(session)
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
        # A name our own export quoted (models/spreadsheet.py) loads back as it was written.
        name = unicodedata.normalize("NFC", as_written(cells["name"]))
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
        writer.writerow(inert_row((block, village, village_hi, role, name, phone, "yes" if active else "no")))
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


DEFAULT_ROLES = [  # also seeded by migration 0003
    {"code": "mitanin", "name": "Mitanin", "name_hi": "मितानिन"},
    {"code": "sarpanch", "name": "Sarpanch", "name_hi": "सरपंच"},
    {"code": "secretary", "name": "Panchayat Secretary", "name_hi": "पंचायत सचिव"},
    {"code": "anm", "name": "ANM", "name_hi": "एएनएम"},
]


def ensure_roles(session: Session, roles: Iterable[dict[str, str]] = DEFAULT_ROLES) -> None:
    """Add or rename contact roles by code."""
    existing = {r.code: r for r in session.scalars(select(ContactRole))}
    for row in roles:
        role = existing.get(row["code"]) or ContactRole(code=row["code"])
        role.name, role.name_hi = row["name"], row.get("name_hi", "")
        session.add(role)
    session.flush()


def _starts_with(column: ColumnElement[str], prefix: str) -> ColumnElement[bool]:
    """column starts with prefix, as a range an ordinary index answers (byte order)."""
    last = ord(prefix[-1])
    following = 0x10FFFF if 0xD7FF <= last < 0xE000 or last >= 0x10FFFF else last + 1
    return and_(column >= prefix, column < prefix[:-1] + chr(following))


# ---- the field directory


def _phone_prefixes(text: str) -> list[str]:
    """The E.164 prefixes typed digits can start: "98765" and "098765" are Indian numbers."""
    digits = re.sub(r"\D", "", text)
    if text.strip().startswith("+"):
        return ["+" + digits]
    national = digits[1:] if digits.startswith("0") else digits
    prefixes = ["+91" + national]
    if digits.startswith("91") and len(digits) > 2:
        prefixes.append("+" + digits)  # the country code typed without "+"
    return prefixes


PHONE_LIKE = re.compile(r"^[\d\s()+\-]+$")


VILLAGES_SEARCHED = 100  # the first villages (by name) whose contacts a village search lists


def _contacts() -> Select[tuple[Contact]]:
    """Active contacts with their village, block and role in the same row."""
    return (
        select(Contact)
        .join(Contact.village)
        .join(Village.block)
        .join(Contact.role)
        .options(contains_eager(Contact.village).contains_eager(Village.block), contains_eager(Contact.role))
        .where(Contact.active.is_(True))
    )


def _by_village(query: Select[tuple[Contact]]) -> Select[tuple[Contact]]:
    """Contacts village by village, each village's by role, then name: how the directory lists them."""
    return query.order_by(Village.name, Block.name, ContactRole.id, Contact.name_key, Contact.id)


# Words that join a role to a place without naming either: "Sarpanch of Chando", "चांदो का सरपंच".
LINKING_WORDS = frozenset({"of", "in", "at", "the", "ka", "ki", "ke", "का", "की", "के", "में"})
ROLE_PREFIX = 3  # the last word, still being typed, finds roles from this many letters on


def _roles_named(session: Session, text: str) -> tuple[set[int], str]:
    """The roles text names by their words (English or Hindi; the last word may be half typed), and the rest.

    Roles are rows a district adds to, so their names are read each time; they are a handful.
    """
    words = search_key(text).split()
    role_words: dict[str, set[int]] = {}
    for role in session.scalars(select(ContactRole)):
        for name in (role.code.replace("_", " "), role.name, role.name_hi):
            for word in search_key(name).split():
                role_words.setdefault(word, set()).add(role.id)
    roles: set[int] = set()
    rest: list[str] = []
    for i, word in enumerate(words):
        found = role_words.get(word, set())
        if not found and i == len(words) - 1 and len(word) >= ROLE_PREFIX:
            found = {r for name, ids in role_words.items() if name.startswith(word) for r in ids}
        roles |= found
        if not found:
            rest.append(word)
    if not roles:
        return set(), text
    return roles, " ".join(w for w in rest if w not in LINKING_WORDS)


def roles_listed(session: Session) -> list[ContactRole]:
    """The roles some active contact has, in the order they were added: the directory's quick links."""
    listed = select(Contact.id).where(Contact.role_id == ContactRole.id, Contact.active.is_(True)).exists()
    return list(session.scalars(select(ContactRole).where(listed).order_by(ContactRole.id)))


def search_contacts(
    session: Session, text: str, limit: int = 50, village_id: int | None = None
) -> list[Contact]:
    """Active contacts by the digits of their phone, or by role, name and village (English or Hindi).

    A role's name finds its contacts, alone ("Sarpanch") or with the start of a village or a name
    ("sarpanch chando", "मितानिन सुनीता"); then come the contacts the whole text finds by name or village.
    Names and phones are index ranges read in index order, so a short prefix matching thousands
    of contacts costs no more than a long one. Villages are few enough (10,000) to scan.
    """
    text = text.strip()
    base = _contacts()
    if village_id is not None:
        base = base.where(Contact.village_id == village_id)
    if PHONE_LIKE.match(text) and len(re.sub(r"\D", "", text)) >= 3:
        ranges = or_(*(_starts_with(Contact.phone, p) for p in _phone_prefixes(text)))
        return list(session.scalars(base.where(ranges).order_by(Contact.phone).limit(limit)))
    if not text:
        # Nothing typed: one village's contacts, or none (not a list of 50,000).
        return list(session.scalars(_by_village(base).limit(limit))) if village_id is not None else []
    roles, rest = _roles_named(session, text)
    found: list[Contact] = []
    if roles:
        in_roles = base.where(Contact.role_id.in_(roles))
        if rest:
            found = _named_or_placed(session, in_roles, rest, limit)
        else:
            found = list(session.scalars(_by_village(in_roles).limit(limit)))
    seen = {c.id for c in found}
    others = [c for c in _named_or_placed(session, base, text, limit) if c.id not in seen]
    return found + others[: limit - len(found)]


def _named_or_placed(session: Session, base: Select[tuple[Contact]], text: str, limit: int) -> list[Contact]:
    """Contacts of base whose name, or whose village's name, starts with text."""
    named = base.where(_starts_with(Contact.name_key, search_key(text)))
    by_name = list(session.scalars(named.order_by(Contact.name_key, Contact.id).limit(limit)))
    villages = villages_starting(text)
    assert villages is not None
    first = villages.with_only_columns(Village.id).order_by(Village.name).limit(VILLAGES_SEARCHED)
    in_villages = _by_village(base).where(Contact.village_id.in_(first.scalar_subquery()))
    seen = {c.id for c in by_name}
    by_place = [c for c in session.scalars(in_villages.limit(limit)) if c.id not in seen]
    # "Ram" is both Ramesh and Rampur: when both match, each gets at least half the list.
    names = max(limit // 2, limit - len(by_place))
    return by_name[:names] + by_place[: limit - min(names, len(by_name))]
