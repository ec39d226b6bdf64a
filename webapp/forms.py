"""The FlaskForm base (WTForms in Hindi too) and the forms several pages share; one-button actions are
forms too, so each POST carries a CSRF token. A form only one blueprint uses lives in that blueprint."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from flask_babel import get_translations, gettext, ngettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm as _FlaskForm
from flask_wtf.file import FileField, FileRequired
from markupsafe import Markup, escape
from wtforms import (
    Field,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectChoice,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional, StopValidation, ValidationError
from wtforms.widgets import HiddenInput

from models.config import LANGUAGES
from models.normalize import e164
from models.reference.tables import Village
from models.reference.villages import AmbiguousVillage, UnknownVillage, resolve_village
from models.times import FIRST_DAY, LAST_DAY, DayOutOfRange, entered_day
from webapp.db import get_session
from webapp.guards import BAD_FORM_MESSAGE, row_id
from webapp.labels import localized

TEXT_MAX = 2000
DESCRIPTION_MAX = 4000


class AppTranslations:
    """WTForms' own messages looked up in the app's catalogue (WTForms ships no Hindi)."""

    def gettext(self, string: str) -> str:
        return str(get_translations().gettext(string))

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return str(get_translations().ngettext(singular, plural, n))


class FlaskForm(_FlaskForm):
    class Meta:
        def get_translations(self, form: object) -> AppTranslations:
            return AppTranslations()

    def hidden_tag(self, *fields: Any) -> Markup:
        """The hidden fields; and, when one of them was refused, why (a person cannot see or fix them)."""
        tags = super().hidden_tag(*fields)
        # The CSRF token is not among them: CSRFProtect refuses a bad one before the view, with its own page.
        refused = [
            f for f in self if isinstance(f.widget, HiddenInput) and f.errors and f.type != "CSRFTokenField"
        ]
        if not refused:
            return tags
        message = Markup('<ul class="errors" role="alert"><li>%s</li></ul>') % escape(str(BAD_FORM_MESSAGE))
        return tags + message


class IdField(IntegerField):
    """A row id or version in a hidden field: 0 to ID_MAX, so it can reach the database."""

    widget = HiddenInput()

    def process_formdata(self, valuelist: list[Any]) -> None:
        if valuelist:
            try:
                self.data = row_id(str(valuelist[0]).strip())
            except ValueError:
                self.data = None
                raise ValueError(self.gettext("Not a valid integer value.")) from None


def entered_date(form: object, field: Field) -> None:
    """A date (or date and time) a person may enter: FIRST_DAY to LAST_DAY.

    It stops the field's other checks, which may move the value to UTC (and overflow at year 1).
    """
    value = field.data
    if not isinstance(value, date):
        return
    try:
        entered_day(value.date() if isinstance(value, datetime) else value)
    except DayOutOfRange:
        first, last = FIRST_DAY.isoformat(), LAST_DAY.isoformat()
        message = gettext("Enter a date between %(first)s and %(last)s.", first=first, last=last)
        raise StopValidation(message) from None


def _wtforms_messages() -> None:
    """Never called: lists the WTForms messages our forms can show, so extraction finds them."""
    gettext("This field is required.")
    gettext("Not a valid choice.")
    gettext("Invalid Choice: could not coerce.")
    gettext("Not a valid integer value.")
    ngettext(
        "Field cannot be longer than %(max)d character.", "Field cannot be longer than %(max)d characters.", 1
    )


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=64)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])


class EmptyForm(FlaskForm):
    """A button: only the CSRF token."""


class LanguageForm(FlaskForm):
    language = SelectField(
        _l("Language"), choices=[SelectChoice(code, name) for code, name in LANGUAGES.items()]
    )


class CallerForm(FlaskForm):
    """Who called: the complaint form's caller, also all that attaching a call to an open case needs."""

    caller_name = StringField(_l("Caller's name"), validators=[DataRequired(), Length(max=120)])
    phone = StringField(_l("Phone"), validators=[DataRequired(), Length(max=20)])
    # The caller's text messages (case number, who has it, closure) are written in this language.
    language = SelectField(
        _l("Caller's language, for text messages"),
        choices=[SelectChoice(code, name) for code, name in LANGUAGES.items()],
        default="hi",
    )
    call = IdField(validators=[Optional()])  # the logged call it came from

    def validate_phone(self, field: StringField) -> None:
        try:
            field.data = e164(field.data or "")
        except ValueError:
            raise ValidationError(_l("Enter a valid Indian phone number, e.g. 98765 43210.")) from None


