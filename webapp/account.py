"""A user's own password, and the admin's view of who is signed in where (with "sign out everywhere")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash
from werkzeug.wrappers import Response
from wtforms import PasswordField
from wtforms.validators import DataRequired, EqualTo, Length, ValidationError

from models.access import sessions as login_sessions
from models.oversight.audit import record
from models.reference.tables import Role, User
from webapp.auth import address, roles_required, start_session
from webapp.db import get_session
from webapp.forms import EmptyForm, FlaskForm

bp = Blueprint("account", __name__)
MIN_PASSWORD = 10


class PasswordForm(FlaskForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired(), Length(max=200)])
    new = PasswordField(
        _l("New password"),
        validators=[
            DataRequired(),
            Length(min=MIN_PASSWORD, max=200, message=_l("At least %(min)d characters.", min=MIN_PASSWORD)),
        ],
    )
    again = PasswordField(
        _l("New password again"),
        validators=[DataRequired(), EqualTo("new", message=_l("The two new passwords differ."))],
    )

    def validate_current(self, field: PasswordField) -> None:
        if not check_password_hash(current_user.password_hash, field.data or ""):
            raise ValidationError(_l("That is not your current password."))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def password() -> Any:
    """Change one's password; every other sign-in of the user ends, this browser stays signed in."""
    form = PasswordForm()
    if form.validate_on_submit():
        db = get_session()
        now = datetime.now(UTC)
        user = db.get(User, current_user.id)
        assert user is not None  # signed in a moment ago
        user.password_hash = generate_password_hash(form.new.data or "")
        login_sessions.end_all(db, user.id, now, "password")
        start_session(user, now)
        record(db, user, "password", address(), now)
        db.commit()
        flash(_("Password changed. You are signed out everywhere else."))
        return redirect(url_for("cases.queue"))
    return render_template("account/password.html", form=form), 400 if form.errors else 200


@bp.route("/admin/sessions")
@roles_required(Role.admin)
def signed_in() -> str:
    """Every live sign-in: who, since when, last seen, from where; a button per user to end them all."""
    settings = current_app.config["SETTINGS"]
    rows = login_sessions.live(
        get_session(), datetime.now(UTC), timedelta(minutes=settings.session_idle_minutes)
    )
    users = get_session().scalars(select(User).where(User.active.is_(True)).order_by(User.name)).all()
    return render_template("account/sessions.html", rows=rows, users=users, form=EmptyForm())


@bp.post("/admin/users/<int:user_id>/sign-out")
@roles_required(Role.admin)
def sign_out_everywhere(user_id: int) -> Response:
    """End every sign-in of a user (a lost phone, a shared password, someone who left). :raise 404:"""
    db = get_session()
    user = db.get(User, user_id)
    if user is None:
        abort(404, f"User {user_id} doesn't exist.")
    if EmptyForm().validate_on_submit():
        now = datetime.now(UTC)
        ended = login_sessions.end_all(db, user.id, now, "admin")
        record(db, current_user, "sign-out-everywhere", user.username, now)
        db.commit()
        flash(_("%(name)s is signed out everywhere (%(count)d sign-ins ended).", name=user.name, count=ended))
    return redirect(url_for("account.signed_in"))
