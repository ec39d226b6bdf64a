"""Health advisories: write one (from a starting text), review who gets it, send; each delivery shown."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload
from wtforms import HiddenField, SelectChoice, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, ValidationError

from models.advisories.sending import (
    StaleReview,
    create_advisory,
    recipient_counts,
    recipients,
    review,
    tallies,
)
from models.advisories.tables import Advisory, AdvisoryDelivery
from models.config import LANGUAGES
from models.homecare.tables import Patient
from models.reference.tables import Role
from models.reference.villages import by_block
from notifications.sms import advisory_template_names, advisory_text
from webapp.auth import roles_required
from webapp.db import get_session
from webapp.forms import FlaskForm
from webapp.guards import row_id
from webapp.labels import localized

bp = Blueprint("advisories", __name__)
SENDERS = (Role.operator, Role.dm, Role.collector, Role.admin)
TITLE_MAX = 200
# About seven Hindi SMS parts (70 characters each): longer belongs in a leaflet.
BODY_MAX = 500
# Hindi first: most advisories go to villages in Hindi.
LANGUAGE_CHOICES = [SelectChoice(code, name) for code, name in reversed(LANGUAGES.items())]


class AdvisoryForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=TITLE_MAX)])
    body = TextAreaField(_l("Message"), validators=[DataRequired(), Length(max=BODY_MAX)])
    language = SelectField(_l("Language of the message"), choices=LANGUAGE_CHOICES)
    village = SelectField(_l("Send to"), coerce=row_id, validate_choice=True)  # 0: every village
    review = SubmitField(_l("Review"))
    send = SubmitField(_l("Send now"))
    # The key of the reviewed advisory (models/advisories/sending.review): Send writes exactly the
    # recipients that were shown, or nothing if the text or the list has changed since.
    reviewed = HiddenField(validators=[Length(max=64)])

    recipients = 0  # set by validate_village

    def validate_village(self, field: SelectField) -> None:
        self.recipients = get_session().scalar(
            select(func.count()).select_from(recipients(field.data or None).subquery())
        )
        if not self.recipients:
            raise ValidationError(_l("No patient is in home isolation there: there is nobody to send to."))


def fill_choices(form: AdvisoryForm) -> None:
    """Villages, each with how many patients in isolation would get the advisory."""
    db = get_session()
    counts = recipient_counts(db)
    villages = by_block(db)
    form.village.choices = [
        SelectChoice(0, _("All villages (%(count)d in isolation)", count=sum(counts.values())))
    ] + [
        SelectChoice(
            v.id,
            _("%(village)s (%(count)d in isolation)", village=localized(v), count=counts.get(v.id, 0)),
            optgroup=localized(v.block),
        )
        for v in villages
    ]


@bp.route("/advisories")
@roles_required(*SENDERS)
def index() -> str:
    db = get_session()
    advisories = db.scalars(
        select(Advisory)
        .options(joinedload(Advisory.village), joinedload(Advisory.by_user))
        .order_by(Advisory.id.desc())
        .limit(100)
    ).all()
    return render_template(
        "advisories/list.html",
        advisories=advisories,
        tallies=tallies(db, [a.id for a in advisories]),
    )


@bp.route("/advisories/new", methods=["GET", "POST"])
@roles_required(*SENDERS)
def new() -> Any:
    """Compose (?template= and ?language= prefill a starting text), review the recipients, send.

    :raise 404: no such starting text.
    """
    settings = current_app.config["SETTINGS"]
    form = AdvisoryForm()
    fill_choices(form)
    if not form.is_submitted():
        prefill(form)
        return render_new(form, 200)
    if not settings.sms_url:
        flash(_("SMS is not configured (SMS_URL), so advisories cannot be sent."), "error")
        return render_new(form, 400)
    if not form.validate():
        return render_new(form, 400)
    db = get_session()
    draft = {
        "title": form.title.data or "",
        "body": form.body.data or "",
        "language": form.language.data or "hi",
        "village_id": form.village.data or None,
    }
    status = 200  # "Review": show who will receive it, with the Send button
    if form.send.data and not form.reviewed.data:
        flash(_("Check who receives this advisory, then send it."), "error")
        status = 400
    elif form.send.data:
        try:
            advisory = create_advisory(
                db, **draft, reviewed=form.reviewed.data or "", by=current_user, now=datetime.now(UTC)
            )
        except (StaleReview, ValueError):
            db.rollback()
            changed = _(
                "The message or its recipients changed since you reviewed them; nothing was sent. "
                "Check them again, then send."
            )
            flash(changed, "error")
            status = 409
        else:
            db.commit()
            flash(
                ngettext(
                    "Advisory saved: it is being sent to %(num)d patient.",
                    "Advisory saved: it is being sent to %(num)d patients.",
                    tallies(db, [advisory.id])[advisory.id].total,
                ),
                "success",
            )
            return redirect(url_for("advisories.view", advisory_id=advisory.id))
    shown = review(db, **draft)
    form.recipients, form.reviewed.data = len(shown.patients), shown.key
    return render_new(form, status, review=True)


def prefill(form: AdvisoryForm) -> None:
    name = request.args.get("template", "")
    language = request.args.get("language", "hi")
    form.language.data = language if language in LANGUAGES else "hi"
    if name:
        try:
            form.title.data, form.body.data = advisory_text(name, form.language.data)
        except KeyError:
            abort(404, _("There is no starting text called %(name)s.", name=name))
    form.village.data = request.args.get("village", 0, type=row_id)


def render_new(form: AdvisoryForm, status: int, review: bool = False) -> tuple[str, int]:
    language = form.language.data if form.language.data in LANGUAGES else "hi"
    starting = [(name, advisory_text(name, language)[0]) for name in advisory_template_names()]
    return (
        render_template(
            "advisories/new.html",
            form=form,
            review=review,
            starting=starting,
            chosen=request.args.get("template", ""),
            sms_ready=bool(current_app.config["SETTINGS"].sms_url),
        ),
        status,
    )


@bp.route("/advisories/<int:advisory_id>")
@roles_required(*SENDERS)
def view(advisory_id: int) -> str:
    """An advisory and each recipient's delivery. :raise 404: no such advisory."""
    db = get_session()
    advisory = db.get(Advisory, advisory_id)
    if advisory is None:
        abort(404, _("Advisory %(id)s doesn't exist.", id=advisory_id))
    deliveries = db.execute(
        select(AdvisoryDelivery, Patient)
        .join(Patient, Patient.id == AdvisoryDelivery.patient_id)
        .options(joinedload(Patient.village))
        .where(AdvisoryDelivery.advisory_id == advisory_id)
        .order_by(AdvisoryDelivery.status, Patient.name)
    ).all()
    return render_template(
        "advisories/view.html",
        advisory=advisory,
        deliveries=deliveries,
        tally=tallies(db, [advisory_id])[advisory_id],
    )
