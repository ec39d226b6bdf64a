"""GET /healthz: the database, the outbox's lag and its parked rows, for monitors (no login)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from models.config import Settings
from models.outbox import Outbox
from webapp import create_app

FIELDS = {"status", "database", "outbox_lag_seconds", "parked", "dispatchers"}


def row(session: Session, **values: Any) -> Outbox:
    """An advisory's hand-off (no case), due now unless values say otherwise."""
    outbox = Outbox(kind="advisory", payload={"advisory_id": 1}, **values)
    session.add(outbox)
    session.commit()
    return outbox


def test_it_answers_ok_without_a_login(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {
        "status": "ok",
        "database": True,
        "outbox_lag_seconds": 0.0,
        "parked": 0,
        "dispatchers": 0,
    }
    assert response.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in response.headers


def test_it_shows_how_long_the_oldest_due_row_has_waited(client: FlaskClient, session: Session) -> None:
    now = datetime.now(UTC)
    row(session, next_attempt_at=now - timedelta(seconds=300))
    row(session, next_attempt_at=now - timedelta(seconds=30))
    report = client.get("/healthz").get_json()
    assert 300 <= report["outbox_lag_seconds"] < 330
    assert report["status"] == "degraded"  # no dispatcher has taken a row due for five minutes
    assert set(report) == FIELDS


@pytest.mark.parametrize(
    "waiting",
    [
        {"claimed_until": timedelta(seconds=30)},  # a dispatcher is handing it over
        {"next_attempt_at": timedelta(seconds=20)},  # retried later: Prefect said not yet
        {"done_at": timedelta(seconds=0)},  # handed over
    ],
    ids=["claimed", "not yet due", "done"],
)
def test_it_counts_no_lag_for_rows_no_dispatcher_should_take(
    client: FlaskClient, session: Session, waiting: dict[str, timedelta]
) -> None:
    now = datetime.now(UTC)
    values = {"next_attempt_at": now - timedelta(seconds=600)}
    values |= {name: now + delta for name, delta in waiting.items()}
    row(session, **values)
    report = client.get("/healthz").get_json()
    assert report["outbox_lag_seconds"] == 0.0
    assert report["status"] == "ok"


def test_it_counts_parked_rows_apart_from_the_lag(client: FlaskClient, session: Session) -> None:
    now = datetime.now(UTC)
    for _ in range(2):
        row(
            session,
            next_attempt_at=now - timedelta(hours=1),
            parked_at=now,
            last_error="the run was cancelled",
        )
    response = client.get("/healthz")
    assert response.status_code == 200  # the database answers: a person must look, the app still works
    assert response.get_json() == {
        "status": "degraded",
        "database": True,
        "outbox_lag_seconds": 0.0,
        "parked": 2,
        "dispatchers": 0,
    }


def test_it_answers_503_when_the_database_does_not_answer(settings: Settings) -> None:
    unreachable = replace(settings, database_url="postgresql+psycopg://nobody@127.0.0.1:9/control_room")
    response = create_app(unreachable).test_client().get("/healthz")
    assert response.status_code == 503
    assert response.is_json
    assert response.get_json() == {
        "status": "down",
        "database": False,
        "outbox_lag_seconds": None,
        "parked": None,
        "dispatchers": None,
    }