class IntakeForm(CallerForm):
    token = HiddenField(validators=[DataRequired(), Length(max=64)])
    village = SelectField(_l("Village"), coerce=row_id, validate_choice=True)
    category = SelectField(_l("Category"), coerce=row_id, validate_choice=True)
    priority = SelectField(
        _l("Priority"), choices=[SelectChoice("normal", _l("Normal")), SelectChoice("urgent", _l("Urgent"))]
    )
    description = TextAreaField(_l("Complaint"), validators=[DataRequired(), Length(max=DESCRIPTION_MAX)])
    # Pressed after the offer to reopen the caller's recently closed case instead.
    new_anyway = SubmitField(_l("Open a new case anyway"))


class DecisionForm(FlaskForm):
    """Base of every decision: the case version the user saw."""

    version = IdField(validators=[InputRequired()])


class AssignForm(DecisionForm):
    # 0 is the blank first choice: the DM picks the officer, one press never sends it to the first.
    officer = SelectField(_l("Officer"), coerce=row_id, validate_choice=True, default=0)
    text = TextAreaField(_l("Instruction (optional)"), validators=[Length(max=TEXT_MAX)])

    def validate_officer(self, field: SelectField) -> None:
        if not field.data:
            raise ValidationError(_l("Choose an officer."))


class RejectForm(DecisionForm):
    text = TextAreaField(
        _l("Reason (e.g. not a grievance, duplicate of case N)"),
        validators=[DataRequired(), Length(max=TEXT_MAX)],
    )


class ResolveForm(DecisionForm):
    text = TextAreaField(_l("Action taken"), validators=[DataRequired(), Length(max=TEXT_MAX)])


class SendBackForm(DecisionForm):
    text = TextAreaField(_l("Reason for reassignment"), validators=[DataRequired(), Length(max=TEXT_MAX)])


class ConfirmForm(DecisionForm):
    text = TextAreaField(_l("Remark (optional)"), validators=[Length(max=TEXT_MAX)])


class ReopenForm(DecisionForm):
    text = TextAreaField(_l("Remark for the officer"), validators=[DataRequired(), Length(max=TEXT_MAX)])


class SatisfiedForm(DecisionForm):
    """The caller, rung back, says it is resolved: their rating, 1 (poor) to 5 (very good)."""

    rating = SelectField(
        _l("The caller's rating"),
        coerce=row_id,
        validate_choice=True,
        default=0,
        choices=[
            SelectChoice(0, "—"),
            SelectChoice(5, _l("5 (very good)")),
            *(SelectChoice(n, str(n)) for n in (4, 3, 2)),
            SelectChoice(1, _l("1 (poor)")),
        ],
    )
    text = TextAreaField(_l("What the caller said (optional)"), validators=[Length(max=TEXT_MAX)])

    def validate_rating(self, field: SelectField) -> None:
        if not field.data:
            raise ValidationError(_l("Choose the caller's rating."))


class NotSatisfiedForm(DecisionForm):
    text = TextAreaField(_l("What the caller says"), validators=[DataRequired(), Length(max=TEXT_MAX)])


class UnreachableForm(DecisionForm):
    text = TextAreaField(_l("Note (optional)"), validators=[Length(max=TEXT_MAX)])


class CloseUnverifiedForm(DecisionForm):
    text = TextAreaField(
        _l("Reason (sent to the caller by SMS)"), validators=[DataRequired(), Length(max=TEXT_MAX)]
    )


class MergeForm(DecisionForm):
    """The DM's or the Collector's merge of this case into the open case that carries the same problem."""

    into = StringField(_l("Merge into case number"), validators=[DataRequired(), Length(max=32)])


class AdmissionForm(DecisionForm):
    """The officer's resolution of an emergency: where the patient was admitted."""

    hospital = StringField(_l("Hospital"), validators=[DataRequired(), Length(max=200)])
    bed = StringField(_l("Bed"), validators=[Length(max=64)])
    ambulance = StringField(_l("Ambulance (vehicle or driver)"), validators=[Length(max=64)])
    text = TextAreaField(_l("Note (optional)"), validators=[Length(max=TEXT_MAX)])


