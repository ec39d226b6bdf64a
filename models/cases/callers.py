"""Many callers, one problem: the open cases an intake looks like, and a caller attached to one.

When a village's oxygen fails, twenty people call. The intake form shows the open cases that look
like the same problem (same caller; same village and category; the complaint's words, through the
case search's trigram index), and the operator attaches the call to one of them instead of opening
a new case: the caller becomes one more caller of that case, is told its number, and hears of its
later steps like its own caller.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from models.cases.lifecycle import WAITING_ON, State
from models.cases.search import matches_text
from models.cases.tables import Case, CaseCaller, CaseEvent
from models.messages import CallerMessage

RECENT = timedelta(days=14)  # older open cases are rarely the same event
SHOWN = 5
WORD = re.compile(r"\w{4,}")  # words of four letters or more (Devanagari's too) say what it is about
WORDS = 3  # the longest few of them are looked for


@dataclass(frozen=True)
class Likely:
    case: Case
    same_caller: bool
    same_place: bool  # the same village and category
    words: int  # how many of the complaint's words its text holds

    @property
    def score(self) -> int:
        return 4 * self.same_caller + 3 * self.same_place + self.words


def _words(text: str) -> list[str]:
    unique = {w.casefold(): w for w in WORD.findall(text or "")}
    return sorted(unique.values(), key=len, reverse=True)[:WORDS]


def likely_same(
    session: Session,
    now: datetime,
    *,
    village_id: int | None = None,
    category_id: int | None = None,
    phone: str = "",
    text: str = "",
) -> list[Likely]:
    """The open cases of the last two weeks that look like this intake's problem, likeliest first."""
    words = _words(text)
    alike = []
    if phone:
        alike.append(Case.phone == phone)
    if village_id and category_id:
        alike.append((Case.village_id == village_id) & (Case.category_id == category_id))
    alike += [matches_text(word) for word in words]
    if not alike:
        return []
    open_states = [s.value for s in WAITING_ON]
    candidates = session.scalars(
        select(Case)
        .where(Case.state.in_(open_states), Case.created_at >= now - RECENT, or_(*alike))
        .order_by(Case.created_at.desc())
        .limit(50)
    ).all()
    found = [
        Likely(
            case,
            same_caller=bool(phone) and case.phone == phone,
            same_place=case.village_id == village_id and case.category_id == category_id,
            words=sum(word.casefold() in (case.description or "").casefold() for word in words),
        )
        for case in candidates
    ]
    found = [f for f in found if f.score > 0]
    return sorted(found, key=lambda f: (-f.score, f.case.created_at))[:SHOWN]


class NotOpen(Exception):
    """The case closed (or was rejected) since it was suggested: open a new case instead."""


def attach_caller(
    session: Session,
    case: Case,
    *,
    caller_name: str,
    phone: str,
    language: str,
    by_user_id: int,
    now: datetime,
    text_caller: bool,
) -> CaseCaller:
    """Add a caller to an open case: an event in its history, and (text_caller) their text with its number.

    A caller already on the case (its own or attached) is not added twice: their row is returned.
    Never commits. :raise NotOpen: the case no longer waits on anyone.
    """
    if State(case.state) not in WAITING_ON:
        raise NotOpen(case.number)
    existing = session.scalars(
        select(CaseCaller).where(CaseCaller.case_id == case.id, CaseCaller.phone == phone)
    ).first()
    if existing is not None:
        return existing
    event = CaseEvent(
        case_id=case.id,
        kind="caller_added",
        from_state=case.state,
        to_state=case.state,
        by_user_id=by_user_id,
        text=caller_name,
        created_at=now,
    )
    session.add(event)
    session.flush()
    caller = CaseCaller(
        case_id=case.id,
        event_id=event.id,
        caller_name=caller_name,
        phone=phone,
        language=language,
        created_at=now,
    )
    session.add(caller)
    if text_caller and phone != case.phone:
        # Due now: the send-retries run sends it (the caller's outbox row starts one at once).
        text = CallerMessage(case_id=case.id, event_id=event.id, phone=phone, language=language, channel="")
        session.add(text)
    session.flush()
    return caller


def told_of(session: Session, case: Case, event: CaseEvent) -> list[tuple[str, str]]:
    """The (phone, language) of every caller who hears of this event of the case.

    An attachment is told to the caller attached; any other step to the case's own caller and to
    each caller attached before it.
    """
    if event.kind == "caller_added":
        return [
            (c.phone, c.language)
            for c in session.scalars(select(CaseCaller).where(CaseCaller.event_id == event.id))
        ]
    attached = session.scalars(
        select(CaseCaller)
        .where(CaseCaller.case_id == case.id, CaseCaller.event_id < event.id)
        .order_by(CaseCaller.id)
    ).all()
    told = [(case.phone, case.language)]
    told += [(c.phone, c.language) for c in attached if c.phone != case.phone]
    return told


def callers_of(session: Session, case: Case) -> list[tuple[str, str, str]]:
    """(phone, name, language) of the case's own caller and of each caller attached to it, once each."""
    found = {case.phone: (case.phone, case.caller_name, case.language)}
    for c in session.scalars(select(CaseCaller).where(CaseCaller.case_id == case.id).order_by(CaseCaller.id)):
        found.setdefault(c.phone, (c.phone, c.caller_name, c.language))
    return list(found.values())
