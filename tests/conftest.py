"""Fixtures: settings on a fresh real database per test, the app, a client, personas."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from models.config import Settings
from models.db import Base, get_engine, get_sessionmaker
from models.demo import seed
from models.reference.tables import User
from tests.pg import create_database, drop_database, postgres_url

PASSWORD = "correct horse battery"
# Cheap hash for tests: scrypt costs ~145 ms per login.
PASSWORD_HASH = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str | None]:
    """A fresh PostgreSQL database for this test session, when TEST_DATABASE_URL is set.

    Fresh, because tables an earlier run left (CI runs on the same machine) may hold an
    older schema, which create_all would not change.
    """
    base = postgres_url()
    if base is None:
        yield None
        return
    name = f"control_room_unit_{os.getpid()}"
    yield create_database(base, name)
    drop_database(base, name)


@pytest.fixture
def database_url(tmp_path: Path, postgres_database: str | None) -> Iterator[str]:
    url = postgres_database
    if url is None:
        url = f"sqlite:///{tmp_path / 'control_room.sqlite'}"
        Base.metadata.create_all(get_engine(url))
        yield url
        return
    engine = get_engine(url)
    Base.metadata.create_all(engine)
    yield url
    # Flow tasks and the dispatcher use their own connections, so no savepoint trick: truncate.
    with engine.begin() as conn:
        tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        app_env="test",
        secret_key="test-secret",
        database_url=database_url,
        mail_dir=str(tmp_path / "mail"),
        demo=True,
        prefect_api_url="http://127.0.0.1:9/api",  # nothing listens: unit tests never reach Prefect
    )


@pytest.fixture
def app(settings: Settings) -> Flask:
    from webapp import create_app

    Base.metadata.create_all(get_engine(settings.database_url))
    return create_app(settings)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def session(settings: Settings) -> Iterator[Session]:
    with get_sessionmaker(settings.database_url)() as db:
        yield db


@pytest.fixture
def district(session: Session) -> dict[str, User]:
    """The demo district: users operator, dm, collector, admin and officers cmho, bmo, dfo, tehsildar."""
    users = seed(session, PASSWORD_HASH, mail_sink="127.0.0.1:9")
    session.commit()
    return {u.username: u for u in users}


def csrf_token(html: str, prefix: str = "") -> str:
    name = f"{prefix}-csrf_token" if prefix else "csrf_token"
    match = re.search(rf'name="{re.escape(name)}" type="hidden" value="([^"]+)"', html)
    assert match, f"no {name} in page"
    return match.group(1)


def hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{re.escape(name)}" type="hidden" value="([^"]*)"', html)
    assert match, f"no hidden {name} in page"
    return match.group(1)


def login(client: FlaskClient, username: str, password: str = PASSWORD) -> None:
    page = client.get("/login").get_data(as_text=True)
    response = client.post(
        "/login", data={"csrf_token": csrf_token(page), "username": username, "password": password}
    )
    assert response.status_code == 302, response.get_data(as_text=True)


def intake_data(client: FlaskClient, **overrides: Any) -> dict[str, Any]:
    page = client.get("/cases/new").get_data(as_text=True)
    data = {
        "csrf_token": csrf_token(page),
        "token": hidden(page, "token"),
        "caller_name": "Ramu Yadav",
        "phone": "98765 43210",
        "village": 1,
        "category": 1,
        "priority": "normal",
        "description": "Needs a hospital bed with oxygen",
    }
    data.update(overrides)
    return data


def open_case(client: FlaskClient, **overrides: Any) -> str:
    """Open a case through the form; return its number."""
    response = client.post("/cases/new", data=intake_data(client, **overrides))
    assert response.status_code == 302, response.get_data(as_text=True)
    return response.headers["Location"].rsplit("/", 1)[-1]


def decision_data(client: FlaskClient, number: str, action: str, **fields: Any) -> dict[str, Any]:
    page = client.get(f"/cases/{number}").get_data(as_text=True)
    data = {
        f"{action}-csrf_token": csrf_token(page, action),
        f"{action}-version": hidden(page, f"{action}-version"),
    }
    data.update({f"{action}-{k}": v for k, v in fields.items()})
    return data


def decide(client: FlaskClient, number: str, action: str, **fields: Any) -> Any:
    return client.post(f"/cases/{number}/{action}", data=decision_data(client, number, action, **fields))


def unique() -> str:
    return uuid.uuid4().hex[:8]
