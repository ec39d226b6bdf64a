"""One database session per request, closed (and rolled back if uncommitted) at teardown."""

from __future__ import annotations

from flask import current_app, g
from sqlalchemy.orm import Session

from models.db import get_sessionmaker


def get_session() -> Session:
    if "db_session" not in g:
        g.db_session = get_sessionmaker(current_app.config["SETTINGS"].database_url)()
    return g.db_session  # type: ignore[no-any-return]


def close_session(_exc: BaseException | None = None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()
