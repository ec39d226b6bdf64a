"""Driving the running web app over real HTTP, and reading what the stack produced."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx

from notifications.mailsink import body_text, read_messages

T = TypeVar("T")

# Who is mailed about a complaint carried through every step, in order: opened, assigned, resolved
# (the operators ring the caller back), satisfied, closed.
HAND_OFFS = [
    "dm@demo.local",
    "cmho@demo.local",
    "operator@demo.local",
    "collector@demo.local",
    "operator@demo.local",
]


def wait_until(check: Callable[[], T], timeout: float = 90, every: float = 0.2, what: str = "condition") -> T:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


def http_client(base_url: str) -> httpx.Client:
    """An HTTP client that drops a kept-alive connection after 1 s idle, before the server does:
    gunicorn closes one after 2 s (uvicorn 5 s), and a request sent on it as it closes would fail
    with "Server disconnected without sending a response" (browsers and nginx resend it; httpx
    does not)."""
    return httpx.Client(base_url=base_url, timeout=30, limits=httpx.Limits(keepalive_expiry=1.0))


def field(html: str, name: str) -> str:
    match = re.search(rf'name="{re.escape(name)}" type="hidden" value="([^"]*)"', html)
    assert match, f"no {name} in page"
    return match.group(1)


class WebUser:
    """One logged-in person using the web app through its forms, CSRF tokens included."""

    def __init__(self, base_url: str, username: str, password: str) -> None:
        self.username = username
        self.http = http_client(base_url)
        page = self.http.get("/login").text
        response = self.http.post(
            "/login",
            data={"csrf_token": field(page, "csrf_token"), "username": username, "password": password},
        )
        assert response.status_code == 302, response.text
        # English whatever an earlier test (or person) chose: the checks below read English text.
        page = self.http.get("/", follow_redirects=True).text
        english = {"csrf_token": field(page, "csrf_token"), "language": "en"}
        response = self.http.post("/language", data=english)
        assert response.status_code == 302, response.text

    def open_case(self, **overrides: Any) -> str:
        page = self.http.get("/cases/new").text
        data = {
            "csrf_token": field(page, "csrf_token"),
            "token": field(page, "token"),
            "caller_name": "Ramu Yadav",
            # A new caller each time: a caller whose case closed lately is offered its reopening.
            "phone": f"9{secrets.randbelow(10**9):09d}",
            "village": "1",
            "category": "1",
            "priority": "normal",
            "description": "Needs a hospital bed",
            **overrides,
        }
        response = self.http.post("/cases/new", data=data)
        assert response.status_code == 302, response.text
        return response.headers["location"].rsplit("/", 1)[-1]

    def decide(self, number: str, action: str, **fields: Any) -> httpx.Response:
        page = self.http.get(f"/cases/{number}").text
        data = {
            f"{action}-csrf_token": field(page, f"{action}-csrf_token"),
            f"{action}-version": field(page, f"{action}-version"),
            **{f"{action}-{k}": v for k, v in fields.items()},
        }
        response = self.http.post(f"/cases/{number}/{action}", data=data)
        assert response.status_code == 302, response.text
        return response

    def close(self) -> None:
        self.http.close()


def mails_about(maildir: Path, number: str) -> list[tuple[str, str]]:
    """(recipient, subject) of every mail to the office about case `number`, in arrival order."""
    return [
        (m["X-Envelope-To"], m["Subject"])
        for m in read_messages(maildir)
        if number in m["Subject"] and not m["X-Envelope-To"].startswith("sms")
    ]


def texts_about(maildir: Path, number: str) -> list[tuple[str, str]]:
    """(phone's address, text) of every text message to the caller of case `number` (the demo's SMS
    gateway delivers each to sms<number>@demo.local in the mail sink), in arrival order."""
    return [
        (m["X-Envelope-To"], body_text(m))
        for m in read_messages(maildir)
        if number in m["Subject"] and m["X-Envelope-To"].startswith("sms")
    ]


class PrefectApi:
    """The Prefect server's REST API: a look at runs, and starting a deployment's run."""

    def __init__(self, api_url: str) -> None:
        self.http = http_client(api_url)

    def runs_named(self, name: str) -> list[dict[str, Any]]:
        response = self.http.post("/flow_runs/filter", json={"flow_runs": {"name": {"any_": [name]}}})
        response.raise_for_status()
        return list(response.json())

    def states(self, flow_run_id: str) -> list[str]:
        response = self.http.get("/flow_run_states/", params={"flow_run_id": flow_run_id})
        response.raise_for_status()
        return [s["name"] for s in sorted(response.json(), key=lambda s: s["timestamp"])]

    def task_runs(self, flow_run_id: str) -> list[dict[str, Any]]:
        response = self.http.post("/task_runs/filter", json={"flow_runs": {"id": {"any_": [flow_run_id]}}})
        response.raise_for_status()
        return list(response.json())

    def run_deployment(self, name: str, parameters: dict[str, Any], timeout: float = 180) -> dict[str, Any]:
        """Start a run of deployment `flow/deployment` and wait until it reaches a final state."""
        response = self.http.get(f"/deployments/name/{name}")
        response.raise_for_status()
        url = f"/deployments/{response.json()['id']}/create_flow_run"
        # A busy server answers 503 (its SQLite is locked) and expects the client to retry, as Prefect's does.
        created = wait_until(
            lambda: (r := self.http.post(url, json={"parameters": parameters})).status_code != 503 and r,
            timeout=60,
            every=1,
            what="the server to accept the run",
        )
        created.raise_for_status()
        run_id = created.json()["id"]

        def final() -> dict[str, Any] | None:
            response = self.http.get(f"/flow_runs/{run_id}")
            if response.status_code == 503:
                return None
            run = response.json()
            return run if run["state_type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED") else None

        return wait_until(final, timeout=timeout, every=0.5, what=f"a run of {name}")
