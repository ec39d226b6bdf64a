"""Is every process alive: `GET /healthz` for nginx and monitors, `/admin/health` for the admin.

/healthz: no login, and nothing about a case or a person in the answer. /admin/health adds each
dispatcher (their beats in the app database) and Prefect (its API server and the work pool's workers).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, current_app, jsonify, render_template
from flask_babel import ngettext
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from models.outbox import lag, parked_count
from models.processes import STALE, alive, recent, seen_count
from models.reference.tables import Role
from models.times import aware
from webapp import runs
from webapp.auth import roles_required
from webapp.db import get_session

bp = Blueprint("health", __name__)

# A dispatcher polls every DISPATCH_INTERVAL (0.5 s; on PostgreSQL a new row wakes it) and hands a
# row over in well under a second: a row due this long means no dispatcher is running, or they cannot keep up.
LAG_LIMIT = 60.0


def node_facts(db: Session, now: datetime) -> dict[str, Any]:
    """What this web node sees in the app database: the outbox's lag, parked rows, dispatchers alive.

    :raise SQLAlchemyError: the database did not answer; OSError: a SQLite file that cannot be opened.
    """
    db.execute(text("SELECT 1"))
    return {
        "database": True,
        "outbox_lag_seconds": round(lag(db, now), 1),
        "parked": parked_count(db),
        "dispatchers": seen_count(db, "dispatcher", now - STALE),
    }


@bp.route("/healthz")
def healthz() -> Any:
    """200 with "ok" or "degraded" while the database answers; 503 with "down" when it cannot serve."""
    report: dict[str, Any] = {
        "status": "down",
        "database": False,
        "outbox_lag_seconds": None,
        "parked": None,
        "dispatchers": None,
    }
    try:
        report |= node_facts(get_session(), datetime.now(UTC))
    except (SQLAlchemyError, OSError) as exc:
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


@bp.route("/admin/health")
@roles_required(Role.admin)
def processes() -> str:
    """Every process of the system: this web node, the dispatchers, Prefect's server and workers."""
    now = datetime.now(UTC)
    db = get_session()
    try:
        node: dict[str, Any] | None = node_facts(db, now)
        dispatchers = [
            {"beat": p, "alive": alive(p, now), "ago": ago(now - aware(p.seen_at))}
            for p in recent(db, "dispatcher", now)
        ]
    except (SQLAlchemyError, OSError) as exc:
        current_app.logger.warning("health page: the database did not answer: %s", exc)
        node, dispatchers = None, []
    # Hand the connection back before Prefect is asked: a slow Prefect must not hold the pool's connections.
    db.rollback()
    engine = runs.engine_health(current_app.config["SETTINGS"])
    workers = [
        {"worker": w, "ago": ago(now - w.last_heartbeat) if w.last_heartbeat else ""} for w in engine.workers
    ]
    return render_template(
        "health/processes.html",
        node=node,
        late=node is not None and node["outbox_lag_seconds"] > LAG_LIMIT,
        dispatchers=dispatchers,
        engine=engine,
        workers=workers,
        pool=runs.WORK_POOL,
        now=now,
    )


def ago(elapsed: timedelta) -> str:
    """"12 seconds ago", "5 minutes ago", "3 hours ago": how long since a process was last seen."""
    seconds = max(0, int(elapsed.total_seconds()))
    if seconds < 120:
        return ngettext("%(num)d second ago", "%(num)d seconds ago", seconds)
    if seconds < 120 * 60:
        return ngettext("%(num)d minute ago", "%(num)d minutes ago", seconds // 60)
    return ngettext("%(num)d hour ago", "%(num)d hours ago", seconds // 3600)

