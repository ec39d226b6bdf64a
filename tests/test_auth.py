"""Logging in, and that every page but the citizen's status lookup needs it."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from models.reference.tables import User
from tests.conftest import csrf_token, login


def test_it_guards_every_page(app: Flask, client: FlaskClient, district: dict[str, User]) -> None:
    public = {"/login", "/status", "/static/<path:filename>", "/language", "/healthz", "/favicon.ico"}
    public |= {"/status/<token>", "/board/<token>"}  # signed or secret links: 404 unless real
    public |= {"/act/<token>", "/act/<token>/<action>"}  # one-tap links: a clear refusal unless real
    checked = 0
    for rule in app.url_map.iter_rules():
        # The Open311 API is public by its standard (GETs show no person; a POST needs an API key):
        # tests/test_open311.py holds its answers.
        if rule.rule in public or rule.rule.startswith("/open311/"):
            continue
        url = rule.rule
        for arg in rule.arguments:
            url = url.replace(f"<{arg}>", "x").replace(f"<int:{arg}>", "1")
        method = "GET" if "GET" in (rule.methods or ()) else "POST"
        response = client.open(url, method=method)
        if method == "POST":
            assert response.status_code == 400, url  # CSRF before anything, even for strangers
        else:
            assert response.status_code == 302 and response.headers["Location"].startswith("/login"), url
        checked += 1
    assert checked >= 8


def test_it_logs_in_and_out(client: FlaskClient, district: dict[str, User]) -> None:
    login(client, "dm")
    page = client.get("/queue").get_data(as_text=True)
    assert "Cases waiting on you" in page
    client.post("/logout", data={"csrf_token": csrf_token(page)})
    assert client.get("/queue").status_code == 302


@pytest.mark.parametrize(
    ("username", "password"), [("dm", "wrong"), ("nobody", "correct horse battery"), ("", "")]
)
def test_it_refuses_bad_credentials(
    client: FlaskClient, district: dict[str, User], username: str, password: str
) -> None:
    page = client.get("/login").get_data(as_text=True)
    response = client.post(
        "/login", data={"csrf_token": csrf_token(page), "username": username, "password": password}
    )
    assert response.status_code == 400
    assert client.get("/queue").status_code == 302


def test_it_refuses_an_account_without_a_password(
    client: FlaskClient, session, district: dict[str, User]
) -> None:  # type: ignore[no-untyped-def]
    district["dfo"].password_hash = ""
    session.commit()
    page = client.get("/login").get_data(as_text=True)
    response = client.post("/login", data={"csrf_token": csrf_token(page), "username": "dfo", "password": ""})
    assert response.status_code == 400


def test_it_never_redirects_off_site(client: FlaskClient, district: dict[str, User]) -> None:
    page = client.get("/login").get_data(as_text=True)
    response = client.post(
        "/login?next=//evil.example/x",
        data={"csrf_token": csrf_token(page), "username": "dm", "password": "correct horse battery"},
    )
    assert response.headers["Location"] == "/queue"


def test_it_remembers_the_language(client: FlaskClient, session, district: dict[str, User]) -> None:  # type: ignore[no-untyped-def]
    login(client, "dm")
    page = client.get("/queue").get_data(as_text=True)
    response = client.post(
        "/language", data={"csrf_token": csrf_token(page), "language": "hi", "next": "/queue"}
    )
    assert response.headers["Location"] == "/queue"
    session.expire_all()
    assert session.get(User, district["dm"].id).language == "hi"
    assert '<html lang="hi"' in client.get("/queue").get_data(as_text=True)


def test_it_names_the_district_in_the_pages_language(
    client: FlaskClient, session: Session, district: dict[str, User]
) -> None:
    login(client, "dm")
    english = client.get("/queue").get_data(as_text=True)
    assert '<a class="brand" href="/queue">Surajpur Control Room</a>' in english
    district["dm"].language = "hi"
    session.commit()
    page = client.get("/queue").get_data(as_text=True)
    assert '<a class="brand" href="/queue">सूरजपुर नियंत्रण कक्ष</a>' in page


def test_it_hides_the_mailbox_outside_demo_mode(
    app: Flask, client: FlaskClient, district: dict[str, User]
) -> None:
    login(client, "dm")
    assert client.get("/mailbox").status_code == 200
    app.config["SETTINGS"] = app.config["SETTINGS"].__class__(
        **{**app.config["SETTINGS"].__dict__, "demo": False}
    )
    assert client.get("/mailbox").status_code == 404
