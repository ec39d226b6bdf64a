"""The admin's view of the outbox: every hand-off to Prefect the dispatcher gave up on (parked), with
*Try again* and *Start a new run for this case from its current step*."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.wrappers import Response

from models.cases.decisions import NotAllowed, restart_run
from models.cases.tables import Case
from models.outbox import Outbox, parked, try_again
from models.reference.tables import Role
from webapp.auth import roles_required
from webapp.db import get_session
from webapp.forms import EmptyForm

bp = Blueprint("outbox", __name__)


@bp.route("/admin/outbox")
@roles_required(Role.admin)
def parked_rows() -> str:
    db = get_session()
    rows = parked(db)
    cases = {
        c.id: c for c in db.scalars(select(Case).where(Case.id.in_({r.case_id for r in rows if r.case_id})))
    }
    return render_template("outbox/parked.html", rows=rows, cases=cases, form=EmptyForm())


def parked_row(row_id: int) -> Outbox:
    """:raise 404: no such row, or it is not parked (any more)."""
    row = get_session().get(Outbox, row_id)
    if row is None or row.parked_at is None or row.done_at is not None:
        abort(404, f"Outbox row {row_id} is not parked.")
    return row


@bp.post("/admin/outbox/<int:row_id>/retry")
@roles_required(Role.admin)
def retry(row_id: int) -> Response:
    """Try a parked row again: the dispatcher takes it within a second, its attempts counted afresh."""
    parked_row(row_id)
    if EmptyForm().validate_on_submit():
        db = get_session()
        if try_again(db, row_id, datetime.now(UTC)):
            db.commit()
            flash(_("The dispatcher will try it again now."), "success")
    return redirect(url_for("outbox.parked_rows"))


@bp.post("/admin/outbox/<int:row_id>/restart")
@roles_required(Role.admin)
def restart(row_id: int) -> Response:
    """Start a new run for the row's case from the step it waits on; its parked rows are closed."""
    row = parked_row(row_id)
    if row.case_id is None:
        abort(404, "Only a case's run can be started anew.")
    if EmptyForm().validate_on_submit():
        db = get_session()
        case = db.get_one(Case, row.case_id)
        try:
            restart_run(db, case, datetime.now(UTC))
        except NotAllowed:
            flash(_("%(number)s is closed: it needs no run.", number=case.number), "error")
        else:
            db.commit()
            flash(_("A new run for %(number)s starts now.", number=case.number), "success")
    return redirect(url_for("outbox.parked_rows"))
