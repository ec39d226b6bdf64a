"""The call-centre desk: every call an operator takes, and the field directory of each village."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from enum import StrEnum

import phonenumbers
from sqlalchemy import (
    ColumnElement,
    ForeignKey,
    Index,
    Select,
    String,
    Text,
    UniqueConstraint,
    and_,
    func,
    or_,
    select,
)
from sqlalchemy.orm import Mapped, Session, contains_eager, mapped_column, relationship, selectinload

from models.case import Case
from models.db import Base
from models.directory import Block, User, Village, utcnow


class CallKind(StrEnum):
    information = "information"
    complaint = "complaint"
    follow_up = "follow_up"  # a home-isolation follow-up
    emergency = "emergency"
    other = "other"


class Call(Base):
    """One logged call. Rows are only ever inserted."""

    __tablename__ = "calls"
    __table_args__ = (
        Index("ix_calls_created_kind", "created_at", "kind"),
        Index("ix_calls_phone_created", "phone", "created_at"),
        Index("ix_calls_by_user_created", "by_user_id", "created_at"),  # an operator's recent calls
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(20))  # E.164
    caller_name: Mapped[str] = mapped_column(String(120), default="")
    village_id: Mapped[int | None] = mapped_column(ForeignKey("villages.id"))
    kind: Mapped[CallKind] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")
    duration_seconds: Mapped[int] = mapped_column(default=0)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    by_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    village: Mapped[Village | None] = relationship()
    case: Mapped[Case | None] = relationship()
    by_user: Mapped[User] = relationship()


class ContactRole(Base):
    """A kind of field contact (Mitanin, Sarpanch, ...): rows, so a district adds its own."""

    __tablename__ = "contact_roles"
    __table_args__ = (UniqueConstraint("code", name="uq_contact_roles_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(120))
    name_hi: Mapped[str] = mapped_column(String(120), default="")


# Prefix searches are range scans on a plain B-tree index (key >= p AND key < p'), the same SQL on
# SQLite and PostgreSQL. They need byte order: SQLite's BINARY collation has it, PostgreSQL gets "C".
SEARCH_KEY = String(120).with_variant(String(120, collation="C"), "postgresql")
PHONE_KEY = String(20).with_variant(String(20, collation="C"), "postgresql")


class Contact(Base):
    """A village's monitoring contact: its Mitanin, Sarpanch, panchayat Secretary, ANM, ..."""

    __tablename__ = "contacts"
    __table_args__ = (
        # One person per role and phone in a village; also the index of a village's contacts.
        UniqueConstraint("village_id", "role_id", "phone", name="uq_contacts_village_role_phone"),
        Index("ix_contacts_phone", "phone"),
        Index("ix_contacts_name_key", "name_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id", name="fk_contacts_village_id_villages"))
    role_id: Mapped[int] = mapped_column(
        ForeignKey("contact_roles.id", name="fk_contacts_role_id_contact_roles")
    )
    name: Mapped[str] = mapped_column(String(120))  # exactly as entered
    name_key: Mapped[str] = mapped_column(SEARCH_KEY)  # search_key(name)
    phone: Mapped[str] = mapped_column(PHONE_KEY)  # E.164
    active: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    village: Mapped[Village] = relationship()
    role: Mapped[ContactRole] = relationship()


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


