"""Calls: logging one, and a caller's earlier calls and cases as the number is typed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    select,
)
from sqlalchemy.orm import Session, selectinload

from models.cases.tables import Case
from models.desk.tables import Call, CallKind, Contact
from models.reference.tables import User

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
