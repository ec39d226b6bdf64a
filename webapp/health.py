"""GET /healthz: is the app database answering, and is the outbox handed to Prefect in time.

For nginx and monitors: no login, and nothing about a case or a person in the answer.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from models.outbox import lag, parked_count
from webapp.db import get_session

bp = Blueprint("health", __name__)

# A dispatcher polls every DISPATCH_INTERVAL (0.5 s) and hands a row over in well under a second:
# a row due this long means no dispatcher is running, or they cannot keep up.
LAG_LIMIT = 60.0


@bp.route("/healthz")
def healthz() -> Any:
    """200 with "ok" or "degraded" while the database answers; 503 with "down" when it cannot serve."""
    report: dict[str, Any] = {"status": "down", "database": False, "outbox_lag_seconds": None, "parked": None}
    try:
        db = get_session()
        db.execute(text("SELECT 1"))
        report["database"] = True
        report["outbox_lag_seconds"] = round(lag(db, datetime.now(UTC)), 1)
        report["parked"] = parked_count(db)
    except (SQLAlchemyError, OSError) as exc:  # OSError: a SQLite file that cannot be opened
        # The reason goes to the log, not the answer: a driver's message may name hosts and users.
        current_app.logger.warning("health check: the database did not answer: %s", exc)
        return _answer(report, 503)
    late = report["outbox_lag_seconds"] > LAG_LIMIT
    report["status"] = "degraded" if late or report["parked"] else "ok"
    return _answer(report, 200)


def _answer(report: dict[str, Any], code: int) -> Any:
    response = jsonify(report)
    response.status_code = code
    response.headers["Cache-Control"] = "no-store"  # a proxy must not answer for a dead app
    return response
