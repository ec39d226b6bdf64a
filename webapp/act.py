"""One-tap links: the step a hand-off message asks for, taken without a sign-in; and "Seen".

The token in the link is the credential (models/access/act_links.py): it opens one case's one step for
one user and nothing else. The browser is never signed in. Opening a live link records that its user
saw the message; a decision through it is recorded on the case's history and in the audit log as such.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, current_app, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import refresh
from flask_login import current_user, login_required
from werkzeug.security import check_password_hash
from werkzeug.wrappers import Response
from wtforms import PasswordField
from wtforms.validators import DataRequired, Length

from models.access.act_links import Grant, Refused, read_token
from models.cases.decisions import NotAllowed, StaleDecision
from models.cases.lifecycle import Action, InvalidTransition
from models.cases.seen import mark_seen
from models.cases.tables import Case
from models.oversight.audit import record
from models.reference.tables import User
from webapp import throttle
from webapp.cases import DECISION_FORMS, apply_decision, decision_forms, form_class, get_case, officer_choices
from webapp.db import get_session
from webapp.forms import AssignForm, DecisionForm, EmptyForm, FlaskForm

bp = Blueprint("act", __name__)

# Why a link opens nothing: its answer and what the person reads. Never a change, never a 5xx.
REFUSALS: dict[str, tuple[int, Any]] = {
    "bad": (
        404,
        _l("This link is not valid: it was changed or cut short. Open the case in the app instead."),
    ),
    "expired": (410, _l("This link has expired. Open the case in the app to act on it.")),
    "moved_on": (
        410,
        _l(
            "This step was already taken: the case has moved on since this message was sent."
            " Nothing was changed."
        ),
    ),
    "inactive": (403, _l("The account this link was sent to is not active. Nothing was changed.")),
    "not_yours": (403, _l("This step is not yours to take any more. Nothing was changed.")),
}


class PinForm(FlaskForm):
    """The PIN an admin may require before a decision through a link (part of the decision's form)."""

    pin = PasswordField(_l("Your PIN"), validators=[DataRequired(), Length(max=12)])


@dataclass
class Opened:
    """A live link: its user, its case at the step the link was made for, and the forms of that step."""

    token: str
    user: User
    case: Case
    forms: dict[str, DecisionForm]


def refused(reason: str) -> tuple[str, int]:
    code, message = REFUSALS[reason]
    return render_template("act/refused.html", message=message), code


def open_link(token: str) -> Opened | tuple[str, int]:
    """The link's user, case and forms; or the page that says why it opens nothing."""
    settings = current_app.config["SETTINGS"]
    grant = read_token(token, current_app.config["SECRET_KEY"], settings.act_link_age, datetime.now(UTC))
    if isinstance(grant, Refused):
        return refused(grant.value)
    db = get_session()
    user, case = db.get(User, grant.user_id), db.get(Case, grant.case_id)
    if user is None or case is None:
        return refused("bad")
    g.language_hint = user.language  # the page speaks its reader's language, unless they chose another
    refresh()
    return _check(token, grant, user, case)


def _check(token: str, grant: Grant, user: User, case: Case) -> Opened | tuple[str, int]:
    if not user.active:
        return refused("inactive")
    if case.decisions != grant.version:
        return refused("moved_on")
    forms = decision_forms(case, user)
    if not forms:
        return refused("not_yours")
    return Opened(token, user, case, forms)


def page(opened: Opened, pins: dict[str, PinForm] | None = None, status: int = 200) -> tuple[str, int]:
    if opened.user.link_pin and pins is None:
        pins = {action: PinForm(prefix=f"{action}-link", meta={"csrf": False}) for action in opened.forms}
    return render_template(
        "act/step.html",
        token=opened.token,
        case=opened.case,
        user=opened.user,
        forms=opened.forms,
        pins=pins or {},
    ), status


@bp.route("/act/<token>")
def show(token: str) -> Any:
    """The one step a link opens; opening it records that its user saw the message."""
    opened = open_link(token)
    if not isinstance(opened, Opened):
        return opened
    db = get_session()
    mark_seen(db, opened.case.id, opened.user.id, datetime.now(UTC))
    db.commit()
    return page(opened)


@bp.post("/act/<token>/<action>")
@throttle.link_pins
def take(token: str, action: str) -> Any:
    """Take the link's step as its user; an action not of this step is refused like a dead link."""
    opened = open_link(token)
    if not isinstance(opened, Opened):
        return opened
    try:
        chosen = Action(action)
    except ValueError:
        return refused("bad")
    if chosen not in DECISION_FORMS or chosen.value not in opened.forms:
        return refused("not_yours")
    case, user = opened.case, opened.user
    form = form_class(case, chosen)(prefix=chosen.value)
    if isinstance(form, AssignForm):
        form.officer.choices = officer_choices(case)
    opened.forms[chosen.value] = form
    valid = form.validate_on_submit()
    pins: dict[str, PinForm] | None = None
    if user.link_pin:
        pin = PinForm(prefix=f"{chosen.value}-link", meta={"csrf": False})
        pins = {
            a: pin if a == chosen.value else PinForm(prefix=f"{a}-link", formdata=None, meta={"csrf": False})
            for a in opened.forms
        }
        if pin.validate() and not check_password_hash(user.link_pin, pin.pin.data or ""):
            pin.pin.errors.append(_("Wrong PIN."))  # type: ignore[attr-defined]
            g.pin_refused = True  # counts against the user's failed tries (webapp/throttle.py)
        valid = valid and not pin.errors
    if not valid:
        return page(opened, pins, 400)
    db = get_session()
    now = datetime.now(UTC)
    try:
        apply_decision(db, case, chosen, form, user, now, via="link")
    except NotAllowed:
        db.rollback()
        return refused("not_yours")
    except (StaleDecision, InvalidTransition):
        db.rollback()
        return refused("moved_on")
    record(db, user, "act-link", case.number or "", now)
    db.commit()
    # No redirect: the link's page now says the step was taken; this one says what was done.
    return render_template("act/done.html", case=case, action=chosen.value)


@bp.post("/cases/<number>/seen")
@login_required
def seen(number: str) -> Response:
    """The signed-in user's "Seen" on their newest message about a case. :raise 404, 403: as the case page."""
    case = get_case(number)
    if EmptyForm().validate_on_submit():
        db = get_session()
        if mark_seen(db, case.id, current_user.id, datetime.now(UTC)):
            db.commit()
            flash(_("Marked as seen."), "success")
    return redirect(url_for("cases.view", number=case.number))