class EmergencyForm(FlaskForm):
    """An emergency call: no category or priority to choose, it goes to the officer on duty."""

    token = HiddenField(validators=[DataRequired(), Length(max=64)])
    caller_name = StringField(_l("Patient's or caller's name"), validators=[DataRequired(), Length(max=120)])
    phone = StringField(_l("Phone"), validators=[DataRequired(), Length(max=20)])
    village = SelectField(_l("Village"), coerce=row_id, validate_choice=True)
    description = TextAreaField(
        _l("What is happening"), validators=[DataRequired(), Length(max=DESCRIPTION_MAX)]
    )
    call = IdField(validators=[Optional()])  # the logged call it came from

    def validate_phone(self, field: StringField) -> None:
        try:
            field.data = e164(field.data or "")
        except ValueError:
            raise ValidationError(_l("Enter a valid Indian phone number, e.g. 98765 43210.")) from None

    def validate_village(self, field: SelectField) -> None:
        if not field.data:
            raise ValidationError(_l("Choose the caller's village."))


class ReopenClosedForm(DecisionForm):
    text = TextAreaField(_l("What the caller says now"), validators=[DataRequired(), Length(max=TEXT_MAX)])


class StatusForm(FlaskForm):
    number = StringField(_l("Case number"), validators=[DataRequired(), Length(max=32)])
    phone = StringField(_l("Phone used when calling"), validators=[DataRequired(), Length(max=20)])


CALL_KIND_LABELS = {
    "information": _l("Information"),
    "complaint": _l("Complaint"),
    "follow_up": _l("Home-isolation follow-up"),
    "emergency": _l("Emergency"),
    "other": _l("Other"),
}
DURATION = re.compile(r"^(?:(?:(\d{1,2}):)?(\d{1,3}):)?(\d{1,5})$")


class CallForm(FlaskForm):
    """One call on the desk; validating it resolves the village (village_id) and the duration."""

    phone = StringField(_l("Phone"), validators=[DataRequired(), Length(max=20)])
    caller_name = StringField(_l("Caller's name"), validators=[Length(max=120)])
    village = StringField(_l("Village"), validators=[Length(max=250)])
    kind = SelectField(
        _l("Kind of call"),
        choices=[SelectChoice(k, label) for k, label in CALL_KIND_LABELS.items()],
        default="information",
    )
    note = TextAreaField(_l("Note"), validators=[Length(max=TEXT_MAX)])
    duration = StringField(_l("Duration (minutes:seconds)"), validators=[Length(max=10)])

    village_id: int | None = None
    duration_seconds: int = 0

    def validate_phone(self, field: StringField) -> None:
        try:
            field.data = e164(field.data or "")
        except ValueError:
            raise ValidationError(_l("Enter a valid Indian phone number, e.g. 98765 43210.")) from None

    def validate_village(self, field: StringField) -> None:
        if not (field.data or "").strip():
            return
        try:
            self.village_id = resolve_village(get_session(), field.data or "").id
        except UnknownVillage:
            raise ValidationError(_l("No village is called that; pick one from the list.")) from None
        except AmbiguousVillage as exc:
            raise ValidationError(
                _l("Villages of that name are in several blocks: write one of %(names)s.", names=str(exc))
            ) from None

    def validate_duration(self, field: StringField) -> None:
        match = DURATION.match((field.data or "0").strip() or "0")
        if match is None:
            raise ValidationError(_l("Write the duration as minutes:seconds, e.g. 2:30."))
        hours, minutes, seconds = (int(g or 0) for g in match.groups())
        self.duration_seconds = hours * 3600 + minutes * 60 + seconds
        if self.duration_seconds > 24 * 3600:
            raise ValidationError(_l("A call cannot last more than a day."))


class ContactImportForm(FlaskForm):
    file = FileField(_l("CSV file"), validators=[FileRequired()])


def village_choices(villages: Iterable[Village]) -> list[SelectChoice]:
    """Villages grouped under their block, after a blank first choice, in the reader's language."""
    return [SelectChoice(0, "—")] + [
        SelectChoice(v.id, localized(v), optgroup=localized(v.block)) for v in villages
    ]
