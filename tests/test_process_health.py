"""Every process alive: the dispatchers' beats, /healthz's count of them, and the admin's /admin/health page
with Prefect up (a stand-in API server), refusing and hung. Real databases; no Prefect server needed."""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dispatch.loop import run, worker_name
from models.config import Settings
from models.processes import BEAT, FORGOTTEN, STALE, ProcessBeat, alive, beat, recent
from models.reference.tables import User
from models.times import aware
from tests.conftest import login
from tests.helpers import free_port
from tests.test_timeline_prefect_down import HungPrefect
from webapp import create_app

NOW = datetime(2027, 3, 10, 6, 0, tzinfo=UTC)
NOT_ANSWERED = "Prefect did not answer."


def dispatcher(session: Session, host: str, seen: datetime, handed: int = 0) -> None:
    beat(session, f"{host}:4242", "dispatcher", host, 4242, seen - timedelta(hours=1), seen, handed)
    session.commit()


def page(settings: Settings, **changes: Any) -> FlaskClient:
    import prefect.client.orchestration  # noqa: F401 - its first import (a second or so) is not what is timed

    client = create_app(replace(settings, **changes)).test_client()
    login(client, "admin")
    return client


def row_of(html: str, host: str) -> str:
    start = html.index(f'<td data-label="Dispatcher"><code>{host}</code> ')
    return html[start : html.index("</tr>", start)]


def test_it_keeps_one_row_per_process_and_moves_its_seen_at(session: Session) -> None:
    dispatcher(session, "web-1", NOW, handed=3)
    dispatcher(session, "web-1", NOW + BEAT, handed=5)
    rows = session.scalars(select(ProcessBeat)).all()
    assert len(rows) == 1
    assert aware(rows[0].seen_at) == NOW + BEAT
    assert aware(rows[0].started_at) == NOW + BEAT - timedelta(hours=1)
    assert rows[0].handed == 5


def test_it_takes_a_process_unseen_for_three_beats_for_stale(session: Session) -> None:
    dispatcher(session, "a", NOW)
    (row,) = recent(session, "dispatcher", NOW)
    assert alive(row, NOW + STALE)
    assert not alive(row, NOW + STALE + timedelta(seconds=1))
    assert recent(session, "dispatcher", NOW + FORGOTTEN + timedelta(seconds=1)) == []  # gone a day: left off


def test_the_dispatchers_loop_records_its_beat(settings: Settings, session: Session) -> None:
    before = datetime.now(UTC)
    run(settings, stop_after=0.3)  # no outbox rows: one idle turn of the loop, no Prefect needed
    row = session.get(ProcessBeat, worker_name())
    assert row is not None
    assert (row.kind, row.pid, row.handed) == ("dispatcher", os.getpid(), 0)
    assert aware(row.seen_at) >= before
    assert session.scalar(select(func.count()).select_from(ProcessBeat)) == 1


def test_healthz_counts_the_dispatchers_alive(client: FlaskClient, session: Session) -> None:
    assert client.get("/healthz").get_json()["dispatchers"] == 0  # monitors see: no dispatcher running
    now = datetime.now(UTC)
    dispatcher(session, "a", now)
    dispatcher(session, "b", now - timedelta(seconds=5))
    dispatcher(session, "c", now - STALE - timedelta(seconds=5))
    report = client.get("/healthz").get_json()
    assert report["dispatchers"] == 2
    assert report["status"] == "ok"


def test_it_shows_each_dispatcher_alive_or_stale_and_prefect_not_answering(
    settings: Settings, session: Session, district: dict[str, User]
) -> None:
    now = datetime.now(UTC)
    dispatcher(session, "dispatch-live", now - timedelta(seconds=4), handed=7)
    dispatcher(session, "dispatch-dead", now - timedelta(minutes=5))
    dispatcher(session, "dispatch-gone", now - FORGOTTEN - timedelta(hours=1))
    port = free_port()  # nothing listens there
    client = page(settings, prefect_api_url=f"http://127.0.0.1:{port}/api", prefect_read_timeout=1.0)
    started = time.monotonic()
    response = client.get("/admin/health")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert time.monotonic() - started < 3.0
    live, dead = row_of(html, "dispatch-live"), row_of(html, "dispatch-dead")
    assert "alive" in live and "7 hand-offs" in live
    assert any(f"{s} seconds ago" in live for s in range(4, 9))
    assert "stale" in dead and "5 minutes ago" in dead
    assert "dispatch-gone" not in html
    assert NOT_ANSWERED in html
    assert 'id="node"' in html  # this node's facts are there all the same


