"""Home isolation: the patients' register, its CSV import, and the operators' follow-up calls."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    stream_template,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.file import FileField, FileRequired
from sqlalchemy import select
from wtforms import FloatField, IntegerField, SelectMultipleField, TextAreaField
from wtforms.validators import Length, NumberRange, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from models.cases.tables import Case
from models.emergency.cases import emergencies_of
from models.homecare.followups import (
    CallClosed,
    Vitals,
    due_list,
    find_patients,
    follow_ups_of,
    readings_of,
    record_reading,
    record_unreachable,
)
from models.homecare.register import (
    CHUNK,
    check_patient_rows,
    end_follow_ups,
    import_checked,
    patient_csv_rows,
    write_patients,
)
from models.homecare.schedule import list_request, next_list_at, on_demand_slot, request_list
from models.homecare.tables import FollowUp, Patient, PatientStatus, Symptom, VitalThreshold
from models.homecare.wording import flag_label
from models.reference.tables import Role
from models.reference.villages import by_block
from webapp.auth import roles_required
from webapp.db import get_session
from webapp.forms import TEXT_MAX, EmptyForm, FlaskForm
from webapp.guards import page_number, row_id
from webapp.labels import localized
from webapp.trend import trend_charts
from webapp.uploads import read_csv_upload, upload_page

bp = Blueprint("homecare", __name__)

REGISTER = (Role.operator, Role.dm, Role.collector, Role.admin)
WORKERS = (Role.operator, Role.admin)  # import the list, work the calls, discharge
PER_PAGE = 50
IMPORT_MAX_BYTES = 16 * 1024 * 1024
STREAM_ABOVE = CHUNK  # rows: a larger file's import page shows its progress as it goes

PATIENT_STATUS = {
    "isolating": _l("In isolation"),
    "admitted": _l("Admitted to hospital"),
    "discharged": _l("Discharged"),
}
CALL_STATUS = {
    "due": _l("Due"),
    "done": _l("Reached"),
    "unreachable": _l("Not reachable"),
    "cancelled": _l("Cancelled"),
}


class PatientImportForm(FlaskForm):
    file = FileField(_l("CSV file"), validators=[FileRequired()])


class ReadingForm(FlaskForm):
    spo2 = IntegerField(
        _l("SpO2"),
        validators=[Optional(), NumberRange(50, 100, message=_l("SpO2 must be between 50 and 100."))],
    )
    temperature = FloatField(
        _l("Temperature (°F)"),
        validators=[
            Optional(),
            NumberRange(90, 110, message=_l("Temperature must be between 90 and 110 °F.")),
        ],
    )
    pulse = IntegerField(
        _l("Pulse (per minute)"),
        validators=[Optional(), NumberRange(30, 220, message=_l("Pulse must be between 30 and 220."))],
    )
    symptoms = SelectMultipleField(
        _l("Symptoms"), widget=ListWidget(prefix_label=False), option_widget=CheckboxInput()
    )
    note = TextAreaField(_l("Note"), validators=[Length(max=TEXT_MAX)])

    def validate_note(self, field: TextAreaField) -> None:
        # An empty Save would mark the patient reached with nothing learnt: a slip of the mouse,
        # not a call. "No oximeter at home, feels fine" is a note.
        readings = (self.spo2.data, self.temperature.data, self.pulse.data)
        if all(r is None for r in readings) and not self.symptoms.data and not (field.data or "").strip():
            raise ValidationError(_l("Record at least one reading, a symptom or what the patient said."))


def _wtforms_messages() -> None:
    """Never called: the WTForms message these forms add, so extraction finds it."""
    _("Not a valid float value.")


@bp.url_value_preprocessor
def allow_large_imports(endpoint: str | None, _values: dict[str, Any] | None) -> None:
    # Before CSRFProtect parses the upload (the app caps forms at 1 MB): a district's list is larger.
    if endpoint == "homecare.import_patients":
        request.max_content_length = IMPORT_MAX_BYTES


@bp.context_processor
def isolation_labels() -> dict[str, Any]:
    return {"patient_status": PATIENT_STATUS, "call_status": CALL_STATUS}


def get_patient(patient_id: int) -> Patient:
    """:raise 404: no such patient."""
    patient = get_session().get(Patient, patient_id)
    if patient is None:
        abort(404, _("Patient %(id)s doesn't exist.", id=patient_id))
    return patient


def get_call(call_id: int) -> FollowUp:
    """:raise 404: no such call."""
    call = get_session().get(FollowUp, call_id)
    if call is None:
        abort(404, _("Follow-up call %(id)s doesn't exist.", id=call_id))
    return call


# ---- the register


@bp.route("/patients")
@roles_required(*REGISTER)
def register() -> str:
    db = get_session()
    text = request.args.get("q", "")[:100]
    village_id = request.args.get("village", type=row_id)
    status = request.args.get("status", "")
    status = status if status in PATIENT_STATUS else ""
    page = request.args.get("page", 1, type=page_number)
    patients, total = find_patients(db, text, village_id, status or None, page, PER_PAGE)
    villages = by_block(db)
    pages = max((total + PER_PAGE - 1) // PER_PAGE, 1)
    args = {"q": text, "village": village_id or "", "status": status}
    return render_template(
        "homecare/register.html",
        patients=patients,
        total=total,
        villages=[(v.id, f"{localized(v)} ({localized(v.block)})") for v in villages],
        q=text,
        village_id=village_id,
        status=status,
        page=page,
        pages=pages,
        previous=url_for(".register", **args, page=page - 1) if page > 1 else None,
        next=url_for(".register", **args, page=page + 1) if page < pages else None,
    )


@bp.route("/patients/<int:patient_id>")
@roles_required(*REGISTER)
def patient(patient_id: int) -> str:
    db = get_session()
    found = get_patient(patient_id)
    readings = readings_of(db, found.id)
    emergencies = emergencies_of(db, found.id)
    symptoms = db.scalars(select(Symptom)).all()
    return render_template(
        "homecare/patient.html",
        patient=found,
        emergencies=emergencies,
        # "Admitted to hospital" links to the case that recorded where.
        admitted=next((case for case, admission in emergencies if admission), None),
        calls=follow_ups_of(db, found.id),
        readings=list(reversed(readings)),
        charts=trend_charts(readings, db.scalars(select(VitalThreshold)).all()),
        symptoms={s.code: localized(s) for s in symptoms},
        flags={r.id: shown_flags(r.red_flags, symptoms) for r in readings},
        discharge_form=EmptyForm() if current_user.role in WORKERS else None,
    )


@bp.post("/patients/<int:patient_id>/discharge")
@roles_required(*WORKERS)
def discharge(patient_id: int) -> Any:
    """End a patient's isolation: no more calls."""
    found = get_patient(patient_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    db = get_session()
    # Checked by the database, not by `found.status`: an admission or discharge committed after
    # this request read the patient stands, and this one changes nothing.
    if not end_follow_ups(db, found.id, PatientStatus.discharged, datetime.now(UTC)):
        flash(_("This patient is not in isolation any more; nothing was changed."), "error")
        return redirect(url_for(".patient", patient_id=found.id))
    db.commit()
    flash(_("%(name)s is discharged: no more follow-up calls.", name=found.name), "success")
    return redirect(url_for(".patient", patient_id=found.id))


@bp.route("/patients/import", methods=["GET", "POST"])
@roles_required(*WORKERS)
def import_patients() -> Any:
    """Load the health department's list: all rows or none, each bad row listed with its line."""
    form = PatientImportForm()
    errors: list[str] = []
    if form.validate_on_submit():
        db = get_session()
        checked, errors = read_csv_upload(
            form, lambda stream: check_patient_rows(db, patient_csv_rows(stream))
        )
        if checked is not None:
            if len(checked) > STREAM_ABOVE:
                return stream_template("homecare/importing.html", total=len(checked), steps=_write(checked))
            report = import_checked(db, checked)
            db.commit()
            flash(
                _(
                    "%(total)d patients imported: %(created)d new, %(updated)d updated.",
                    total=report.created + report.updated,
                    created=report.created,
                    updated=report.updated,
                ),
                "success",
            )
            return redirect(url_for(".register"))
        db.rollback()
    return upload_page("homecare/import.html", form, errors)


def _write(checked: list[Any]) -> Iterator[dict[str, Any]]:
    """Write the checked rows chunk by chunk for the streamed page; commit once at the end."""
    db = get_session()
    done = 0
    try:
        for report in write_patients(db, checked):
            done = report.created + report.updated
            yield {"done": done, "created": report.created, "updated": report.updated, "final": False}
        db.commit()
    except Exception:
        db.rollback()
        current_app.logger.exception("patient import failed after %s rows", done)
        yield {"failed": True, "final": True}
        return
    yield {"done": done, "final": True, "failed": False}


# ---- the follow-up calls


@bp.route("/follow-ups")
@roles_required(*WORKERS)
def follow_ups() -> str:
    """The calls due now, oldest first; when the next list comes, and today's list made on request."""
    db = get_session()
    now = datetime.now(UTC)
    return render_template(
        "homecare/follow_ups.html",
        calls=due_list(db, now),
        next_list_at=next_list_at(now),
        slot=on_demand_slot(now)[1],
        list_request=list_request(db, now),
        make_list_form=EmptyForm(),
    )


@bp.post("/follow-ups/make-list")
@roles_required(*WORKERS)
def make_list() -> Any:
    """Make today's list now: an outbox row, which a dispatcher hands to the follow-up-list deployment."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    db = get_session()
    if request_list(db, datetime.now(UTC)):
        db.commit()
        flash(_("List requested; it appears here in a moment."), "success")
    else:  # a second click, or another desk's: one request, one run
        flash(_("Today's list was requested already; nothing was changed."), "success")
    return redirect(url_for(".follow_ups"))


def shown_flags(flags: list[str], symptoms: Iterable[Symptom]) -> str:
    """A reading's red flags (stored in English) in the reader's language, on one line."""
    names = {s.name: localized(s) for s in symptoms}
    return "; ".join(flag_label(flag, str(get_locale()), names) for flag in flags)


def reading_form(**kwargs: Any) -> ReadingForm:
    form = ReadingForm(**kwargs)
    rows = get_session().scalars(select(Symptom).where(Symptom.active.is_(True)).order_by(Symptom.id))
    form.symptoms.choices = [(s.code, localized(s)) for s in rows]
    return form


def render_call(call: FollowUp, form: ReadingForm, status: int = 200) -> tuple[str, int]:
    db = get_session()
    return (
        render_template(
            "homecare/call.html",
            call=call,
            patient=call.patient,
            form=form,
            unreachable_form=EmptyForm(prefix="unreachable"),
            readings=list(reversed(readings_of(db, call.patient_id, limit=5))),
            symptoms={s.code: localized(s) for s in db.scalars(select(Symptom))},
        ),
        status,
    )


@bp.route("/follow-ups/<int:call_id>", methods=["GET", "POST"])
@roles_required(*WORKERS)
def call(call_id: int) -> Any:
    """One call: the reading the patient gives, or "not reachable"."""
    found = get_call(call_id)
    form = reading_form()
    if not form.validate_on_submit():
        return render_call(found, form, 400 if form.is_submitted() else 200)
    db = get_session()
    vitals = Vitals(
        spo2=form.spo2.data,
        temperature=form.temperature.data,
        pulse=form.pulse.data,
        symptoms=tuple(form.symptoms.data or ()),
        note=(form.note.data or "").strip(),
    )
    settings = current_app.config["SETTINGS"]
    try:
        reading = record_reading(db, found, vitals, current_user, datetime.now(UTC), settings.district_prefix)
    except CallClosed:
        return _closed(found)
    db.commit()
    if reading.case_id is not None:
        number = db.get_one(Case, reading.case_id).number
        flash(
            _(
                "Red flags: %(flags)s. Emergency case %(number)s opened for hospital admission.",
                flags=shown_flags(reading.red_flags, db.scalars(select(Symptom))),
                number=number,
            ),
            "error",
        )
    else:
        flash(_("Reading saved for %(name)s.", name=found.patient.name), "success")
    return redirect(url_for(".follow_ups"))


@bp.post("/follow-ups/<int:call_id>/unreachable")
@roles_required(*WORKERS)
def unreachable(call_id: int) -> Any:
    found = get_call(call_id)
    if not EmptyForm(prefix="unreachable").validate_on_submit():
        return render_call(found, reading_form(formdata=None), 400)
    db = get_session()
    settings = current_app.config["SETTINGS"]
    try:
        alerted = record_unreachable(
            db, found, current_user, datetime.now(UTC), settings.follow_up_miss_limit
        )
    except CallClosed:
        return _closed(found)
    db.commit()
    if alerted:
        flash(
            _(
                "%(name)s missed %(count)d calls in a row: the Mitanin and the duty doctor will be told.",
                name=found.patient.name,
                count=settings.follow_up_miss_limit,
            ),
            "error",
        )
    elif found.status == "due":
        flash(_("Not reachable: the call comes back on the list later today."), "success")
    else:
        flash(_("Not reachable: no more tries today."), "success")
    return redirect(url_for(".follow_ups"))


def _closed(found: FollowUp) -> tuple[str, int]:
    get_session().rollback()
    flash(_("This call was already recorded or cancelled; nothing was changed."), "error")
    return render_call(get_call(found.id), reading_form(formdata=None), 409)
