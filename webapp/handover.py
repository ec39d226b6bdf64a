"""The shift handover: the outgoing shift's notes, the ended shift's frozen figures, and its acknowledgement.

The page /handover shows the shift now running (its figures so far, and the notes its operators
leave), the handover of the shift that ended last (prepared on first sight: models/desk/handover.py),
with the incoming shift's acknowledgement, and the handovers kept before; each prints on its own page.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length

from models.desk.handover import Figures, acknowledge, add_note, figures, past, prepare, previous_shift
from models.desk.shifts import current_shift
from models.desk.tables import Handover
from models.reference.tables import Role
from webapp.auth import roles_required
from webapp.dashboard import STEP_LABELS
from webapp.db import get_session
from webapp.forms import CALL_KIND_LABELS, EmptyForm, FlaskForm

bp = Blueprint("handover", __name__)
READERS = (Role.operator, Role.dm, Role.collector, Role.admin)
DESK = (Role.operator, Role.admin)  # who leaves notes and takes a shift over


class NoteForm(FlaskForm):
    text = TextAreaField(_l("A note for the next shift"), validators=[DataRequired(), Length(max=1000)])


def _labels() -> dict[str, Any]:
    return {
        "call_kinds": CALL_KIND_LABELS,
        "steps": {s.value: label for s, label in STEP_LABELS.items()},
        "moment": datetime.fromisoformat,  # the figures keep their times as ISO text
    }


@bp.route("/handover", methods=["GET", "POST"])
@roles_required(*READERS)
def index() -> Any:
    db = get_session()
    now = datetime.now(UTC)
    form = NoteForm()
    if form.validate_on_submit():
        if current_user.role not in DESK:
            abort(403)
        add_note(db, current_user, form.text.data.strip(), now)
        db.commit()
        flash(_("Note saved for the next shift."), "success")
        return redirect(url_for("handover.index"))
    starts = current_app.config["SETTINGS"].shifts
    shift = current_shift(now, starts)
    ended = prepare(db, previous_shift(now, starts), now)  # made once, as it stood at the shift's end
    db.commit()
    return render_template(
        "handover/index.html",
        form=form,
        shift=shift,
        running=figures(db, shift, now),
        ended=ended,
        ended_figures=Figures.from_json(ended.figures),
        kept=past(db),
        ack_form=EmptyForm(),
        **_labels(),
    ), (400 if form.errors else 200)


@bp.route("/handover/<int:handover_id>")
@roles_required(*READERS)
def view(handover_id: int) -> str:
    """One shift's handover, printable. :raise 404: no such handover."""
    db = get_session()
    handover = db.get(Handover, handover_id)
    if handover is None:
        abort(404, _("No such handover."))
    return render_template(
        "handover/view.html",
        handover=handover,
        figures=Figures.from_json(handover.figures),
        ack_form=EmptyForm(),
        **_labels(),
    )


@bp.route("/handover/<int:handover_id>/acknowledge", methods=["POST"])
@roles_required(*DESK)
def take_over(handover_id: int) -> Any:
    """The incoming shift takes the handover over, by name. :raise 404: no such handover."""
    db = get_session()
    handover = db.get(Handover, handover_id)
    if handover is None:
        abort(404, _("No such handover."))
    if not EmptyForm().validate_on_submit():
        abort(400)
    if acknowledge(db, handover, current_user, datetime.now(UTC)):
        db.commit()
        flash(_("You have taken over this shift's handover."), "success")
    else:
        flash(_("%(name)s took this handover over already.", name=handover.acknowledged_by.name), "error")
    return redirect(url_for("handover.view", handover_id=handover.id))
