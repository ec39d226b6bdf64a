"""The whole system, started once per test session: Prefect server, worker, dispatcher, web app, mail sink."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from models.db import get_sessionmaker
from models.reference.tables import User
from scripts.stack import Stack
from tests.e2e.web import WebUser
from tests.helpers import HttpSink, artifacts, free_port
from tests.pg import create_database, postgres_url


@pytest.fixture(scope="session")
def http_sink() -> Iterator[HttpSink]:
    sink = HttpSink()
    yield sink
    sink.close()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory, http_sink: HttpSink) -> Iterator[Stack]:
    instance = tmp_path_factory.mktemp("stack")
    base = postgres_url()
    if base:  # PostgreSQL for the app and for the Prefect server alike
        database_url = create_database(base, "control_room_e2e")
        prefect_database_url = create_database(base, "prefect_e2e", driver="asyncpg")
    else:
        database_url = f"sqlite:///{instance / 'control_room.sqlite'}"
        prefect_database_url = ""
    stack = Stack(
        instance=instance,
        database_url=database_url,
        prefect_database_url=prefect_database_url,
        web_port=free_port(),
        prefect_port=free_port(),
        smtp_port=free_port(),
        demo=True,
        web_workers=1,
        # scripts/start's layout (the worker runs a dispatcher), and a dispatcher of its own: the
        # fault tests stop the worker while complaints must still get their runs.
        dispatch_in_worker=True,
        dispatchers=1,
        extra_env={
            # No scheduled sweeps: the escalation tests run the sweep themselves, with their clock.
            "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false",
        },
    )
    try:
        stack.start()
        # The Collector also has an HTTP channel, after the mail: an emergency's alarm goes on both.
        with get_sessionmaker(database_url).begin() as session:
            collector = session.scalar(select(User).where(User.username == "collector"))
            assert collector is not None
            collector.notify_urls += f"\njson://127.0.0.1:{http_sink.port}/"
        yield stack
    finally:
        stack.shutdown()
        for log in sorted((instance / "logs").glob("*.log")):
            (artifacts() / log.name).write_bytes(log.read_bytes()[-200_000:])


@pytest.fixture(scope="session")
def password(stack: Stack) -> str:
    return (stack.instance / "demo-password.txt").read_text().strip()


@pytest.fixture(scope="session")
def cmho_id(stack: Stack) -> str:
    """The demo district's CMHO as the assign form names an officer: by user id, looked up by username."""
    with get_sessionmaker(stack.database_url)() as session:
        user_id = session.scalar(select(User.id).where(User.username == "cmho"))
    assert user_id is not None
    return str(user_id)


@pytest.fixture
def users(stack: Stack, password: str) -> Iterator[dict[str, WebUser]]:
    made = {name: WebUser(stack.web_url, name, password) for name in ("operator", "dm", "cmho", "collector")}
    yield made
    for user in made.values():
        user.close()


@pytest.fixture(autouse=True)
def every_part_running(stack: Stack) -> None:
    """The fault tests stop parts of the stack; one that failed half-way must not take later tests with it."""
    starters = {
        "prefect-server": stack.start_prefect_server,
        "mailsink": stack.start_mail_sink,
        **({"launcher": stack.start_launcher} if stack.launcher_apart else {}),  # else the worker forks it
        "worker": stack.start_worker,
        "dispatcher": stack.start_dispatcher,
    }
    for name, start in starters.items():
        proc = stack.procs.get(name)
        if proc is None or proc.poll() is not None:
            start()
