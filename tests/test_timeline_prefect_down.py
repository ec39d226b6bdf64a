"""The timeline when Prefect is down or hung: the page answers within the deadline, nobody else waits."""

from __future__ import annotations

import socket
import socketserver
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from flask import Flask
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from models.config import Settings
from models.db import get_engine
from models.reference.tables import User
from tests.casedata import make_case
from tests.conftest import PASSWORD, csrf_token, login
from tests.helpers import free_port

DEADLINE = 1.0  # seconds: Settings.prefect_read_timeout in these tests
MARGIN = 2.0  # seconds on top, for a busy test machine
NOTICE = "History from the engine is unavailable just now"


class HungPrefect:
    """A TCP server that accepts connections, reads what it is sent and never answers."""

    def __init__(self) -> None:
        self.accepted = threading.Semaphore(0)
        self.stop = threading.Event()
        hung = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                hung.accepted.release()
                self.request.settimeout(0.1)
                while not hung.stop.is_set():
                    try:
                        if not self.request.recv(65536):
                            return  # the client gave up and closed
                    except TimeoutError:
                        continue
                # Close at once, so a read still waiting ends now rather than at its timeout.
                self.request.shutdown(socket.SHUT_RDWR)

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for_a_read(self, timeout: float = 10.0) -> None:
        """Return once a read has reached the server and is hanging there."""
        assert self.accepted.acquire(timeout=timeout), "the timeline never asked Prefect"

    def close(self) -> None:
        """Stop; the reads still waiting end at once. Closing twice is harmless."""
        if not self.stop.is_set():
            self.stop.set()
            self.server.shutdown()
            self.server.server_close()


@pytest.fixture
def hung() -> Iterator[HungPrefect]:
    server = HungPrefect()
    yield server
    server.close()


@pytest.fixture
def number(session: Session, district: dict[str, User]) -> str:
    """A case the dispatcher has handed to Prefect: it has a flow run to read."""
    case = make_case(session, district["operator"], datetime.now(UTC))
    case.flow_run_id = str(uuid.uuid4())
    session.commit()
    return case.number


def app_for(settings: Settings, prefect_api_url: str, deadline: float = DEADLINE) -> Flask:
    import prefect.client.orchestration  # noqa: F401 - its first import (a second or so) is not what is timed

    from webapp import create_app

    return create_app(replace(settings, prefect_api_url=prefect_api_url, prefect_read_timeout=deadline))


def timed_get(client: Any, path: str) -> tuple[Any, float]:
    started = time.monotonic()
    response = client.get(path)
    return response, time.monotonic() - started


def test_it_shows_the_timeline_without_a_hung_prefect(
    settings: Settings, hung: HungPrefect, number: str
) -> None:
    client = app_for(settings, hung.url).test_client()
    login(client, "collector")
    response, took = timed_get(client, f"/cases/{number}/timeline")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert took < DEADLINE + MARGIN, f"the page waited {took:.1f} s on Prefect"
    hung.wait_for_a_read(timeout=0)  # it did ask, and gave up at the deadline
    assert NOTICE in page
    assert "Sunita Operator" in page  # the case's own events are still there


def test_it_shows_the_notice_at_once_when_prefect_refuses(settings: Settings, number: str) -> None:
    deadline = 3.0
    client = app_for(settings, f"http://127.0.0.1:{free_port()}/api", deadline).test_client()
    login(client, "collector")
    response, took = timed_get(client, f"/cases/{number}/timeline")
    assert response.status_code == 200
    assert NOTICE in response.get_data(as_text=True)
    # Refused is an answer: no waiting out the deadline, nor retrying with backoff.
    assert took < 1.0, f"the page took {took:.1f} s"


def test_it_holds_no_database_connection_while_it_waits_on_prefect(
    settings: Settings, hung: HungPrefect, number: str
) -> None:
    client = app_for(settings, hung.url, deadline=10.0).test_client()
    login(client, "collector")
    pool = get_engine(settings.database_url).pool
    assert pool.checkedout() == 0  # type: ignore[attr-defined]
    responses: list[Any] = []
    request = threading.Thread(target=lambda: responses.append(client.get(f"/cases/{number}/timeline")))
    request.start()
    hung.wait_for_a_read()
    try:
        assert pool.checkedout() == 0, "the timeline holds a connection while Prefect hangs"  # type: ignore[attr-defined]
    finally:
        hung.close()  # the read fails now, well before its deadline
        request.join(timeout=30)
    assert responses[0].status_code == 200
    assert NOTICE in responses[0].get_data(as_text=True)


def live_login(base: str, username: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=60)
    page = client.get("/login").text
    response = client.post(
        "/login", data={"csrf_token": csrf_token(page), "username": username, "password": PASSWORD}
    )
    assert response.status_code == 302, response.text
    return client


def test_it_serves_the_operator_while_many_timelines_wait_on_a_hung_prefect(
    settings: Settings, hung: HungPrefect, number: str
) -> None:
    app = app_for(settings, hung.url, deadline=2.0)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    base = f"http://127.0.0.1:{server.server_port}"
    pool = get_engine(settings.database_url).pool
    # More timelines at once than the engine has connections (models/db.py).
    many = pool.size() + getattr(pool, "_max_overflow", 0) + 1  # type: ignore[attr-defined]
    collector, operator = live_login(base, "collector"), live_login(base, "operator")
    results: list[tuple[int, str, float]] = []

    def view() -> None:
        with httpx.Client(base_url=base, cookies=collector.cookies, timeout=60) as client:
            response, took = timed_get(client, f"/cases/{number}/timeline")
            results.append((response.status_code, response.text, took))

    viewers = [threading.Thread(target=view) for _ in range(many)]
    try:
        for viewer in viewers:
            viewer.start()
        hung.wait_for_a_read()
        response, took = timed_get(operator, "/cases/new")
        assert response.status_code == 200
        assert took < 2.0, f"the operator waited {took:.1f} s"
        for viewer in viewers:
            viewer.join(timeout=60)
        assert len(results) == many
        assert all(status == 200 and NOTICE in text for status, text, _ in results)
        assert max(took for _, _, took in results) < 2.0 + MARGIN
    finally:
        hung.close()  # let the reads still waiting end now
        server.shutdown()
        server.server_close()
        collector.close()
        operator.close()
