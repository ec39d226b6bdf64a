"""Input no view should ever see, refused at the door: ids beyond the database's integers, characters no
column can hold. Each is a clear 400 or 404, never a 500 from the driver."""

from __future__ import annotations

from flask import Flask, g, render_template, request
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import BadRequest
from werkzeug.routing import IntegerConverter, Map

# Every row id fits a signed 64-bit integer (SQLite's INTEGER; PostgreSQL's integer columns compare
# with any int8). A larger number names no row, and SQLite's driver cannot even send it (OverflowError).
ID_MAX = 2**63 - 1
PAGE_MAX = 100_000  # a page number further than any list goes, small enough that its offset fits too
# PostgreSQL text cannot hold NUL (SQLite's full-text search stops at it): no field needs one.
UNSTORABLE = "\x00"
UNSTORABLE_MESSAGE = _l(
    "Something you sent holds an invisible control character (NUL) that cannot be saved. "
    "Type the text again instead of pasting it, and send it again."
)
BAD_FORM_MESSAGE = _l("The form was out of date or altered; reload the page and try again.")


class IdConverter(IntegerConverter):
    """`<int:...>` in every rule: 0 to ID_MAX, so a larger id is a 404 like any other missing row."""

    def __init__(self, map: Map, fixed_digits: int = 0, min: int = 0, max: int = ID_MAX) -> None:
        super().__init__(map, fixed_digits, min, max, signed=False)


def row_id(value: str | int) -> int:
    """A row id from a query string (`request.args.get(name, type=row_id)`) or a form (`coerce=row_id`).

    :raise ValueError: not digits, or beyond ID_MAX (request.args.get then gives the default).
    """
    text = str(value)
    if not (text.isascii() and text.isdigit()) or int(text) > ID_MAX:
        raise ValueError(text)
    return int(text)


def page_number(value: str) -> int:
    """A page number, 1 to PAGE_MAX. :raise ValueError: anything else."""
    number = row_id(value)
    if not 1 <= number <= PAGE_MAX:
        raise ValueError(value)
    return number


def refuse_unstorable() -> None:
    """:raise 400: a NUL in the path, query string, form or a header (any of them may be stored)."""
    pairs = [*request.args.items(multi=True), *request.form.items(multi=True), *request.headers.items()]
    texts = [request.path, *(name for name, _ in pairs), *(value for _, value in pairs)]
    if any(UNSTORABLE in text for text in texts):
        raise BadRequest(str(UNSTORABLE_MESSAGE))


def bad_request(error: BadRequest) -> tuple[str, int]:
    """The 400 page: what went wrong when the raiser said, else that the form was out of date or altered."""
    if "db_session" in g:
        g.db_session.rollback()
    custom = error.description if error.description != BadRequest.description else None
    return render_template("errors/400.html", message=custom or BAD_FORM_MESSAGE), 400


def register(app: Flask) -> None:
    """Install the guards; call before the blueprints are registered (rules take the converter then)."""
    app.url_map.converters["int"] = IdConverter
    app.before_request(refuse_unstorable)
    app.register_error_handler(BadRequest, bad_request)
