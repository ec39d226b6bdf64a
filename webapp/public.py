"""What needs no login: a citizen follows their complaint (by number and phone, or by the signed link
in their messages); and the app's icon."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, current_app, g, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import refresh
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from models.cases.public import number_from_token, public_status, status_token
from models.cases.tables import Case
from webapp import throttle
from webapp.db import get_session
from webapp.forms import StatusForm, e164

bp = Blueprint("public", __name__)

# The caller's words for the steps of models/cases/public.py: no office jargon, no names.
STEP_LABELS = {
    "registered": _l("Complaint registered"),
    "registered_again": _l("Registered again on your new call"),
    "with_department": _l("Sent to the department"),
    "back_to_dm": _l("Being sent to the right department"),
    "action_taken": _l("The department has acted"),
    "callback": _l("We will call you to confirm"),
    "you_confirmed": _l("You confirmed it is resolved"),
    "closed_unverified": _l("Closed: we could not reach you to confirm"),
    "more_work": _l("Sent back to the department for more work"),
    "closed": _l("Closed"),
    "not_taken_up": _l("Not taken up as a complaint"),
    "merged": _l("Handled together with another complaint about the same problem"),
    "handled_alone": _l("Handled on its own again"),
}


@bp.app_context_processor
def status_links() -> dict[str, Any]:
    def status_url(number: str) -> str:
        """The signed status page of another case (a merged case's survivor)."""
        return url_for("public.status_link", token=status_token(number, current_app.config["SECRET_KEY"]))

    return {"status_url": status_url}


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
            case = public_status(found)
        else:
            form.number.errors.append(_("No complaint with this number and phone."))  # type: ignore[attr-defined]
    code = 400 if form.errors else 200
    return render_template("public/status.html", form=form, case=case, steps=STEP_LABELS), code


@bp.route("/status/<token>")
def status_link(token: str) -> Any:
    """The page the caller's messages link to: their case without typing its number and phone.

    :raise 404: the link was altered, signed with another key, or its case is gone.
    """
    number = number_from_token(token, current_app.config["SECRET_KEY"]) if len(token) <= 200 else None
    query = select(Case).where(Case.number == number).options(selectinload(Case.events))
    found = get_session().scalar(query) if number else None
    if found is None:
        abort(404, _("This status link is not valid. Check the number in your message, or look it up below."))
    g.language_hint = found.language  # the language of the caller's texts, unless they chose another
    refresh()
    return render_template(
        "public/status.html", form=StatusForm(), case=public_status(found), steps=STEP_LABELS
    )


@bp.route("/favicon.ico")
def favicon() -> Response:
    """The icon browsers ask for unprompted (pages link favicon.svg): a static asset like /static/."""
    return current_app.send_static_file("favicon.svg")
