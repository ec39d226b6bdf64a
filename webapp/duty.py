"""The duty roster: who takes hospital admissions and who is duty doctor, now and next."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from wtforms import DateTimeLocalField, SelectChoice, SelectField
from wtforms.validators import InputRequired, ValidationError

from models.duty.roster import InvalidShift, OverlappingShift, add_shift, eligible, remove_shift, roster
from models.duty.tables import Duty
from models.reference.tables import Role
from models.times import from_india
from webapp.auth import roles_required
from webapp.dates import when
from webapp.db import get_session
from webapp.forms import EmptyForm, FlaskForm, entered_date
from webapp.guards import row_id

bp = Blueprint("duty", __name__)
KEEPERS = (Role.dm, Role.admin)  # who draws up the roster
DUTY_LABELS = {Duty.admission: _l("Hospital admissions"), Duty.doctor: _l("Duty doctor")}


class ShiftForm(FlaskForm):
    """A shift, its times in India time as typed."""

    user = SelectField(_l("Officer"), coerce=row_id, validate_choice=True)
    duty = SelectField(_l("Duty"), choices=[SelectChoice(d, label) for d, label in DUTY_LABELS.items()])
    starts_at = DateTimeLocalField(_l("From"), validators=[InputRequired(), entered_date])
    ends_at = DateTimeLocalField(_l("Until"), validators=[InputRequired(), entered_date])

    def validate_ends_at(self, field: DateTimeLocalField) -> None:
        if self.starts_at.data and field.data and field.data <= self.starts_at.data:
            raise ValidationError(_l("A shift must end after it starts."))
        if field.data and from_india(field.data) <= datetime.now(UTC):
            raise ValidationError(_l("This time has passed: a shift must end in the future."))


def shift_form() -> ShiftForm:
    form = ShiftForm()
    form.user.choices = [
        SelectChoice(u.id, f"{u.name}, {u.designation}" if u.designation else u.name)
        for u in eligible(get_session())
    ]
    return form


def render_roster(form: ShiftForm | None, status: int = 200) -> tuple[str, int]:
    keeper = current_user.role in KEEPERS
    return (
        render_template(
            "duty/roster.html",
            duties=roster(get_session(), datetime.now(UTC)),
            duty_labels=DUTY_LABELS,
            form=(form or shift_form()) if keeper else None,
            remove_form=EmptyForm() if keeper else None,
        ),
        status,
    )


@bp.route("/duty")
@login_required
def index() -> Any:
    """Who is on duty now and the next shifts of each duty (everyone may look; DM and admin edit)."""
    return render_roster(None)


@bp.post("/duty")
@roles_required(*KEEPERS)
def add() -> Any:
    form = shift_form()
    if not form.validate_on_submit():
        return render_roster(form, 400)
    db = get_session()
    try:
        add_shift(
            db,
            user_id=form.user.data,
            duty=form.duty.data or "",
            starts_at=from_india(form.starts_at.data),  # type: ignore[arg-type]
            ends_at=from_india(form.ends_at.data),  # type: ignore[arg-type]
            now=datetime.now(UTC),
        )
    except OverlappingShift as exc:  # checked here alone: it takes the other shifts, read with a lock
        db.rollback()
        clash = _(
            "%(name)s already has this duty from %(start)s to %(end)s.",
            name=exc.user.name,
            start=when(exc.shift.starts_at),
            end=when(exc.shift.ends_at),
        )
        form.ends_at.errors.append(clash)  # type: ignore[union-attr]
        return render_roster(form, 400)
    except InvalidShift as exc:  # the form checks the same; this is a race with an edit elsewhere
        db.rollback()
        form.user.errors.append(str(exc))  # type: ignore[union-attr]
        return render_roster(form, 400)
    db.commit()
    flash(_("Shift added to the roster."), "success")
    return redirect(url_for("duty.index"))


@bp.post("/duty/<int:shift_id>/remove")
@roles_required(*KEEPERS)
def remove(shift_id: int) -> Any:
    """Take a shift that has not started off the roster. :raise 404: no such shift."""
    if not EmptyForm().validate_on_submit():
        return render_roster(None, 400)
    db = get_session()
    try:
        remove_shift(db, shift_id, datetime.now(UTC))
    except LookupError:
        abort(404, _("Shift %(id)s doesn't exist.", id=shift_id))
    except InvalidShift:
        db.rollback()
        flash(_("This shift has started, so it stays on the roster."), "error")
        return render_roster(None, 400)
    db.commit()
    flash(_("Shift removed from the roster."), "success")
    return redirect(url_for("duty.index"))
