"""Sign-ins held on the server: logout, password change and the admin end them; the secret key;
Secure cookies; throttled sign-ins that take the same time for every name; sign-ins in the audit log."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from models.access.tables import LoginSession
from models.config import DEV_SECRET, ImproperlyConfigured, Settings
from models.oversight.tables import AuditEntry
from models.reference.tables import User
from tests.conftest import PASSWORD, csrf_token, login


def cookie(client: FlaskClient) -> str:
    found = client.get_cookie("session")
    assert found is not None
    return found.value


def post_login(client: FlaskClient, username: str, password: str, path: str = "/login") -> int:
    page = client.get("/login").get_data(as_text=True)
    response = client.post(
        path, data={"csrf_token": csrf_token(page), "username": username, "password": password}
    )
    return response.status_code


def test_it_ends_a_saved_cookie_at_logout(app: Flask, district: dict[str, User]) -> None:
    browser = app.test_client()
    login(browser, "dm")
    saved = cookie(browser)
    page = browser.get("/queue").get_data(as_text=True)
    browser.post("/logout", data={"csrf_token": csrf_token(page)})
    thief = app.test_client()
    thief.set_cookie("session", saved)
    response = thief.get("/queue")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_it_refuses_a_forged_cookie_even_with_the_key(app: Flask, district: dict[str, User]) -> None:
    # Whoever holds the signing key can write any cookie; without a live session's token it signs no one in.
    forger = app.test_client()
    with forger.session_transaction() as forged:
        forged["_user_id"] = str(district["admin"].id)
        forged["_fresh"] = True
        forged["sid"] = "made-up"
    assert forger.get("/admin/outbox").status_code == 302


def test_it_signs_out_after_the_idle_limit(
    client: FlaskClient, session: Session, district: dict[str, User]
) -> None:
    login(client, "operator")
    assert client.get("/queue").status_code == 200
    session.execute(update(LoginSession).values(last_seen_at=datetime.now(UTC) - timedelta(minutes=121)))
    session.commit()
    assert client.get("/queue").status_code == 302
    session.expire_all()
    assert session.scalar(select(LoginSession.end_reason)) == "idle"


def test_it_ends_every_other_sign_in_on_a_password_change(
    app: Flask, session: Session, district: dict[str, User]
) -> None:
    phone, desk = app.test_client(), app.test_client()
    login(phone, "cmho")
    login(desk, "cmho")
    page = desk.get("/account/password").get_data(as_text=True)
    short = desk.post(
        "/account/password",
        data={"csrf_token": csrf_token(page), "current": PASSWORD, "new": "short", "again": "short"},
    )
    assert short.status_code == 400 and "At least 10 characters" in short.get_data(as_text=True)
    wrong = desk.post(
        "/account/password",
        data={
            "csrf_token": csrf_token(page),
            "current": "guess",
            "new": "a much longer one",
            "again": "a much longer one",
        },
    )
    assert wrong.status_code == 400 and "not your current password" in wrong.get_data(as_text=True)
    done = desk.post(
        "/account/password",
        data={
            "csrf_token": csrf_token(page),
            "current": PASSWORD,
            "new": "नया पासवर्ड 2026",
            "again": "नया पासवर्ड 2026",
        },
    )
    assert done.status_code == 302
    assert desk.get("/queue").status_code == 200  # this browser stays signed in
    assert phone.get("/queue").status_code == 302  # the other does not
    stranger = app.test_client()
    assert post_login(stranger, "cmho", PASSWORD) == 400
    assert post_login(stranger, "cmho", "नया पासवर्ड 2026") == 302


def test_it_lets_the_admin_sign_a_user_out_everywhere(
    app: Flask, session: Session, district: dict[str, User]
) -> None:
    officer, admin = app.test_client(), app.test_client()
    login(officer, "bmo")
    login(admin, "admin")
    page = admin.get("/admin/sessions").get_data(as_text=True)
    assert "bmo" in page
    response = admin.post(
        f"/admin/users/{district['bmo'].id}/sign-out", data={"csrf_token": csrf_token(page)}
    )
    assert response.status_code == 302
    assert officer.get("/queue").status_code == 302
    assert admin.get("/queue").status_code == 200
    assert ("sign-out-everywhere", "bmo") in {
        (e.action, e.target)
        for e in session.scalars(select(AuditEntry).where(AuditEntry.user_id == district["admin"].id))
    }
    assert (
        admin.post("/admin/users/999999/sign-out", data={"csrf_token": csrf_token(page)}).status_code == 404
    )


@pytest.mark.parametrize("role", ["operator", "dm", "cmho", "collector"])
def test_it_keeps_the_sign_in_list_to_the_admin(
    client: FlaskClient, district: dict[str, User], role: str
) -> None:
    login(client, role)
    assert client.get("/admin/sessions").status_code == 403


def test_it_needs_a_secret_key_outside_development(settings: Settings) -> None:
    from webapp import create_app

    for env in ("production", "test"):
        for key in ("", DEV_SECRET):
            with pytest.raises(ImproperlyConfigured, match="SECRET_KEY must be set"):
                create_app(replace(settings, app_env=env, secret_key=key, demo=False))
    assert create_app(replace(settings, app_env="development", secret_key="")).secret_key == DEV_SECRET


def test_it_is_production_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("APP_ENV", "SECRET_KEY", "CONTROL_ROOM_DEMO"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings.from_env()
    assert settings.app_env == "production"
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY must be set"):
        settings.signing_secret()


def test_it_sends_the_cookie_over_https_only_in_production(
    settings: Settings, district: dict[str, User]
) -> None:
    from webapp import create_app

    plain = replace(settings, app_env="production", demo=False, public_url="http://10.0.0.5:5000")
    client = create_app(plain).test_client()
    page = client.get("/login", base_url="https://10.0.0.5").get_data(as_text=True)
    response = client.post(
        "/login",
        base_url="https://10.0.0.5",
        headers={"Referer": "https://10.0.0.5/login"},  # Flask-WTF checks it over HTTPS
        data={"csrf_token": csrf_token(page), "username": "dm", "password": PASSWORD},
    )
    assert response.status_code == 302
    assert "Secure" in response.headers["Set-Cookie"] and "HttpOnly" in response.headers["Set-Cookie"]


@pytest.mark.parametrize(
    "target",
    [
        "/\t/evil.example",
        "/\n/evil.example",
        "/\\evil.example",
        "/\\/evil.example",
        "https://evil.example",
    ],
)
def test_it_never_redirects_off_site(client: FlaskClient, district: dict[str, User], target: str) -> None:
    page = client.get("/login").get_data(as_text=True)
    response = client.post(
        "/login",
        query_string={"next": target},
        data={"csrf_token": csrf_token(page), "username": "dm", "password": PASSWORD},
    )
    assert response.status_code == 302 and response.headers["Location"] == "/queue"
    page = client.get("/queue").get_data(as_text=True)
    response = client.post(
        "/language", data={"csrf_token": csrf_token(page), "language": "hi", "next": target}
    )
    assert response.status_code == 302 and response.headers["Location"] == "/queue"


@pytest.mark.parametrize(
    "raw", ["/%09/evil.example", "/%0A/evil.example", "/%0D%0ALocation:%20//evil.example"]
)
def test_it_never_redirects_off_site_from_an_encoded_next(
    client: FlaskClient, district: dict[str, User], raw: str
) -> None:
    page = client.get("/login").get_data(as_text=True)
    response = client.post(
        f"/login?next={raw}", data={"csrf_token": csrf_token(page), "username": "dm", "password": PASSWORD}
    )
    assert response.status_code == 302 and response.headers["Location"] == "/queue"


def test_it_throttles_failed_sign_ins_per_name(app: Flask, district: dict[str, User]) -> None:
    # From ten addresses, so that only the name's own limit (10 per 15 minutes) can stop them.
    for attempt in range(10):
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = f"10.1.0.{attempt}"
        assert post_login(client, "dm", "wrong") == 400
    late = app.test_client()
    late.environ_base["REMOTE_ADDR"] = "10.1.0.99"
    page = late.get("/login").get_data(as_text=True)
    response = late.post(
        "/login", data={"csrf_token": csrf_token(page), "username": "DM", "password": PASSWORD}
    )
    assert response.status_code == 429 and "Too many attempts" in response.get_data(as_text=True)
    assert int(response.headers["Retry-After"]) > 0
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "10.1.0.100"
    assert post_login(other, "collector", PASSWORD) == 302  # another name is not held up


def test_it_throttles_failed_sign_ins_per_address(app: Flask, district: dict[str, User]) -> None:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "10.2.0.1"
    for attempt in range(30):
        assert post_login(client, f"guess{attempt}", "wrong") == 400
    assert post_login(client, "dm", PASSWORD) == 429
    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "10.2.0.2"
    assert post_login(elsewhere, "dm", PASSWORD) == 302


def test_it_shares_the_count_between_web_processes(settings: Settings, district: dict[str, User]) -> None:
    from webapp import create_app

    # Two apps: two gunicorn workers, with nothing in common but the database.
    first, second = create_app(settings).test_client(), create_app(settings).test_client()
    for client in (first, second):
        client.environ_base["REMOTE_ADDR"] = "10.3.0.1"
    for attempt in range(30):
        assert post_login(first if attempt % 2 else second, f"guess{attempt}", "wrong") == 400
    assert post_login(first, "dm", PASSWORD) == 429
    assert post_login(second, "dm", PASSWORD) == 429


def test_it_does_not_count_successful_sign_ins(app: Flask, district: dict[str, User]) -> None:
    # A room of operators behind one address signs in every shift.
    for _ in range(40):
        client = app.test_client()
        assert post_login(client, "operator", PASSWORD) == 302


def test_it_throttles_status_lookups(client: FlaskClient, district: dict[str, User]) -> None:
    page = client.get("/status").get_data(as_text=True)
    answers = [
        client.post(
            "/status", data={"csrf_token": csrf_token(page), "number": f"SRJ-{n}", "phone": "9876543210"}
        ).status_code
        for n in range(31)
    ]
    assert answers[:30].count(429) == 0 and answers[30] == 429


def test_it_takes_as_long_for_an_unknown_name(
    client: FlaskClient, session: Session, district: dict[str, User]
) -> None:
    # With the real hash (scrypt): an unknown name must not answer faster than a known one.
    district["dm"].password_hash = generate_password_hash(PASSWORD)
    session.commit()

    def timed(username: str) -> float:
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            assert post_login(client, username, "wrong") == 400
            best = min(best, time.perf_counter() - start)
        return best

    known, unknown = timed("dm"), timed("no-such-person")
    assert 0.5 < unknown / known < 2, (known, unknown)


def test_it_records_sign_ins_in_the_audit_log(
    client: FlaskClient, session: Session, district: dict[str, User]
) -> None:
    post_login(client, "dm", "wrong")
    post_login(client, "ghost", "wrong")
    login(client, "dm")
    page = client.get("/queue").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": csrf_token(page)})
    rows = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    assert [
        (r.user.username if r.user else None, r.action, r.target.split()[0] if r.target else "") for r in rows
    ] == [
        ("dm", "login-failed", "dm"),
        (None, "login-failed", "ghost"),
        ("dm", "login", "127.0.0.1"),
        ("dm", "logout", "127.0.0.1"),
    ]
    login(client, "collector")
    page = client.get("/audit").get_data(as_text=True)
    assert "Failed sign-in" in page and "ghost" in page


def test_behind_a_trusted_proxy_it_counts_the_persons_address(
    settings: Settings, district: dict[str, User]
) -> None:
    """Behind nginx (TRUSTED_PROXIES=1) every request comes from nginx's address: the limits count the
    address nginx names in X-Forwarded-For; without the setting that header is nobody's word."""
    from dataclasses import replace

    from webapp import create_app

    behind = create_app(replace(settings, trusted_proxies=1)).test_client()
    behind.environ_base["REMOTE_ADDR"] = "127.0.0.1"  # nginx
    for attempt in range(30):
        behind.environ_base["HTTP_X_FORWARDED_FOR"] = "203.0.113.7"
        assert post_login(behind, f"guess{attempt}", "wrong") == 400
    assert post_login(behind, "dm", PASSWORD) == 429  # that person is stopped
    behind.environ_base["HTTP_X_FORWARDED_FOR"] = "203.0.113.8"
    assert post_login(behind, "dm", PASSWORD) == 302  # the next person through nginx is not
    direct = create_app(settings).test_client()
    direct.environ_base["REMOTE_ADDR"] = "10.4.0.1"
    for attempt in range(30):
        direct.environ_base["HTTP_X_FORWARDED_FOR"] = f"198.51.100.{attempt}"  # forged: not believed
        assert post_login(direct, f"guess{attempt}", "wrong") == 400
    assert post_login(direct, "dm", PASSWORD) == 429