def e164(value: str) -> str:
    """Parse an Indian (or +country) number to E.164, or raise ValueError."""
    try:
        number = phonenumbers.parse(value, "IN")
    except phonenumbers.NumberParseException as exc:
        raise ValueError(str(exc)) from exc
    if not phonenumbers.is_valid_number(number):
        raise ValueError("invalid number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def search_key(text: str) -> str:
    """What a name is searched by: NFC, case-folded, single spaces (Hindi is unchanged by folding)."""
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


def _starts_with(column: ColumnElement[str], prefix: str) -> ColumnElement[bool]:
    """column starts with prefix, as a range an ordinary index answers (byte order)."""
    last = ord(prefix[-1])
    following = 0x10FFFF if 0xD7FF <= last < 0xE000 or last >= 0x10FFFF else last + 1
    return and_(column >= prefix, column < prefix[:-1] + chr(following))


# ---- calls


def log_call(
    session: Session,
    *,
    phone: str,
    kind: CallKind,
    by: User,
    now: datetime,
    caller_name: str = "",
    village_id: int | None = None,
    note: str = "",
    duration_seconds: int = 0,
) -> Call:
    """Record one call (phone in E.164). Never commits."""
    call = Call(
        phone=phone,
        caller_name=caller_name,
        village_id=village_id,
        kind=CallKind(kind),
        note=note,
        duration_seconds=duration_seconds,
        by_user_id=by.id,
        created_at=now,
    )
    session.add(call)
    session.flush()
    return call


@dataclass(frozen=True)
class CallerHistory:
    calls: list[Call]
    cases: list[Case]
    contacts: list[Contact]  # the caller is in the field directory

    def __bool__(self) -> bool:
        return bool(self.calls or self.cases or self.contacts)


def caller_history(session: Session, phone: str, limit: int = 10) -> CallerHistory:
    """The earlier calls and the cases of a phone (E.164), newest first, and its directory entries."""
    calls = session.scalars(
        select(Call)
        .options(selectinload(Call.village))
        .where(Call.phone == phone)
        .order_by(Call.created_at.desc(), Call.id.desc())
        .limit(limit)
    )
    cases = session.scalars(
        select(Case)
        .options(selectinload(Case.category))
        .where(Case.phone == phone)
        .order_by(Case.created_at.desc())
        .limit(limit)
    )
    contacts = session.scalars(
        select(Contact)
        .options(selectinload(Contact.village), selectinload(Contact.role))
        .where(Contact.phone == phone, Contact.active.is_(True))
        .limit(limit)
    )
    return CallerHistory(list(calls), list(cases), list(contacts))


def recent_calls(session: Session, user: User, limit: int = 20) -> list[Call]:
    """The calls user logged last, newest first."""
    query = select(Call).options(selectinload(Call.village), selectinload(Call.case))
    query = query.where(Call.by_user_id == user.id)
    return list(session.scalars(query.order_by(Call.created_at.desc(), Call.id.desc()).limit(limit)))


def call_counts(session: Session, start: datetime, end: datetime, tz: tzinfo) -> Counter[tuple[date, str]]:
    """Calls per (local day, kind) logged in [start, end) (UTC, naive as stored)."""
    rows = session.execute(
        select(Call.created_at, Call.kind).where(Call.created_at >= start, Call.created_at < end)
    )
    # Days are the district's days (IST), so count here rather than with each database's date maths;
    # the (created_at, kind) index covers the query.
    counts: Counter[tuple[date, str]] = Counter()
    for created_at, kind in rows:
        local = (created_at if created_at.tzinfo else created_at.replace(tzinfo=UTC)).astimezone(tz)
        counts[(local.date(), str(kind))] += 1
    return counts


# ---- villages, by name as an operator types it


class UnknownVillage(ValueError):
    """No village has that name."""


class AmbiguousVillage(ValueError):
    """Several villages (in different blocks) have that name."""

    def __init__(self, villages: list[Village]) -> None:
        super().__init__(", ".join(f"{v.name} ({v.block.name})" for v in villages))
        self.villages = villages


BLOCK_SUFFIX = re.compile(r"^(?P<village>.+?)\s*\((?P<block>[^()]+)\)\s*$")


def find_villages(session: Session, text: str, limit: int = 20) -> list[Village]:
    """Villages whose English or Hindi name starts with text, by name."""
    query = villages_starting(text)
    if query is None:
        return []
    query = query.join(Village.block).options(contains_eager(Village.block))
    return list(session.scalars(query.order_by(Village.name, Block.name).limit(limit)))


def villages_starting(text: str) -> Select[tuple[Village]] | None:
    key = search_key(text)
    if not key:
        return None
    # 10,000 villages: a scan of lower(name) costs a few ms, and villages.py keeps no search key.
    return select(Village).where(
        or_(
            func.lower(Village.name).startswith(key, autoescape=True),
            Village.name_hi.startswith(unicodedata.normalize("NFC", text.strip()), autoescape=True),
        )
    )


def resolve_village(session: Session, text: str) -> Village:
    """The village named text: "Chando", "चांदो" or, when the name is in two blocks, "Chando (Pratappur)".

    :raise UnknownVillage: no such village. :raise AmbiguousVillage: the block is needed.
    """
    name, block = text.strip(), ""
    match = BLOCK_SUFFIX.match(name)
    if match:
        name, block = match["village"], match["block"].strip()
    name = unicodedata.normalize("NFC", name)
    query = (
        select(Village)
        .join(Village.block)
        .options(contains_eager(Village.block))
        .where(or_(Village.name == name, func.lower(Village.name) == name.lower(), Village.name_hi == name))
    )
    if block:
        query = query.where(or_(func.lower(Block.name) == block.lower(), Block.name_hi == block))
    found = list(session.scalars(query.order_by(Block.name)))
    if not found:
        raise UnknownVillage(text.strip())
    if len(found) > 1:
        raise AmbiguousVillage(found)
    return found[0]


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


def search_contacts(
    session: Session, text: str, limit: int = 50, village_id: int | None = None
) -> list[Contact]:
    """Active contacts by the digits of their phone, or by name, then by village name (English or Hindi).

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
    by_village = base.order_by(Village.name, Block.name, ContactRole.id, Contact.name_key, Contact.id)
    if not text:
        # Nothing typed: one village's contacts, or none (not a list of 50,000).
        return list(session.scalars(by_village.limit(limit))) if village_id is not None else []
    named = base.where(_starts_with(Contact.name_key, search_key(text)))
    by_name = list(session.scalars(named.order_by(Contact.name_key, Contact.id).limit(limit)))
    villages = villages_starting(text)
    assert villages is not None
    first = villages.with_only_columns(Village.id).order_by(Village.name).limit(VILLAGES_SEARCHED)
    in_villages = by_village.where(Contact.village_id.in_(first.scalar_subquery()))
    seen = {c.id for c in by_name}
    by_place = [c for c in session.scalars(in_villages.limit(limit)) if c.id not in seen]
    # "Ram" is both Ramesh and Rampur: when both match, each gets at least half the list.
    names = max(limit // 2, limit - len(by_place))
    return by_name[:names] + by_place[: limit - min(names, len(by_name))]
