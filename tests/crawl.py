"""What a browser would find on the app's pages: links and forms with their fields, read from the HTML."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urldefrag, urljoin, urlsplit

from werkzeug.exceptions import HTTPException
from werkzeug.routing import MapAdapter, RequestRedirect

# Values a person would type into fields that a page leaves empty, by name (the form is valid with them).
TYPED = {
    "phone": "98765 43210",
    "caller_name": "Ramu Yadav",
    "description": "Needs a hospital bed with oxygen",
    "text": "Checked and done",
    "hospital": "District Hospital",
    "title": "Boil water",
    "body": "Boil drinking water for ten minutes.",
    "username": "nobody",  # not a persona: failed logins count against a name
    "password": "wrong password",
    "note": "Feels better",
    "number": "SRJ-1",
    "duration": "2:30",
}


# Stands for the CSRF token of the session at the time a form is sent: a sign-in starts a new one.
CURRENT_CSRF = "<the current CSRF token>"


@dataclass
class Field:
    name: str
    kind: str  # the input type, "select", "textarea" or "button"
    value: str  # what the page holds, or what a person would choose or type


@dataclass
class Form:
    page: str  # the URL of the page it was on
    action: str  # a path
    method: str
    multipart: bool
    fields: list[Field] = field(default_factory=list)

    def valid(self) -> list[tuple[str, str]]:
        """The fields as a person would submit them (no button, no file; the CSRF token as CURRENT_CSRF)."""
        return [
            (f.name, CURRENT_CSRF if f.name.endswith("csrf_token") else f.value)
            for f in self.fields
            if f.kind not in ("button", "submit", "file")
        ]


class _Parser(HTMLParser):
    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.page = page
        self.links: list[str] = []
        self.forms: list[Form] = []
        self.form: Form | None = None
        self.select: Field | None = None
        self.textarea: Field | None = None
        self.chosen = False  # the select being read has an option marked selected

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "a" and a.get("href"):
            self.links.append(urldefrag(urljoin(self.page, a["href"])).url)
        elif tag == "form":
            action = urljoin(self.page, a.get("action") or self.page)
            multipart = a.get("enctype") == "multipart/form-data"
            self.form = Form(self.page, action, (a.get("method") or "get").lower(), multipart)
            self.forms.append(self.form)
        elif tag == "option" and self.select is not None:
            # The option the page chose, else the first that is not a blank "choose one".
            if "selected" in a or (self.select.value in ("", "0") and not self.chosen):
                self.select.value = a.get("value", "")
                self.chosen = self.chosen or "selected" in a
        elif self.form is None or not a.get("name"):
            return
        elif tag == "input":
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            self.form.fields.append(Field(a["name"], kind, a.get("value") or typed(a, kind)))
        elif tag == "button":
            self.form.fields.append(Field(a["name"], "button", a.get("value", "")))
        elif tag == "select":
            self.select, self.chosen = Field(a["name"], "select", ""), False
            self.form.fields.append(self.select)
        elif tag == "textarea":
            self.textarea = Field(a["name"], "textarea", "")
            self.form.fields.append(self.textarea)

    def handle_data(self, data: str) -> None:
        if self.textarea is not None:
            self.textarea.value += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.form = None
        elif tag == "select":
            self.select = None
        elif tag == "textarea" and self.textarea is not None:
            typed = TYPED.get(self.textarea.name.rsplit("-", 1)[-1], "x")
            self.textarea.value = self.textarea.value.strip() or typed
            self.textarea = None


def typed(attrs: dict[str, str], kind: str) -> str:
    """What a person would type into an empty input of this kind."""
    if kind == "number":
        return attrs.get("min") or "1"
    if kind == "date":
        return date.today().isoformat()
    if kind == "datetime-local":  # shift times ("ends" the later one)
        days = 801 if "end" in attrs["name"] else 800  # after the shifts the demo has
        return f"{date.today() + timedelta(days=days)}T08:00"
    return TYPED.get(attrs["name"].rsplit("-", 1)[-1], "")


def parse(page: str, html: str) -> tuple[list[str], list[Form]]:
    """The links and forms of a page."""
    parser = _Parser(page)
    parser.feed(html)
    return parser.links, parser.forms


def route(adapter: MapAdapter, url: str, method: str = "GET") -> tuple[str, dict[str, Any]] | None:
    """(endpoint, arguments) of a local URL, or None for another site or no rule."""
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        return None
    try:
        endpoint, args = adapter.match(parts.path, method)
    except (HTTPException, RequestRedirect):
        return None
    return str(endpoint), dict(args)


def endpoint_of(adapter: MapAdapter, url: str, method: str = "GET") -> str:
    """The endpoint a local URL goes to, or "" for none."""
    found = route(adapter, url, method)
    return found[0] if found else ""
