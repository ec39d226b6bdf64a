"""What needs no login: a citizen looks up their complaint by number and phone; and the app's icon."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, render_template
from flask_babel import gettext as _
from sqlalchemy import select

from models.cases.tables import Case
from webapp import throttle
from webapp.db import get_session
from webapp.forms import StatusForm, e164

bp = Blueprint("public", __name__)


@bp.route("/status", methods=["GET", "POST"])
@throttle.status_lookups
def status() -> Any:
    form = StatusForm()
    case = None
    if form.validate_on_submit():
        try:
            phone = e164(form.phone.data or "")
        except ValueError:
            phone = ""
        found = get_session().scalar(
            select(Case).where(Case.number == (form.number.data or "").strip().upper())
        )
        # The phone must match too, so case numbers cannot be walked to learn others' states.
        if found is not None and phone and found.phone == phone:
            case = found
        else:
            form.number.errors.append(_("No complaint with this number and phone."))  # type: ignore[attr-defined]
    code = 400 if form.errors else 200
    return render_template("public/status.html", form=form, case=case), code


@bp.route("/favicon.ico")
def favicon() -> Response:
    """The icon browsers ask for unprompted (pages link favicon.svg): a static asset like /static/."""
    return current_app.send_static_file("favicon.svg")
