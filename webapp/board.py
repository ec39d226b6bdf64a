"""The wall board for the control room's big screen, and the board links that show it without a sign-in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from babel.dates import format_timedelta
from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from werkzeug.wrappers import Response
from wtforms import SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length

from models.access.board_links import NAME_MAX, all_links, board_url, find_link, make_link, revoke
from models.access.tables import BoardLink
from models.config import LANGUAGES
from models.oversight.audit import record
from models.oversight.board import Board, BoardCase, board
from models.reference.tables import Role
from webapp.auth import roles_required
from webapp.dates import clock, language
from webapp.db import get_session
from webapp.forms import EmptyForm, FlaskForm
from webapp.labels import STATE_LABELS, localized

bp = Blueprint("board", __name__)
VIEWERS = (Role.operator, Role.dm, Role.collector, Role.admin)
REFRESH_SECONDS = 15


class LinkForm(FlaskForm):
    name = StringField(_l("Name of the screen"), validators=[DataRequired(), Length(max=NAME_MAX)])
    language = SelectField(
        _l("Language"),
        choices=[
            SelectChoice("", _l("The screen's browser language")),
            *(SelectChoice(code, name) for code, name in LANGUAGES.items()),
        ],
        default="",
    )


@dataclass(frozen=True)
class Line:
    """A listed case, in words."""

    number: str
    category: str
    place: str
    step: str
    time: str


def _age(delta: timedelta | None, format: str = "long") -> str:
    if delta is None:
        return ""
    return format_timedelta(delta, threshold=1.1, format=format, locale=get_locale() or "en")


def _line(row: BoardCase) -> Line:
    place = " / ".join(p for p in (localized(row.block), localized(row.village)) if p)
    step = str(STATE_LABELS[row.state])
    return Line(row.number, localized(row.category), place, step, _age(row.time, "short"))  # "5 hr"


def _show(data: Board, refresh_url: str) -> str:
    """The board page; also its own refresh (htmx swaps #board from the same URL)."""
    steps = [(str(STATE_LABELS[s.state]), s.count, _age(s.oldest)) for s in data.steps]
    return render_template(
        "board/board.html",
        board=data,
        steps=steps,
        late=[_line(c) for c in data.late],
        emergencies=[_line(c) for c in data.emergency_cases],
        follow_up_oldest=_age(data.follow_up_oldest),
        hour=clock(data.hour),
        shift_start=clock(data.shift.start),
        updated=clock(data.now, seconds=True),
        refresh_url=refresh_url,
        refresh_seconds=REFRESH_SECONDS,
        language=language(),  # a board link's own language, when it has one
    )


@bp.route("/board")
@roles_required(*VIEWERS)
def index() -> str:
    """The wall board, for a signed-in viewer in their language."""
    data = board(get_session(), datetime.now(UTC), current_app.config["SETTINGS"].shifts)
    return _show(data, url_for("board.index"))


@bp.route("/board/<token>")
def shared(token: str) -> str:
    """The wall board through a board link: no sign-in, and nothing else. :raise 404: unknown or revoked."""
    db = get_session()
    now = datetime.now(UTC)
    link = find_link(db, token, now)
    if link is None:
        abort(404)
    db.commit()  # its last use
    data = board(db, now, current_app.config["SETTINGS"].shifts)
    if not link.language:  # the screen browser's
        return _show(data, url_for("board.shared", token=token))
    with force_locale(link.language):
        return _show(data, url_for("board.shared", token=token))


@bp.route("/admin/board-links", methods=["GET", "POST"])
@roles_required(Role.admin)
def links() -> Any:
    """The board links by name; make one (its address is shown this once), revoke one."""
    db = get_session()
    form = LinkForm()
    made = None
    if form.validate_on_submit():
        now = datetime.now(UTC)
        name = (form.name.data or "").strip()
        link = make_link(db, name, current_user, now, form.language.data or "")
        record(db, current_user, "board-link-made", f"{name} (#{link.link_id})", now)
        db.commit()
        made = board_url(current_app.config["SETTINGS"].public_url, link.token)
        form = LinkForm(formdata=None)
    page = render_template(
        "board/links.html", form=form, rows=all_links(db), made=made, revoke_form=EmptyForm()
    )
    response = current_app.make_response((page, 400 if form.errors else 200))
    response.headers["Cache-Control"] = "no-store"  # the new link's address is on it, once
    return response


@bp.post("/admin/board-links/<int:link_id>/revoke")
@roles_required(Role.admin)
def revoke_link(link_id: int) -> Response:
    """Revoke a board link: its screen shows a 404 at its next refresh. :raise 404: no such link."""
    db = get_session()
    link = db.get(BoardLink, link_id)
    if link is None:
        abort(404, f"Board link {link_id} doesn't exist.")
    if EmptyForm().validate_on_submit():
        now = datetime.now(UTC)
        if revoke(db, link.id, now):
            record(db, current_user, "board-link-revoked", f"{link.name} (#{link.id})", now)
            db.commit()
            flash(_("The board link %(name)s is revoked.", name=link.name))
    return redirect(url_for("board.links"))
