"""Every form of the web app; one-button actions are forms too, so each POST carries a CSRF token."""

from __future__ import annotations

import phonenumbers
from flask_babel import get_translations, gettext, ngettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm as _FlaskForm
from wtforms import (
    HiddenField,
    IntegerField,
    PasswordField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, ValidationError
from wtforms.widgets import HiddenInput

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


def _wtforms_messages() -> None:
    """Never called: lists the WTForms messages our forms can show, so extraction finds them."""
    gettext("This field is required.")
    gettext("Not a valid choice.")
    gettext("Invalid Choice: could not coerce.")
    gettext("Not a valid integer value.")
    ngettext(
        "Field cannot be longer than %(max)d character.", "Field cannot be longer than %(max)d characters.", 1
    )


def e164(value: str) -> str:
    """Parse an Indian (or +country) number to E.164, or raise ValueError."""
    try:
        number = phonenumbers.parse(value, "IN")
    except phonenumbers.NumberParseException as exc:
        raise ValueError(str(exc)) from exc
    if not phonenumbers.is_valid_number(number):
        raise ValueError("invalid number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=64)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])


class EmptyForm(FlaskForm):
    """A button: only the CSRF token."""


class LanguageForm(FlaskForm):
    language = SelectField(
        _l("Language"), choices=[SelectChoice("en", "English"), SelectChoice("hi", "हिन्दी")]
    )


class IntakeForm(FlaskForm):
    token = HiddenField(validators=[DataRequired(), Length(max=64)])
    caller_name = StringField(_l("Caller's name"), validators=[DataRequired(), Length(max=120)])
    phone = StringField(_l("Phone"), validators=[DataRequired(), Length(max=20)])
    village = SelectField(_l("Village"), coerce=int, validate_choice=True)
    category = SelectField(_l("Category"), coerce=int, validate_choice=True)
    priority = SelectField(
        _l("Priority"), choices=[SelectChoice("normal", _l("Normal")), SelectChoice("urgent", _l("Urgent"))]
    )
    description = TextAreaField(_l("Complaint"), validators=[DataRequired(), Length(max=DESCRIPTION_MAX)])

    def validate_phone(self, field: StringField) -> None:
        try:
            field.data = e164(field.data or "")
        except ValueError:
            raise ValidationError(_l("Enter a valid Indian phone number, e.g. 98765 43210.")) from None


class DecisionForm(FlaskForm):
    """Base of every decision: the case version the user saw."""

    version = IntegerField(widget=HiddenInput(), validators=[InputRequired()])


class AssignForm(DecisionForm):
    officer = SelectField(_l("Officer"), coerce=int, validate_choice=True)
    text = TextAreaField(_l("Instruction (optional)"), validators=[Length(max=TEXT_MAX)])


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


class StatusForm(FlaskForm):
    number = StringField(_l("Case number"), validators=[DataRequired(), Length(max=32)])
    phone = StringField(_l("Phone used when calling"), validators=[DataRequired(), Length(max=20)])
