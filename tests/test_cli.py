"""Admin commands: users with passwords from standard input, CSV loading, the demo seed."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash

from models.config import Settings
from models.reference.tables import User
from webapp import create_app


def test_it_creates_a_user_with_a_password_from_stdin(app: Flask, session: Session) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "create-user",
            "asha",
            "--role",
            "dm",
            "--name",
            "आशा वर्मा",
            "--notify",
            "mailto://a@b.c",
            "--language",
            "hi",
        ],
        input="a long password\n",
    )
    assert result.exit_code == 0, result.output
    user = session.scalar(select(User).where(User.username == "asha"))
    assert user is not None and user.role == "dm" and user.name == "आशा वर्मा" and user.language == "hi"
    assert check_password_hash(user.password_hash, "a long password")
    assert user.channel_urls == ["mailto://a@b.c"]


def test_it_refuses_a_short_password(app: Flask, session: Session) -> None:
    result = app.test_cli_runner().invoke(
        args=["create-user", "x", "--role", "dm", "--name", "X"], input="short\n"
    )
    assert result.exit_code != 0 and "at least 8" in result.output
    assert session.scalar(select(User)) is None


def test_it_loads_csv_all_or_nothing(app: Flask, session: Session, tmp_path: Path) -> None:
    good = tmp_path / "departments.csv"
    good.write_text("code,name,name_hi\nhealth,Health,स्वास्थ्य\n", encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["load-csv", "departments", str(good)])
    assert result.exit_code == 0 and "1 created" in result.output
    bad = tmp_path / "officers.csv"
    bad.write_text("username,name,department\nasha,Asha,health\nravi,Ravi,police\n", encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["load-csv", "officers", str(bad)])
    assert result.exit_code != 0
    assert "line 3: unknown department 'police'" in result.output
    assert session.scalars(select(User)).all() == []


def test_it_seeds_only_in_demo_mode(settings: Settings, session: Session) -> None:
    app = create_app(Settings(**{**settings.__dict__, "demo": False}))
    result = app.test_cli_runner().invoke(args=["seed-demo"])
    assert result.exit_code != 0 and "CONTROL_ROOM_DEMO" in result.output
    assert session.scalars(select(User)).all() == []
