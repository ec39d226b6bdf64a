"""PostgreSQL for tests: TEST_DATABASE_URL switches the suite onto it (CI runs both)."""

from __future__ import annotations

import os

import psycopg
from sqlalchemy.engine import make_url


def postgres_url() -> str | None:
    return os.environ.get("TEST_DATABASE_URL") or None


def _admin(base_url: str) -> psycopg.Connection:  # type: ignore[type-arg]
    url = make_url(base_url)
    host, port = url.host or "127.0.0.1", url.port or 5432
    return psycopg.connect(host=host, port=port, user=url.username, dbname="postgres", autocommit=True)


def create_database(base_url: str, name: str, driver: str = "psycopg") -> str:
    """(Re)create database `name` on base_url's server; return its SQLAlchemy URL."""
    url = make_url(base_url)
    with _admin(base_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return url.set(database=name, drivername=f"postgresql+{driver}").render_as_string(hide_password=False)


def drop_database(base_url: str, name: str) -> None:
    with _admin(base_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
