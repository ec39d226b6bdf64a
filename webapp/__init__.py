"""The Control Room web app: operators, the DM, officers and the Collector."""

from __future__ import annotations

from typing import Any

from flask import Flask, g, render_template, request, session
from flask_babel import Babel
from flask_limiter.errors import RateLimitExceeded
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import NotFound
from werkzeug.middleware.proxy_fix import ProxyFix

from models.config import LANGUAGES, Settings
from models.reference.tables import User
from webapp.db import close_session

csrf = CSRFProtect()
login_manager = LoginManager()
babel = Babel()


def select_locale() -> str:
    if current_user and current_user.is_authenticated:
        return str(current_user.language)
    chosen = session.get("language")
    if chosen in LANGUAGES:
        return str(chosen)
    # A page about one person's case speaks their language until they choose another (a status link).
    hint = g.get("language_hint")
    if hint in LANGUAGES:
        return str(hint)
    return request.accept_languages.best_match(list(LANGUAGES)) or "en"


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    from webapp.auth import load_signed_in

    return load_signed_in(user_id)


def create_app(settings: Settings | None = None) -> Flask:
    """Build the app from settings (from the environment when not given)."""
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    app.config.update(
        SETTINGS=settings,
        SECRET_KEY=settings.signing_secret(),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # In production the cookie goes over HTTPS only, whatever PUBLIC_URL says (a plain-http
        # URL there is a mistake to fix at the proxy, not a reason to send the cookie in clear).
        SESSION_COOKIE_SECURE=settings.app_env == "production" or settings.public_url.startswith("https://"),
        WTF_CSRF_TIME_LIMIT=None,  # a form left open through a night shift still submits
        BABEL_DEFAULT_TIMEZONE="Asia/Kolkata",
        MAX_CONTENT_LENGTH=1024 * 1024,
    )
    if settings.trusted_proxies:  # behind nginx: the address and scheme the person used
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]
    csrf.init_app(app)
    from webapp import guards

    guards.register(app)  # before the blueprints: their <int:> rules take its bounded converter
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None
    babel.init_app(app, locale_selector=select_locale)
    from webapp import dates

    dates.register(app)  # after init_app: it replaces Flask-Babel's date filters
    from webapp import throttle

    throttle.init(app, settings)
    app.teardown_appcontext(close_session)

    from webapp import (
        account,
        act,
        advisories,
        auth,
        board,
        callers,
        caselist,
        cases,
        cli,
        dashboard,
        desk,
        duty,
        emergency,
        handover,
        health,
        homecare,
        labels,
        live,
        mailbox,
        merging,
        open311,
        outbox,
        public,
    )

    app.register_blueprint(auth.bp)
    app.register_blueprint(account.bp)
    app.register_blueprint(cases.bp)
    app.register_blueprint(emergency.bp)
    app.register_blueprint(desk.bp)
    app.register_blueprint(caselist.bp)
    app.register_blueprint(public.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(mailbox.bp)
    app.register_blueprint(dashboard.bp)
    app.register_blueprint(advisories.bp)
    app.register_blueprint(duty.bp)
    app.register_blueprint(homecare.bp)
    app.register_blueprint(outbox.bp)
    app.register_blueprint(open311.bp)
    app.register_blueprint(board.bp)
    app.register_blueprint(live.bp)
    app.register_blueprint(handover.bp)
    app.register_blueprint(callers.bp)
    app.register_blueprint(merging.bp)
    app.register_blueprint(act.bp)
    cli.register(app)
    register_errors(app)

    @app.context_processor
    def inject() -> dict[str, Any]:
        return {
            "settings": settings,
            "language": select_locale(),
            "labels": labels.ALL,
            "localized": labels.localized,
            "waiting_label": labels.waiting_label,
            "urgency_label": labels.urgency_label,
            "clock_label": labels.clock_label,
            "event_label": labels.event_label,
            "case_text": labels.case_text,
            "event_text": labels.event_text,
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

    def too_many(error: RateLimitExceeded) -> Any:
        if "db_session" in g:
            g.db_session.rollback()
        seconds = max(60, int(error.limit.limit.get_expiry()))
        response = app.make_response((render_template("errors/429.html", minutes=seconds // 60), 429))
        response.headers["Retry-After"] = str(seconds)
        return response

    app.register_error_handler(RateLimitExceeded, too_many)
    app.jinja_env.globals["default_404"] = NotFound.description
    app.register_error_handler(500, lambda e: page("errors/500.html", 500, e))