@pytest.mark.parametrize(("who", "status"), [("operator", 403), ("dm", 403), ("collector", 403)])
def test_only_the_admin_sees_it(
    client: FlaskClient, district: dict[str, User], who: str, status: int
) -> None:
    login(client, who)
    assert client.get("/admin/health").status_code == status


def test_a_visitor_is_sent_to_sign_in(client: FlaskClient) -> None:
    response = client.get("/admin/health")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_it_answers_within_the_deadline_when_prefect_hangs(
    settings: Settings, district: dict[str, User]
) -> None:
    hung = HungPrefect()
    try:
        client = page(settings, prefect_api_url=hung.url, prefect_read_timeout=1.0)
        started = time.monotonic()
        response = client.get("/admin/health")
        took = time.monotonic() - started
        hung.wait_for_a_read(timeout=0)
    finally:
        hung.close()
    assert response.status_code == 200
    assert took < 3.0, f"the page waited {took:.1f} s on Prefect"
    assert NOT_ANSWERED in response.get_data(as_text=True)


class StandInPrefect:
    """Prefect's API as far as the page reads it: GET /api/health, POST the work pool's workers/filter."""

    def __init__(self, workers: list[dict[str, Any]] | None) -> None:
        stand_in = self
        self.asked: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                if self.path == "/api/health":
                    stand_in.asked.append(f"GET {self.path}")
                    self.reply(200, True)
                elif self.path.startswith("/api/csrf-token"):  # what a server with its default settings says
                    self.reply(422, {"detail": "CSRF protection is disabled."})
                else:
                    self.reply(404, {"detail": "Not Found"})

            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                stand_in.asked.append(f"POST {self.path}")
                if self.path == "/api/work_pools/control-room/workers/filter" and workers is not None:
                    self.reply(200, workers)
                else:
                    self.reply(404, {"detail": "Work pool not found."})

            def reply(self, code: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def worker(name: str, status: str, heartbeat: datetime) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "created": heartbeat.isoformat(),
        "updated": heartbeat.isoformat(),
        "name": name,
        "work_pool_id": str(uuid.uuid4()),
        "last_heartbeat_time": heartbeat.isoformat(),
        "heartbeat_interval_seconds": 30,
        "status": status,
    }


@pytest.fixture
def prefect_answering() -> Iterator[StandInPrefect]:
    now = datetime.now(UTC)
    server = StandInPrefect(
        [
            worker("ProcessWorker-b", "OFFLINE", now - timedelta(minutes=10)),
            worker("ProcessWorker-a", "ONLINE", now - timedelta(seconds=12)),
        ]
    )
    yield server
    server.close()


def test_it_lists_the_work_pools_workers_with_prefects_own_status(
    settings: Settings, district: dict[str, User], prefect_answering: StandInPrefect
) -> None:
    client = page(settings, prefect_api_url=prefect_answering.url)
    html = client.get("/admin/health").get_data(as_text=True)
    assert "The Prefect server answers." in html
    assert NOT_ANSWERED not in html
    workers = html[html.index('id="workers"') :]
    a, b = workers.index("ProcessWorker-a"), workers.index("ProcessWorker-b")
    assert a < b  # by name
    assert "online" in workers[a:b] and "offline" in workers[b:]
    assert "10 minutes ago" in workers[b:]
    assert prefect_answering.asked == ["GET /api/health", "POST /api/work_pools/control-room/workers/filter"]


def test_it_says_when_prefect_has_no_such_work_pool(settings: Settings, district: dict[str, User]) -> None:
    server = StandInPrefect(None)
    try:
        html = page(settings, prefect_api_url=server.url).get("/admin/health").get_data(as_text=True)
    finally:
        server.close()
    assert "The Prefect server answers." in html
    assert "Prefect has no work pool control-room" in html
