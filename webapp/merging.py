"""One problem, one case, after the fact: the DM or the Collector merges an open case into another, and
undoes it within the shift (models/cases/merging.py). The case page shows the forms."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, current_app, flash, redirect, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from models.cases.decisions import NotAllowed, StaleDecision
from models.cases.lifecycle import InvalidTransition
from models.cases.merging import merge, unmerge
from models.cases.tables import Case
from models.reference.tables import Role
from webapp.auth import roles_required
from webapp.cases import get_case, render_case
from webapp.db import get_session
from webapp.forms import DecisionForm, MergeForm

bp = Blueprint("merging", __name__)


def _moved_on(case: Case) -> Any:
    db = get_session()
    db.rollback()
    db.refresh(case)
    flash(
        _("This case has moved on since you opened it; nothing was changed. Here is where it stands now."),
        "error",
    )
    return render_case(case, None, 409)


@bp.post("/cases/<number>/merge")
@roles_required(Role.dm, Role.collector)
def merge_case(number: str) -> Any:
    """Merge the case into the one whose number the form names. :raise 404: no such case."""
    case = get_case(number)
    form = MergeForm(prefix="merge")
    if not form.validate_on_submit():
        return render_case(case, merge_form=form, status=400)
    db = get_session()
    into = db.scalar(select(Case).where(Case.number == form.into.data.strip().upper()))
    if into is None:
        form.into.errors.append(_("No case has this number."))  # type: ignore[attr-defined]
        return render_case(case, merge_form=form, status=400)
    try:
        merge(db, case, into, current_user, version=form.version.data, now=datetime.now(UTC))
    except NotAllowed:
        db.rollback()
        if into.id == case.id:
            form.into.errors.append(_("A case cannot be merged into itself."))  # type: ignore[attr-defined]
        else:
            form.into.errors.append(  # type: ignore[attr-defined]
                _("Case %(number)s is no longer open: merge into an open case.", number=into.number)
            )
        return render_case(case, merge_form=form, status=400)
    except (StaleDecision, InvalidTransition):
        return _moved_on(case)
    db.commit()
    flash(
        _(
            "Merged into %(number)s: its callers will hear of %(number)s. "
            "You can undo this until the shift ends.",
            number=into.number,
        ),
        "success",
    )
    return redirect(url_for("cases.view", number=case.number))


@bp.post("/cases/<number>/unmerge")
@roles_required(Role.dm, Role.collector)
def unmerge_case(number: str) -> Any:
    """Undo the merge of the case within its shift: it goes on from the step it had reached."""
    case = get_case(number)
    form = DecisionForm(prefix="unmerge")
    if not form.validate_on_submit():
        return render_case(case, status=400)
    db = get_session()
    try:
        unmerge(
            db,
            case,
            current_user,
            version=form.version.data,
            now=datetime.now(UTC),
            starts=current_app.config["SETTINGS"].shifts,
        )
    except NotAllowed:
        db.rollback()
        flash(_("This merge was made in an earlier shift and can no longer be undone."), "error")
        return render_case(case, status=400)
    except (StaleDecision, InvalidTransition):
        return _moved_on(case)
    db.commit()
    flash(_("The merge is undone: the case goes on from where it stood."), "success")
    return redirect(url_for("cases.view", number=case.number))
