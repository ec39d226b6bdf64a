"""Settings: working defaults, strict parsing, refusals in production."""

from __future__ import annotations

import pytest

from models.config import ImproperlyConfigured, Settings


def test_it_runs_a_fresh_checkout_on_sqlite(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "APP_ENV", "SECRET_KEY", "CONTROL_ROOM_DEMO"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings.from_env()
    assert settings.database_url.startswith("sqlite:///") and settings.database_url.endswith(
        "control_room.sqlite"
    )
    assert settings.demo is False


def test_it_names_the_district_in_each_language(monkeypatch: pytest.MonkeyPatch) -> None:
    assert (Settings().district_for("en"), Settings().district_for("hi")) == ("Surajpur", "सूरजपुर")
    monkeypatch.setenv("DISTRICT_NAME", "Balrampur")
    monkeypatch.setenv("DISTRICT_NAME_HI", "बलरामपुर")
    settings = Settings.from_env()
    assert (settings.district_for("en"), settings.district_for("hi")) == ("Balrampur", "बलरामपुर")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CONTROL_ROOM_DEMO": "maybe"}, "CONTROL_ROOM_DEMO must be true or false"),
        ({"APP_ENV": "staging"}, "APP_ENV must be"),
        (
            {"APP_ENV": "production", "SECRET_KEY": "s3cret", "CONTROL_ROOM_DEMO": "true"},
            "cannot be on in production",
        ),
        ({"NOTIFY_TIMEOUT": "ten"}, "NOTIFY_TIMEOUT must be a number"),
        ({"DISTRICT_PREFIX": "S-R"}, "DISTRICT_PREFIX"),
    ],
)
def test_it_refuses_bad_settings(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ImproperlyConfigured, match=message):
        Settings.from_env()
