"""Many callers, one problem: the intake form's suggestions of open cases, and a call attached to one.

GET /cases/similar answers the intake form (htmx sends its fields as they change) with the open
cases that look like the same problem (models/cases/callers.py); each has a button that sends the
intake form itself to POST /cases/<number>/attach instead of opening a new case.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from models.cases.callers import NotOpen, attach_caller, likely_same
from models.cases.tables import Case
from models.desk.tables import Call
from models.normalize import e164
from models.outbox import Outbox
from models.reference.tables import Role
from webapp.auth import roles_required
from webapp.db import get_session
from webapp.forms import CallerForm
from webapp.guards import row_id

bp = Blueprint("callers", __name__)


def _arg_id(name: str) -> int | None:
    try:
        return row_id(request.args.get(name, "")) or None
    except ValueError:
        return None


@bp.route("/cases/similar")
@roles_required(Role.operator, Role.admin)
def similar() -> str:
    """The open cases like the intake's (village, category, phone, description in the query)."""
    try:
        phone = e164(request.args.get("phone", ""))
    except ValueError:
        phone = ""
    found = likely_same(
        get_session(),
        datetime.now(UTC),
        village_id=_arg_id("village"),
        category_id=_arg_id("category"),
        phone=phone,
        text=request.args.get("description", "")[:500],
    )
    return render_template("callers/_similar.html", found=found)


@bp.post("/cases/<number>/attach")
@roles_required(Role.operator, Role.admin)
def attach(number: str) -> Any:
    """Attach the intake's caller to an open case. :raise 404: no such case."""
    db = get_session()
    case = db.scalar(select(Case).where(Case.number == number))
    if case is None:
        abort(404, _("Case %(number)s doesn't exist.", number=number))
    form = CallerForm()  # the intake form's caller fields; the rest of it is not needed here
    if not form.validate_on_submit():
        errors = [str(e) for field_errors in form.errors.values() for e in field_errors]
        return render_template("callers/refused.html", case=case, errors=errors), 400
    call = db.get(Call, form.call.data) if form.call.data else None
    if call is not None and call.by_user_id != current_user.id:
        abort(403)
    now = datetime.now(UTC)
    texts = bool(current_app.config["SETTINGS"].sms_url)
    try:
        attach_caller(
            db,
            case,
            caller_name=form.caller_name.data.strip(),
            phone=form.phone.data,
            language=form.language.data,
            by_user_id=current_user.id,
            now=now,
            text_caller=texts,
        )
    except NotOpen:
        db.rollback()
        errors = [_("Case %(number)s is no longer open: open a new case for this call.", number=number)]
        return render_template("callers/refused.html", case=case, errors=errors), 400
    if call is not None:
        call.case_id = case.id
    if texts:
        db.add(Outbox(kind="retries", case_id=None, payload={}))  # sends the caller's text at once
    db.commit()
    flash(_("Call attached to %(number)s. Read this number to the caller.", number=case.number), "success")
    return redirect(url_for("cases.view", number=case.number))
