"""Open311 GeoReport v2 read side: services (categories), their definition, requests (cases) in public fields.

Nothing personal leaves here: no caller name or phone, no officer, and a description only where the
citizen's own client system wrote it (a case filed through the API). Emergencies are not listed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from models.cases.lifecycle import State
from models.cases.tables import Case, Channel
from models.emergency.cases import CATEGORY as EMERGENCY
from models.reference.tables import Category, Department, Village
from models.reference.villages import by_block
from models.times import FIRST_DAY, INDIA, LAST_DAY

MAX_RESULTS = 1000  # the spec's suggested cap on one answer, and on the ids one GET may name
DEFAULT_WINDOW = timedelta(days=90)  # the spec's default span when no start_date is given
W3C = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})?)?$")
CLOSED = (State.closed, State.rejected, State.merged)
STATUS_NOTES = {
    State.awaiting_assignment: "Received; waiting for the District Magistrate to assign an officer.",
    State.assigned: "With the officer of the department responsible.",
    State.callback: "The officer reports it resolved; the control room will call the caller to confirm.",
    State.resolved: "The officer reports it resolved and the caller confirmed; waiting for the Collector.",
    State.closed: "Resolved and confirmed by the Collector.",
    State.rejected: "Not taken up by the District Magistrate.",
    State.merged: "The same problem as another request: handled together with request {into}.",
}


class Refused(ValueError):
    """A request the API answers with an error: its HTTP status and the spec's description."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status, self.description = status, description


def services(session: Session) -> list[Category]:
    """The categories a client may file under (every one but the emergency path), by name."""
    query = (
        select(Category)
        .options(joinedload(Category.department))
        .where(Category.code != EMERGENCY)
        .order_by(Category.name, Category.id)
    )
    return list(session.scalars(query))


def service(session: Session, code: str) -> Category:
    """:raise Refused 404: no such service (the emergency category is none)."""
    category = session.scalar(select(Category).where(Category.code == code)) if code != EMERGENCY else None
    if category is None:
        raise Refused(404, f"service_code {code[:60]!r} not found")
    return category


def service_fields(category: Category) -> dict[str, Any]:
    return {
        "service_code": category.code,
        "service_name": category.name,
        "description": f"{category.name} / {category.name_hi}" if category.name_hi else category.name,
        "metadata": True,  # the village attribute: see definition()
        "type": "realtime",
        "keywords": category.code,
        "group": category.department.name,
    }


def village_label(village: Village) -> str:
    """How a village is named to clients: "Chando (Pratappur)" – the block tells same-named ones apart."""
    return f"{village.name} ({village.block.name})"


def definition(session: Session, category: Category) -> dict[str, Any]:
    """The service definition: one attribute, the caller's village, chosen from the district's villages."""
    return {
        "service_code": category.code,
        "attributes": [
            {
                "variable": True,
                "code": "village",
                "datatype": "singlevaluelist",
                "required": True,
                "datatype_description": "A key below, or the village's name in English or Hindi"
                " (with its block in brackets where two villages share a name).",
                "order": 1,
                "description": "The caller's village",
                "values": [{"key": str(v.id), "name": village_label(v)} for v in by_block(session)],
            }
        ],
    }


def parse_w3(name: str, text: str) -> datetime:
    """A W3C datetime ("2026-11-30", "2026-11-30T10:00:00+05:30"); without a zone, India time.

    :raise Refused 400: not one, or a year outside the control room's (models/times.FIRST_DAY).
    """
    text = text.strip()
    # An unencoded "+05:30" in a query string arrives as " 05:30".
    text = re.sub(r" (\d{2}:\d{2})$", r"+\1", text)
    bad = Refused(400, f"{name} must be a W3C datetime such as 2026-11-30T10:00:00+05:30")
    if not W3C.match(text):
        raise bad
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise bad from None
    if not FIRST_DAY <= moment.date() <= LAST_DAY:
        raise Refused(400, f"{name} must lie between {FIRST_DAY} and {LAST_DAY}")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=INDIA)
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class Query:
    """A GET of requests: by numbers, or by services, statuses and a time window."""

    numbers: Sequence[str] = ()
    service_codes: Sequence[str] = ()
    statuses: Sequence[str] = ()
    start: datetime | None = None
    end: datetime | None = None


