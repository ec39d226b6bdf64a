"""Throttling with Flask-Limiter: failed sign-ins per login name and per address, status lookups.

The counters are shared by every web process: in this database by default (the storage below,
registered with the `limits` library under the scheme "database"), or in Redis when
RATE_LIMIT_STORAGE names one. Never in process memory, where each gunicorn worker would count alone.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from flask import Flask, current_app, g, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits.storage import Storage
from sqlalchemy.exc import SQLAlchemyError

from models.access import counters
from models.access.act_links import Grant, read_token
from models.config import Settings
from models.db import get_sessionmaker

limiter = Limiter(key_func=get_remote_address, strategy="fixed-window")


class DatabaseStorage(Storage):
    """`limits` storage in the app's own database (rate_counters), for the embedded default."""

    STORAGE_SCHEME = ["database"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: Any) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions)
        self.factory = get_sessionmaker(str(options["database_url"]))

    @property
    def base_exceptions(self) -> type[Exception]:
        return SQLAlchemyError

    def incr(self, key: str, expiry: int | float, amount: int = 1) -> int:
        with self.factory.begin() as db:
            return counters.hit(db, key, float(expiry), datetime.now(UTC), amount)

    def get(self, key: str) -> int:
        with self.factory() as db:
            return counters.current(db, key, datetime.now(UTC))[0]

    def get_expiry(self, key: str) -> float:
        with self.factory() as db:
            ends = counters.current(db, key, datetime.now(UTC))[1]
        return ends.timestamp() if ends else time.time()

    def check(self) -> bool:
        try:
            self.get("check")
        except SQLAlchemyError:
            return False
        return True

    def reset(self) -> int | None:
        with self.factory.begin() as db:
            return counters.clear(db)

    def clear(self, key: str) -> None:
        with self.factory.begin() as db:
            counters.clear(db, key)


def init(app: Flask, settings: Settings) -> None:
    """Point the limiter at the shared storage and attach it to app."""
    in_database = not settings.rate_limit_storage
    app.config.update(
        RATELIMIT_STORAGE_URI="database://" if in_database else settings.rate_limit_storage,
        RATELIMIT_STORAGE_OPTIONS={"database_url": settings.database_url} if in_database else {},
        RATELIMIT_HEADERS_ENABLED=True,
        RATELIMIT_KEY_PREFIX="control-room",
    )
    limiter.init_app(app)


def _settings() -> Settings:
    return current_app.config["SETTINGS"]  # type: ignore[no-any-return]


def login_name() -> str:
    """The login name tried, as the key of its own counter (names are case-insensitive here)."""
    return "name:" + (request.form.get("username") or "").strip().lower()[:64]


def failed(response: Any) -> bool:
    """A sign-in that did not sign anyone in (the form comes back with its error)."""
    return bool(response.status_code != 302)


# Decorators for the views: a sign-in counts against the name and the address only when it fails,
# so a room of operators behind one address signing in each morning is never held up.
per_address = limiter.limit(
    lambda: _settings().login_limit_address, methods=["POST"], deduct_when=failed, scope="login-address"
)
per_name = limiter.limit(
    lambda: _settings().login_limit_account,
    key_func=login_name,
    methods=["POST"],
    deduct_when=failed,
    scope="login-name",
)
# Every lookup counts, found or not: a walk through case numbers and phones is what it stops.
status_lookups = limiter.limit(lambda: _settings().status_limit, methods=["POST"], scope="status")


def link_user() -> str:
    """The counter of a one-tap link's wrong PINs: its user's, so that each new link shares it."""
    token = str((request.view_args or {}).get("token", ""))
    settings = _settings()
    grant = read_token(token, current_app.config["SECRET_KEY"], settings.act_link_age, datetime.now(UTC))
    return "link-pin:" + (str(grant.user_id) if isinstance(grant, Grant) else "none")


# A wrong PIN counts against the link's user, as a failed sign-in against its login name.
link_pins = limiter.limit(
    lambda: _settings().login_limit_account,
    key_func=link_user,
    methods=["POST"],
    deduct_when=lambda response: bool(g.get("pin_refused")),
    scope="link-pin",
)
