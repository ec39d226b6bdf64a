"""Signing in and out, the language switch, and role checks.

A sign-in opens a login session held on the server (models.access): the cookie carries its random
token, so logout, a password change or an admin can end it, and a copied cookie dies with it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import cache, wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash
from werkzeug.wrappers import Response

from models.access import sessions as login_sessions
from models.db import get_sessionmaker
from models.oversight.audit import record
from models.reference.tables import User
from webapp import throttle
from webapp.db import get_session
from webapp.forms import EmptyForm, LanguageForm, LoginForm

bp = Blueprint("auth", __name__)
F = TypeVar("F", bound=Callable[..., Any])
SESSION_KEY = "sid"  # the login session's token in Flask's signed cookie


def roles_required(*roles: str) -> Callable[[F], F]:
    """Allow only logged-in users with one of roles. :raise 403: any other role."""

    def decorator(view: F) -> F:
        @wraps(view)
        @login_required
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator


def safe_next(target: str | None) -> str:
    """target if it is a path on this site, else the queue: never redirect off-site after login.

    Browsers drop tabs and newlines from a Location and read a backslash as a slash, so
    "/\\t/evil.example" would leave as "//evil.example": any such character refuses the target.
    """
    if (
        target
        and target.startswith("/")
        and not any(c.isspace() or ord(c) < 32 or c == "\\" for c in target)
        and not target.startswith("//")
    ):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return url_for("cases.queue")


def address() -> str:
    return (request.remote_addr or "")[:64]


@cache
def _stand_in_hash() -> str:
    """A hash to check a password against when the name is no user's: the same work either way,
    so the time of an answer does not tell which names exist."""
    return generate_password_hash("no such user")


def load_signed_in(user_id: str) -> User | None:
    """Flask-Login's user loader: the user of this cookie's live login session, else nobody."""
    token = session.get(SESSION_KEY)
    if not user_id.isdigit() or not isinstance(token, str):
        return None
    settings = current_app.config["SETTINGS"]
    with get_sessionmaker(settings.database_url).begin() as db:
        live = login_sessions.find_active(
            db, token, datetime.now(UTC), timedelta(minutes=settings.session_idle_minutes)
        )
        if live is None or live.user_id != int(user_id):
            return None
        g.login_session_id = live.id
    user = get_session().get(User, int(user_id))
    return user if user is not None and user.active and user.password_hash else None


def start_session(user: User, now: datetime) -> None:
    """Open a login session for user in this browser (the caller commits)."""
    opened = login_sessions.open_session(
        get_session(), user.id, now, address(), request.headers.get("User-Agent", "")
    )
    language = session.get("language")
    session.clear()  # nothing from before the sign-in carries over (session fixation)
    if language:
        session["language"] = language
    session[SESSION_KEY] = opened.token
    login_user(user)


@bp.route("/login", methods=["GET", "POST"])
@throttle.per_address
@throttle.per_name
def login() -> Any:
    form = LoginForm()
    if form.validate_on_submit():
        db = get_session()
        name = (form.username.data or "").strip()
        user = db.scalar(select(User).where(User.username == name))
        usable = user is not None and user.active and bool(user.password_hash)
        stored = user.password_hash if user is not None and usable else _stand_in_hash()
        matches = check_password_hash(stored, form.password.data or "")
        now = datetime.now(UTC)
        if user is not None and usable and matches:
            start_session(user, now)
            record(db, user, "login", address(), now)
            db.commit()
            return redirect(safe_next(request.args.get("next")))
        record(db, user, "login-failed", f"{name[:64]} {address()}", now)
        db.commit()
        form.password.errors.append(_("Wrong username or password."))
    status = 400 if form.errors else 200
    return render_template("auth/login.html", form=form), status


@bp.post("/logout")
@login_required
def logout() -> Response:
    if EmptyForm().validate_on_submit():
        db = get_session()
        now = datetime.now(UTC)
        if "login_session_id" in g:
            login_sessions.end(db, g.login_session_id, now, "logout")
        record(db, current_user, "logout", address(), now)
        db.commit()
        logout_user()
        session.pop(SESSION_KEY, None)
    return redirect(url_for("auth.login"))


@bp.post("/language")
def language() -> Response:
    form = LanguageForm()
    if form.validate_on_submit():
        session["language"] = form.language.data
        if current_user.is_authenticated:
            db = get_session()
            user = db.get(User, current_user.id)
            if user is not None:
                user.language = form.language.data or "en"
                db.commit()
    return redirect(safe_next(request.form.get("next")))