def parse_query(args: dict[str, str], now: datetime) -> Query:
    """The GET parameters, checked. :raise Refused 400: a bad one."""
    raw_ids = args.get("service_request_id", "")
    numbers = [n.strip().upper() for n in raw_ids.split(",") if n.strip()]
    if len(numbers) > MAX_RESULTS:
        raise Refused(400, f"at most {MAX_RESULTS} service_request_id values at once, not {len(numbers)}")
    if any(len(n) > 32 for n in numbers):
        raise Refused(400, "a service_request_id is a case number such as SRJ-2026-000123")
    codes = [c.strip() for c in args.get("service_code", "").split(",") if c.strip()]
    statuses = [s.strip().lower() for s in args.get("status", "").split(",") if s.strip()]
    if len(codes) > 100 or any(s not in ("open", "closed") for s in statuses):
        raise Refused(400, "status must be open or closed (or both, comma-separated)")
    end = parse_w3("end_date", args["end_date"]) if args.get("end_date") else None
    start = parse_w3("start_date", args["start_date"]) if args.get("start_date") else None
    if start and end and start > end:
        raise Refused(400, "start_date must not be after end_date")
    if not numbers:
        end = end or now
        start = start or end - DEFAULT_WINDOW
    return Query(numbers, codes, statuses, start, end)


def find_requests(session: Session, query: Query) -> list[Case]:
    """The cases a query names, newest first, at most MAX_RESULTS (never an emergency)."""
    select_cases = (
        select(Case)
        .join(Case.category)
        .options(
            joinedload(Case.category).joinedload(Category.department),
            joinedload(Case.village).joinedload(Village.block),
        )
        .where(Case.emergency.is_(False), Category.code != EMERGENCY)
    )
    if query.numbers:
        select_cases = select_cases.where(Case.number.in_(query.numbers))
    else:
        if query.service_codes:
            select_cases = select_cases.where(Category.code.in_(query.service_codes))
        if query.statuses and len(set(query.statuses)) == 1:
            closed = Case.state.in_(list(CLOSED))
            select_cases = select_cases.where(closed if query.statuses[0] == "closed" else ~closed)
        if query.start is not None:
            select_cases = select_cases.where(Case.created_at >= query.start)
        if query.end is not None:
            select_cases = select_cases.where(Case.created_at <= query.end)
    ordered = select_cases.order_by(Case.created_at.desc(), Case.id.desc()).limit(MAX_RESULTS)
    return list(session.scalars(ordered).unique())


def w3(moment: datetime | None) -> str | None:
    """A stored UTC time as the spec writes it, in India time with its offset."""
    if moment is None:
        return None
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(INDIA).isoformat(timespec="seconds")


def request_fields(case: Case) -> dict[str, Any]:
    """A case in the spec's request fields: public facts only (see the module's docstring)."""
    department: Department = case.category.department
    return {
        "service_request_id": case.number,
        "status": "closed" if case.state in CLOSED else "open",
        "status_notes": STATUS_NOTES.get(State(case.state), "").format(
            into=case.merged_into.number if case.merged_into is not None else ""
        ),
        "service_name": case.category.name,
        "service_code": case.category.code,
        "description": case.description if case.channel == Channel.api else None,
        "agency_responsible": department.name,
        "service_notice": None,
        "requested_datetime": w3(case.created_at),
        "updated_datetime": w3(case.state_since),
        "expected_datetime": w3(case.resolve_by),
        "address": village_label(case.village),
        "address_id": str(case.village_id),
        "zipcode": None,
        "lat": None,
        "long": None,
        "media_url": None,
    }
