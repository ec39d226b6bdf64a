"""Open311 GeoReport v2 write side: a POSTed service request becomes a case like any other.

It goes through models/cases/decisions.open_case (the same first event and outbox row, so the same
flow run and notifications), recorded with channel "api" and created by the client's service user.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy.orm import Session

from models.api.open311 import Refused, service
from models.api.tables import ApiKey
from models.cases.decisions import Intake, open_case
from models.cases.tables import Case, Channel, Priority
from models.normalize import e164
from models.reference.tables import Village
from models.reference.villages import AmbiguousVillage, UnknownVillage, resolve_village

DESCRIPTION_MAX = 4000  # as the desk's intake form (webapp/forms.py)
NAME_MAX = 120


def find_village(session: Session, params: Mapping[str, str], attributes: Mapping[str, str]) -> Village:
    """The village of attribute[village] (a key or a name), address_id (a key) or address_string.

    :raise Refused 400: none given, none known, or a name two blocks share.
    """
    keys = (
        ("attribute[village]", attributes.get("village", "")),
        ("address_id", params.get("address_id", "")),
    )
    for field, given in keys:
        given = given.strip()
        if not given:
            continue
        if given.isascii() and given.isdigit() and len(given) < 10:
            village = session.get(Village, int(given))
            if village is None:
                raise Refused(400, f"{field}: no village has the key {given}")
            return village
        return _by_name(session, field, given)
    address = params.get("address_string", "").strip()
    if not address:
        raise Refused(400, "attribute[village] is required (see the service definition), or address_string")
    try:
        return _by_name(session, "address_string", address)
    except Refused:
        # "Chando, Pratappur, Surajpur": the first part that names one village.
        for part in address.split(","):
            try:
                return _by_name(session, "address_string", part)
            except Refused:
                continue
        raise


def _by_name(session: Session, field: str, name: str) -> Village:
    if len(name) > 200:
        raise Refused(400, f"{field}: too long for a village's name")
    try:
        return resolve_village(session, name)
    except UnknownVillage:
        raise Refused(400, f"{field}: no village is named {name!r}") from None
    except AmbiguousVillage as exc:
        raise Refused(400, f"{field}: {name!r} is the name of several villages: {exc}") from None


def file_request(
    session: Session,
    params: Mapping[str, str],
    attributes: Mapping[str, str],
    key: ApiKey,
    prefix: str,
    now: datetime,
) -> Case:
    """Open the case a POST asks for. Never commits. :raise Refused 400: a field is missing or bad."""
    code = params.get("service_code", "").strip()
    if not code:
        raise Refused(400, "service_code is required")
    try:
        category = service(session, code)
    except Refused:
        raise Refused(400, f"service_code {code[:60]!r} not found") from None
    try:
        phone = e164(params.get("phone", "")[:40])
    except ValueError:
        raise Refused(400, "phone is required: the caller's Indian mobile or landline number") from None
    description = params.get("description", "").strip()
    if not description:
        raise Refused(400, "description is required")
    if len(description) > DESCRIPTION_MAX:
        raise Refused(400, f"description must be at most {DESCRIPTION_MAX} characters")
    name = " ".join(params.get(k, "").strip() for k in ("first_name", "last_name")).strip()
    if len(name) > NAME_MAX:
        raise Refused(400, f"first_name and last_name together must be at most {NAME_MAX} characters")
    village = find_village(session, params, attributes)
    intake = Intake(
        token=f"api-{secrets.token_hex(16)}",
        caller_name=name,
        phone=phone,
        village_id=village.id,
        category_id=category.id,
        description=description,
        priority=Priority.normal,
        channel=Channel.api,
    )
    case = open_case(session, intake, by=key.user, prefix=prefix, now=now)
    key.last_used_at = now
    return case
