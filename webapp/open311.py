"""The Open311 GeoReport v2 API (http://wiki.open311.org/GeoReport_v2), in JSON and XML.

Reads are public and carry no personal data (models/api/open311.py); a POST needs a client's API
key (`flask --app webapp api-key make NAME`), is rate-limited per key and recorded in the audit log.
No login and no CSRF token: a client system is not a browser, its key is its credential.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from typing import Any
from xml.etree import ElementTree

from flask import Blueprint, Response, current_app, request
from flask_limiter.errors import RateLimitExceeded
from flask_limiter.util import get_remote_address
from werkzeug.exceptions import HTTPException

from models.api.filing import file_request
from models.api.keys import key_for
from models.api.open311 import (
    Query,
    Refused,
    definition,
    find_requests,
    parse_query,
    request_fields,
    service,
    service_fields,
    services,
)
from models.config import Settings
from models.oversight.audit import record
from webapp import csrf
from webapp.db import get_session
from webapp.throttle import limiter

bp = Blueprint("open311", __name__, url_prefix="/open311/v2")
csrf.exempt(bp)

FORMATS = ("json", "xml")
# XML names of a list's items, by the list's name (the spec's roots and nesting).
ITEMS = {
    "errors": "error",
    "services": "service",
    "service_requests": "request",
    "attributes": "attribute",
    "values": "value",
}
ATTRIBUTE = re.compile(r"^attribute\[([^\[\]]{1,64})\]$")
# What XML 1.0 cannot carry (C0 controls but tab, newline and return; lone surrogates; U+FFFE/F).
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _settings() -> Settings:
    return current_app.config["SETTINGS"]  # type: ignore[no-any-return]


def _element(tag: str, value: Any) -> ElementTree.Element:
    node = ElementTree.Element(tag)
    if isinstance(value, dict):
        for key, child in value.items():
            node.append(_element(key, child))
    elif isinstance(value, list):
        for child in value:
            node.append(_element(ITEMS.get(tag, "item"), child))
    elif isinstance(value, bool):
        node.text = "true" if value else "false"
    elif value is not None:
        node.text = NOT_XML.sub("", str(value))
    return node


def answer(data: Any, fmt: str, root: str, status: int = 200) -> Response:
    """data in the format asked for: JSON as it is, XML under root (a list's items named by ITEMS)."""
    if fmt == "xml":
        # The spec asks for this declaration exactly (ElementTree would write encoding='utf-8').
        xml = ElementTree.tostring(_element(root, data), encoding="unicode")
        body = ('<?xml version="1.0" encoding="UTF-8"?>\n' + xml).encode()
        return Response(body, status, mimetype="text/xml", content_type="text/xml; charset=utf-8")
    body = json.dumps(data, ensure_ascii=False)
    return Response(body, status, content_type="application/json; charset=utf-8")


def errors(status: int, description: str, fmt: str = "json") -> Response:
    """The spec's error answer: [{"code", "description"}] or <errors><error>...</error></errors>."""
    return answer(
        [{"code": status, "description": description}], fmt if fmt in FORMATS else "json", "errors", status
    )


def checked(fmt: str) -> None:
    """:raise Refused: an unknown format (404), another district (404).

    A NUL anywhere was refused before (webapp/guards.py), in this format by http_error.
    """
    if fmt not in FORMATS:
        raise Refused(404, "the format must be .json or .xml")
    jurisdiction = (request.values.get("jurisdiction_id") or "").strip().casefold()
    settings = _settings()
    if jurisdiction and jurisdiction not in (
        settings.district_prefix.casefold(),
        settings.district_name.casefold(),
    ):
        raise Refused(404, "jurisdiction_id not found: this endpoint serves " + settings.district_prefix)


def api_key_bucket() -> str:
    """The rate-limit counter of a POST: its key's (a digest, never the key), or its address without one."""
    key = request.form.get("api_key") or request.args.get("api_key") or ""
    if key:
        return "key:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return "address:" + get_remote_address()


posts = limiter.limit(
    lambda: _settings().open311_post_limit, key_func=api_key_bucket, methods=["POST"], scope="open311-post"
)


def _fmt() -> str:
    return str((request.view_args or {}).get("fmt", "json"))


@bp.errorhandler(Refused)
def refused(error: Refused) -> Response:
    return errors(error.status, error.description, _fmt())


@bp.errorhandler(RateLimitExceeded)
def too_many(error: RateLimitExceeded) -> Response:
    get_session().rollback()
    response = errors(429, f"too many requests: at most {error.description} for one api_key", _fmt())
    response.headers["Retry-After"] = str(max(1, int(error.limit.limit.get_expiry())))
    return response


def http_error(error: HTTPException) -> Response:
    """Any other HTTP error of these URLs (a NUL refused by webapp/guards.py, a body over the size limit, ...)
    in the spec's format."""
    get_session().rollback()
    return errors(error.code or 400, error.description or error.name, _fmt())


# By code as well: the app's own handlers for these codes (HTML pages) would otherwise come first.
for _code in (400, 403, 404, 405, 413):
    bp.register_error_handler(_code, http_error)
bp.register_error_handler(HTTPException, http_error)


@bp.route("/services.<fmt>")
def services_list(fmt: str) -> Response:
    checked(fmt)
    return answer([service_fields(c) for c in services(get_session())], fmt, "services")


@bp.route("/services/<code>.<fmt>")
def service_definition(code: str, fmt: str) -> Response:
    """:raise 404: no such service."""
    checked(fmt)
    db = get_session()
    return answer(definition(db, service(db, code)), fmt, "service_definition")


@bp.route("/requests/<number>.<fmt>")
def one_request(number: str, fmt: str) -> Response:
    """:raise 404: no such case (or an emergency, which is not published)."""
    checked(fmt)
    found = find_requests(get_session(), Query(numbers=[number.strip().upper()[:32]]))
    if not found:
        raise Refused(404, f"service_request_id {number[:40]!r} not found")
    return answer([request_fields(found[0])], fmt, "service_requests")


@bp.route("/requests.<fmt>", methods=["GET", "POST"])
@posts
def requests(fmt: str) -> Response:
    checked(fmt)
    db = get_session()
    now = datetime.now(UTC)
    if request.method == "GET":
        query = parse_query({k: request.args.get(k, "") for k in request.args}, now)
        return answer([request_fields(c) for c in find_requests(db, query)], fmt, "service_requests")
    key = key_for(db, request.form.get("api_key") or request.args.get("api_key") or "")
    if key is None:
        record(db, None, "api-refused", f"no valid api_key, from {get_remote_address()}", now)
        db.commit()
        raise Refused(403, "api_key is missing, unknown or revoked")
    params = {name: request.form.get(name, "") for name in request.form}
    attributes = {m[1]: value for name, value in params.items() if (m := ATTRIBUTE.match(name))}
    try:
        case = file_request(db, params, attributes, key, _settings().district_prefix, now)
    except Refused as exc:
        db.rollback()
        record(db, key.user, "api-refused", f"{key.name}: {exc.description}", now)
        db.commit()
        raise
    record(db, key.user, "api-request", case.number or "", now)
    db.commit()
    filed = {"service_request_id": case.number, "service_notice": None, "account_id": None}
    return answer([filed], fmt, "service_requests")
