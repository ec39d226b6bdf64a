"""The Control Room web app: operators, the DM, officers and the Collector."""

from __future__ import annotations

from typing import Any

from flask import Flask, g, render_template, request, session
from flask_babel import Babel
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import NotFound

from models.config import LANGUAGES, Settings
from models.reference.tables import User
from webapp.db import close_session, get_session

csrf = CSRFProtect()
login_manager = LoginManager()
babel = Babel()


def select_locale() -> str:
    if current_user and current_user.is_authenticated:
        return str(current_user.language)
    chosen = session.get("language")
    if chosen in LANGUAGES:
        return str(chosen)
    return request.accept_languages.best_match(list(LANGUAGES)) or "en"


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    user = get_session().get(User, int(user_id)) if user_id.isdigit() else None
    return user if user is not None and user.active and user.password_hash else None


def create_app(settings: Settings | None = None) -> Flask:
    """Build the app from settings (from the environment when not given)."""
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    app.config.update(
        SETTINGS=settings,
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.public_url.startswith("https://"),
        WTF_CSRF_TIME_LIMIT=None,  # a form left open through a night shift still submits
        BABEL_DEFAULT_TIMEZONE="Asia/Kolkata",
        MAX_CONTENT_LENGTH=1024 * 1024,
    )
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None
    babel.init_app(app, locale_selector=select_locale)
    app.teardown_appcontext(close_session)

    from webapp import (
        advisories,
        auth,
        caselist,
        cases,
        cli,
        dashboard,
        desk,
        duty,
        emergency,
        homecare,
        labels,
        mailbox,
        outbox,
        public,
    )

    app.register_blueprint(auth.bp)
    app.register_blueprint(cases.bp)
    app.register_blueprint(emergency.bp)
    app.register_blueprint(desk.bp)
    app.register_blueprint(caselist.bp)
    app.register_blueprint(public.bp)
    app.register_blueprint(mailbox.bp)
    app.register_blueprint(dashboard.bp)
    app.register_blueprint(advisories.bp)
    app.register_blueprint(duty.bp)
    app.register_blueprint(homecare.bp)
    app.register_blueprint(outbox.bp)
    cli.register(app)
    register_errors(app)

    @app.context_processor
    def inject() -> dict[str, Any]:
        return {
            "settings": settings,
            "language": select_locale(),
            "labels": labels.ALL,
            "localized": labels.localized,
            "waited": labels.waited,
            "clock_label": labels.clock_label,
            "event_label": labels.event_label,
        }

    @app.after_request
    def security_headers(response: Any) -> Any:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    return app


def register_errors(app: Flask) -> None:
    def page(template: str, code: int, error: Any = None) -> tuple[str, int]:
        if "db_session" in g:
            g.db_session.rollback()
        return render_template(template, error=error), code

    app.register_error_handler(CSRFError, lambda e: page("errors/csrf.html", 400, e))
    app.register_error_handler(403, lambda e: page("errors/403.html", 403, e))
    app.register_error_handler(404, lambda e: page("errors/404.html", 404, e))
    app.jinja_env.globals["default_404"] = NotFound.description
    app.register_error_handler(500, lambda e: page("errors/500.html", 500, e))
