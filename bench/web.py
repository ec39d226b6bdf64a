"""People using the web app over real HTTP (CSRF tokens included), and the mail they receive."""

from __future__ import annotations

import os
import re
import secrets
import time
from dataclasses import dataclass
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import httpx

NUMBER = re.compile(r"\b[A-Z0-9]+-\d{4}-\d{6}\b")
ACT_LINK = re.compile(r"https?://\S+/act/[\w.-]+")
CMHO = "5"  # the demo district's health officer, for categories 1-5
# A kept-alive connection dropped after 1 s idle, before gunicorn drops it (2 s): a request sent on
# one as the server closes it fails ("Server disconnected"), where a browser would send it again.
LIMITS = httpx.Limits(keepalive_expiry=1.0)


def hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{re.escape(name)}" type="hidden" value="([^"]*)"', html)
    if not match:
        raise ValueError(f"no hidden field {name} in page")
    return match.group(1)


@dataclass(frozen=True)
class Timed:
    """One POST: its status, the case number it redirected to, when it was sent and how long it took."""

    status: int
    number: str
    sent_at: float  # time.time(), to compare with mail file times
    seconds: float
    form_seconds: float = 0.0  # the GET that loaded the form


class WebUser:
    """One logged-in person (one session reused: a login costs a scrypt hash, ~150 ms)."""

    def __init__(self, base_url: str, username: str, timeout: float = 60) -> None:
        self.username = username
        self.http = httpx.AsyncClient(base_url=base_url, timeout=timeout, limits=LIMITS)

    async def login(self, password: str) -> WebUser:
        page = (await self.http.get("/login")).text
        response = await self.http.post(
            "/login",
            data={"csrf_token": hidden(page, "csrf_token"), "username": self.username, "password": password},
        )
        if response.status_code != 302:
            raise RuntimeError(f"login of {self.username} failed: {response.status_code}")
        return self

    async def close(self) -> None:
        await self.http.aclose()

    async def open_case(self, label: str = "", **overrides: Any) -> Timed:
        """Load the intake form, then submit a complaint; time both, separately."""
        started = time.perf_counter()
        page = (await self.http.get("/cases/new")).text
        form_seconds = time.perf_counter() - started
        data = {
            "csrf_token": hidden(page, "csrf_token"),
            "token": hidden(page, "token"),
            "caller_name": f"Bench caller {label}".strip(),
            # A new caller each time: a caller whose earlier case closed lately gets the offer
            # to reopen it instead (a 200 with the form), which is not what is measured here.
            "phone": f"9{secrets.randbelow(10**9):09d}",
            "village": "1",
            "category": "1",
            "priority": "normal",
            "description": "Needs a hospital bed (benchmark)",
            **overrides,
        }
        return await self._submit("/cases/new", data, form_seconds)

    async def open_emergency(self, label: str = "") -> Timed:
        """Submit the emergency form (straight to the duty officer); time the POST."""
        page = (await self.http.get("/emergencies/new")).text
        data = {
            "csrf_token": hidden(page, "csrf_token"),
            "token": hidden(page, "token"),
            "caller_name": f"Bench emergency {label}".strip(),
            "phone": f"9{secrets.randbelow(10**9):09d}",
            "village": "1",
            "description": "SpO2 86, breathless (benchmark)",
        }
        return await self._submit("/emergencies/new", data)

    async def _submit(self, path: str, data: dict[str, Any], form_seconds: float = 0.0) -> Timed:
        """POST a form that opens a case; time it, and read the case's number from the redirect."""
        sent_at, started = time.time(), time.perf_counter()
        try:
            response = await self.http.post(path, data=data)
        except httpx.HTTPError:
            return Timed(0, "", sent_at, time.perf_counter() - started, form_seconds)
        seconds = time.perf_counter() - started
        number = (
            response.headers.get("location", "").rsplit("/", 1)[-1] if response.status_code == 302 else ""
        )
        return Timed(response.status_code, number, sent_at, seconds, form_seconds)

    async def act_by_link(self, link: str, action: str, **fields: str) -> tuple[float, Timed]:
        """Open a one-tap link (which records "seen") and take its step: (seconds to open it, the POST).

        No sign-in: this client's cookies are its own (a fresh client, as a phone opening the mail).
        """
        async with httpx.AsyncClient(timeout=self.http.timeout) as phone:
            started = time.perf_counter()
            opened = await phone.get(link)
            open_seconds = time.perf_counter() - started
            if opened.status_code != 200:
                raise RuntimeError(f"{link}: {opened.status_code}")
            data = {
                f"{action}-csrf_token": hidden(opened.text, f"{action}-csrf_token"),
                f"{action}-version": hidden(opened.text, f"{action}-version"),
                **{f"{action}-{k}": v for k, v in fields.items()},
            }
            sent_at, started = time.time(), time.perf_counter()
            response = await phone.post(f"{link}/{action}", data=data)
            if response.status_code != 200:
                raise RuntimeError(f"{link} {action}: {response.status_code}")
            number = NUMBER.search(response.text)
            posted = Timed(200, number.group(0) if number else "", sent_at, time.perf_counter() - started)
            return open_seconds, posted

    async def decide(self, number: str, action: str, **fields: str) -> Timed:
        started = time.perf_counter()
        page = (await self.http.get(f"/cases/{number}")).text
        form_seconds = time.perf_counter() - started
        data = {
            f"{action}-csrf_token": hidden(page, f"{action}-csrf_token"),
            f"{action}-version": hidden(page, f"{action}-version"),
            **{f"{action}-{k}": v for k, v in fields.items()},
        }
        sent_at, started = time.time(), time.perf_counter()
        response = await self.http.post(f"/cases/{number}/{action}", data=data)
        if response.status_code != 302:
            raise RuntimeError(f"{self.username} {action} {number}: {response.status_code}")
        return Timed(response.status_code, number, sent_at, time.perf_counter() - started, form_seconds)


STEPS = (  # who acts, the action, its fields; the mail it triggers goes to the next person
    ("dm", "assign", {"officer": CMHO, "text": "Please handle"}),
    ("cmho", "resolve", {"text": "Bed 12 at the district hospital"}),
    ("operator", "satisfied", {"rating": "5", "text": "The caller confirms"}),  # the call back
    ("collector", "confirm", {"text": "Confirmed with the caller"}),
)
MAIL_AFTER = {
    "opened": "dm",
    "assign": "cmho",
    "resolve": "operator",
    "satisfied": "collector",
    "confirm": "operator",
}


async def log_in(base_url: str, password: str, *usernames: str) -> dict[str, WebUser]:
    return {name: await WebUser(base_url, name).login(password) for name in usernames}


class MailWatcher:
    """Reads new files of the sink's Maildir incrementally: (case number, recipient) -> file time."""

    def __init__(self, maildir: Path) -> None:
        self.maildir = maildir
        self.seen: set[str] = set()
        self.arrived: dict[tuple[str, str], list[float]] = {}
        self.paths: dict[tuple[str, str], list[str]] = {}
        self.parser = BytesParser(policy=policy.default)

    def poll(self) -> int:
        """Read files not read before; return how many."""
        new = 0
        for sub in ("new", "cur"):
            folder = self.maildir / sub
            if not folder.exists():
                continue
            for entry in os.scandir(folder):
                if entry.name in self.seen:
                    continue
                self.seen.add(entry.name)
                with open(entry.path, "rb") as fh:
                    headers = self.parser.parse(fh, headersonly=True)
                match = NUMBER.search(str(headers["Subject"] or ""))
                to = str(headers["X-Envelope-To"] or "").split("@", 1)[0]
                if match:
                    self.arrived.setdefault((match.group(0), to), []).append(entry.stat().st_mtime)
                    self.paths.setdefault((match.group(0), to), []).append(entry.path)
                new += 1
        return new

    def first(self, number: str, username: str, after: float = 0.0) -> float | None:
        """When the first mail about number reached username (at or after `after`, a file time)."""
        times = [t for t in self.arrived.get((number, username), ()) if t >= after]
        return min(times) if times else None

    def act_link(self, number: str, username: str) -> str | None:
        """The one-tap link in username's latest mail about number, if it carries one."""
        for path in reversed(self.paths.get((number, username), [])):
            with open(path, "rb") as fh:
                message = BytesParser(policy=policy.default).parse(fh)
            body = message.get_body(preferencelist=("plain", "html"))
            link = ACT_LINK.search(body.get_content() if body is not None else "")
            if link:
                return link.group(0)
        return None

    def count(self, number: str, username: str) -> int:
        return len(self.arrived.get((number, username), ()))
