"""Hostile input on every endpoint of app.url_map, as each persona allowed there: never a 5xx, nothing
half-written.

Nothing is listed by hand: the rules come from app.url_map; real URL arguments from the links and forms
of the pages each persona reaches; query parameters from the GET forms on those pages and from the
`request.args` reads in webapp/; form fields from the POST forms (CSRF token and hidden fields
included); CSV columns from a valid row of each import. Each argument, parameter, field and cell is
given hostile values in turn (see `sample`), the others kept valid. All failures are reported together.
"""

from __future__ import annotations

import io
import re
import zlib
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import pytest
from flask import Flask
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict
from werkzeug.test import TestResponse

from models.config import Settings
from models.db import Base, get_engine
from models.duty.tables import Duty, DutyShift
from models.reference.tables import User
from models.times import INDIA
from tests import casedata
from tests.conftest import csrf_token, login
from tests.crawl import CURRENT_CSRF, Form, endpoint_of, parse, route

Pairs = list[tuple[str, Any]]  # form data: a name may come twice, a value may be a file
PERSONAS = (None, "admin", "dm", "collector", "operator", "cmho")  # None: nobody logged in
DAY = timedelta(days=1)
PAGES_PER_ENDPOINT = 8  # a crawl visits this many URLs of one endpoint (cases in each state)
CORPUS = {
    "2**64": str(2**64),
    "23 digits": "99999999999999999999999",
    "2**63": str(2**63),
    "-1": "-1",
    "0": "0",
    "abc": "abc",
    "1e309": "1e309",
    "nan": "nan",
    "year 1": "0001-01-01",
    "year 9999": "9999-12-31",
    "31-12-9999": "31-12-9999",
    "30 February": "2024-02-30",
    "year 1 local": "0001-01-01T00:00",
    "year 9999 local": "9999-12-31T23:59",
    "NUL": "a\x00b",
    "controls": "\x01\x08\x1b\x7f\u202e\ufeff",
    "100 kB": "x" * 100_000,
    "Devanagari": "रामप्रसाद यादव ०१२",
    "SQL": "' OR 1=1; DROP TABLE cases; --",
    "LIKE": "%_\\",
    "HTML": '"><script>alert(1)</script>',
    "blank": "   ",
}
# Tables that record attempts, so a refused request rightly adds to them.
BOOKKEEPING = {"audit_log", "login_sessions", "rate_counters"}
# What every field gets: the values that reach past a form's checks (ids beyond 64 bits, days the
# calendar cannot shift to India time, NUL) and a long text. ROTATED more come from the rest.
CORE = ("2**63", "23 digits", "year 1", "year 9999", "31-12-9999", "year 1 local", "NUL", "100 kB")
ROTATED = 3
SOURCE_PARAMS = re.compile(r"""request\.args(?:\.get\(|\[)\s*["']([^"']+)["']""")
CSV_HEADERS = {  # a valid row of each import, whose cells are swapped for hostile ones in turn
    "homecare.import_patients": (
        "health_id,name,age,sex,phone,village,isolation_start,isolation_end,test_date,mitanin_phone",
        "H-1,गीता साहू,40,F,9876543210,Chando,{today},,{today},",
    ),
    "desk.import_contacts": (
        "block,village,role,name,phone,active",
        "Pratappur,Chando,mitanin,Sita,9876500001,1",
    ),
}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, sms_url="json://127.0.0.1:9/?to={phone}")  # so an advisory can be sent


@pytest.fixture
def world(session: Session, district: dict[str, User]) -> None:
    """Cases in every state, a failed delivery, a parked hand-off, a follow-up call due, an advisory,
    a shift still to come (so each has its buttons)."""
    casedata.build_world(session, district)
    later = datetime.now(UTC) + timedelta(days=10)
    session.add(DutyShift(user_id=district["dfo"].id, duty=Duty.doctor, starts_at=later, ends_at=later + DAY))
    session.commit()


def source_params() -> dict[str, set[str]]:
    """The query parameters each webapp module reads, by module name."""
    found: dict[str, set[str]] = {}
    for path in (Path(__file__).parents[1] / "webapp").glob("*.py"):
        found[f"webapp.{path.stem}"] = set(SOURCE_PARAMS.findall(path.read_text()))
    return found


def sample(name: str) -> dict[str, str]:
    """The corpus values a field or parameter gets: CORE, and a few of the rest, chosen by its name.

    Every value of the whole corpus on every field would take minutes; the others rotate over the
    fields (the same ones each run, so a failure repeats).
    """
    rest = [label for label in CORPUS if label not in CORE]
    start = zlib.crc32(name.encode()) % len(rest)
    chosen = {*CORE, *(rest + rest)[start : start + ROTATED]}
    return {label: value for label, value in CORPUS.items() if label in chosen}


def variants(name: str, valid: str) -> Iterator[tuple[str, Pairs]]:
    """(label, the pairs sent instead of name=valid): hostile values, the name twice, name[]."""
    for label, value in sample(name).items():
        yield label, [(name, value)]
    yield "given twice", [(name, valid), (name, "abc")]
    yield "as name[]", [(f"{name}[]", valid)]


class Prober:
    """Sends requests as one persona; records every 5xx, exception and half-written rejection."""

    def __init__(self, app: Flask, engine: Engine, failures: dict[str, str]) -> None:
        self.app, self.failures = app, failures
        self.adapter = app.url_map.bind("localhost")
        self.engine = engine
        tables = [t for t in Base.metadata.sorted_tables if t.name not in BOOKKEEPING]
        self.tables = [t.name for t in tables]
        self.count_query = select(*(select(func.count()).select_from(t).scalar_subquery() for t in tables))
        self.counts: tuple[int, ...] | None = None  # the row counts before the next POST, when known
        self.who: str | None = None
        self.client = app.test_client()
        self.csrf = ""

    def count(self) -> tuple[int, ...]:
        with self.engine.connect() as conn:
            return tuple(conn.execute(self.count_query).one())

    def be(self, who: str | None) -> None:
        self.who, self.client = who, self.app.test_client()
        # Each persona from its own address: the fuzzed login form must not lock the others out.
        self.client.environ_base["REMOTE_ADDR"] = f"10.0.0.{PERSONAS.index(who) + 1}"
        self.login()

    def login(self) -> None:
        """Sign in as the persona (again), and note the new session's CSRF token."""
        if self.who:
            login(self.client, self.who)
        self.csrf = csrf_token(self.client.get("/status").get_data(as_text=True))

    def send(
        self, method: str, url: str, where: str, data: Pairs | None = None, multipart: bool = False
    ) -> TestResponse | None:
        """The response, or None when reading its body raised; a failure is recorded under `where`."""
        if data is not None:
            data = [(k, self.csrf if v == CURRENT_CSRF else v) for k, v in data]
        if method != "GET" and self.counts is None:
            self.counts = self.count()
        before = self.counts if method != "GET" else None
        key = f"{method} {endpoint_of(self.adapter, url, method) or urlsplit(url).path[:60]} {where}"
        try:
            response = self.client.open(
                url,
                method=method,
                data=MultiDict(data) if data is not None else None,
                content_type="multipart/form-data" if multipart else None,
                buffered=True,
            )
        except Exception as exc:  # a streamed body (the CSV export) fails while it is read
            self.failures.setdefault(key, f"{key}, as {self.who}: raised {exc!r:.200}")
            self.counts = None
            return None
        if response.status_code >= 500:
            self.failures.setdefault(key, f"{key}, as {self.who}: {response.status_code}")
        elif response.status_code >= 400 and before is not None:
            counts = self.count()
            if counts != before:
                changed = [t for t, a, b in zip(self.tables, before, counts, strict=True) if a != b]
                message = f"{response.status_code} but rows were added to {changed}"
                self.failures.setdefault(key, f"{key}, as {self.who}: {message}")
            self.counts = counts
        if response.status_code < 400 or method == "GET":
            self.counts = None  # it may have written (a GET only to the audit log): count again
        if self.who and response.headers.get("Location", "").startswith("/login"):
            self.login()  # signed out (a logout, "sign out everywhere"): carry on as the same persona
        return response


class Crawl:
    """The pages one persona reaches from the argument-less GET rules, their links and forms."""

    def __init__(self, prober: Prober) -> None:
        self.prober = prober
        self.status: dict[str, int] = {}  # URL -> status
        self.examples: dict[str, list[str]] = defaultdict(list)  # endpoint -> URLs with real arguments
        self.forms: list[Form] = []
        rules = [r for r in prober.app.url_map.iter_rules() if "GET" in (r.methods or ()) and not r.arguments]
        queue = [r.rule for r in rules]
        while queue:
            url = queue.pop(0)
            found = route(prober.adapter, url)
            if url in self.status or not found or len(self.examples[found[0]]) >= PAGES_PER_ENDPOINT:
                continue
            self.examples[found[0]].append(url)
            response = prober.send("GET", url, "crawl")
            self.status[url] = response.status_code if response is not None else 500
            if response is None or response.mimetype != "text/html":
                continue
            links, forms = parse(url, response.get_data(as_text=True))
            queue += [link for link in links if route(prober.adapter, link)]
            for form in forms:
                self.forms.append(form)
                target = route(prober.adapter, form.action, form.method.upper())
                if target and form.action not in self.examples[target[0]]:
                    self.examples[target[0]].append(form.action)

    def form_for(self, endpoint: str) -> Form | None:
        """A POST form this persona saw for endpoint."""
        adapter = self.prober.adapter
        return next((f for f in self.forms if endpoint_of(adapter, f.action, "POST") == endpoint), None)


def path_with(rule: str, argument: str, value: str, example: dict[str, Any]) -> str:
    """The rule's path with argument set to value and the others as in a real example."""

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        return quote(value if name == argument else str(example.get(name, "1")), safe="")

    return re.sub(r"<(?:[^:<>]+:)?(\w+)>", fill, rule)


def fuzz_paths(prober: Prober, crawl: Crawl, done: set[str]) -> None:
    """Each URL argument of each rule with arguments, as the first persona that has a real example."""
    for rule in prober.app.url_map.iter_rules():
        if not rule.arguments or rule.endpoint == "static" or rule.endpoint in done:
            continue
        examples = crawl.examples.get(rule.endpoint)
        if not examples and prober.who != "admin":
            continue
        done.add(rule.endpoint)
        method = "GET" if "GET" in (rule.methods or ()) else "POST"
        matched = route(prober.adapter, examples[0], method) if examples else None
        example = matched[1] if matched else {}
        form = crawl.form_for(rule.endpoint)
        data = form.valid() if form and method == "POST" else None
        for argument in rule.arguments:
            for label, value in [*sample(argument).items(), ("real", str(example.get(argument, "1")))]:
                path = path_with(rule.rule, argument, value, example)
                prober.send(method, path, f"path {argument}={label}", data)


def fuzz_queries(prober: Prober, crawl: Crawl, done: set[str], sources: dict[str, set[str]]) -> None:
    """Each query parameter a GET page reads, each hostile value; then every known name at once."""
    everything = set().union(*sources.values())
    for endpoint, urls in crawl.examples.items():
        base = urls[0].split("?")[0]
        if endpoint in done or crawl.status.get(urls[0]) != 200:
            continue
        done.add(endpoint)
        names = set(sources.get(prober.app.view_functions[endpoint].__module__, ()))
        for form in crawl.forms:
            if form.method == "get" and endpoint_of(prober.adapter, form.action) == endpoint:
                names |= {f.name for f in form.fields if f.kind not in ("button", "submit")}
        for name in sorted(names):
            for label, pairs in variants(name, "1"):
                prober.send("GET", f"{base}?{urlencode(pairs)}", f"query {name}={label}")
        for label in CORE:
            query = urlencode(dict.fromkeys(everything, CORPUS[label]))
            prober.send("GET", f"{base}?{query}", f"every query={label}")


def valid_csv(endpoint: str) -> bytes:
    """A file the import takes (today's isolation), or an empty one for an upload not in CSV_HEADERS."""
    header, row = CSV_HEADERS.get(endpoint, ("", ""))
    return f"{header}\n{row.format(today=datetime.now(INDIA).date().isoformat())}\n".encode()


def csv_files(endpoint: str) -> Iterator[tuple[str, bytes]]:
    """(label, content): junk files, then the import's valid row with each cell hostile in turn."""
    yield "binary", b"\xff\xfe\x00\x01garbage"
    yield "NUL", b"a,b\n\x00,\x00\n"
    yield "empty", b""
    if endpoint not in CSV_HEADERS:
        return
    header, row = valid_csv(endpoint).decode().split("\n")[:2]
    cells = row.split(",")
    for column, name in enumerate(header.split(",")):
        for label, value in sample(name).items():
            hostile = [*cells[:column], value.replace(",", ";"), *cells[column + 1 :]]
            yield f"{name}={label}", f"{header}\n{','.join(hostile)}\n".encode()


def fuzz_forms(prober: Prober, crawl: Crawl, done: set[str]) -> None:
    """Each field of each POST form (hidden ones too), each hostile value, the other fields valid."""
    for form in crawl.forms:
        endpoint = endpoint_of(prober.adapter, form.action, "POST")
        key = f"{endpoint or form.action} {sorted(f.name for f in form.fields)}"
        if form.method != "post" or key in done:
            continue
        done.add(key)
        files = [f.name for f in form.fields if f.kind == "file"]
        for field in form.fields:
            if field.kind == "file":
                for label, content in csv_files(endpoint):
                    data = [*form.valid(), (field.name, (io.BytesIO(content), "list.csv"))]
                    prober.send("POST", form.action, f"file {label}", data, multipart=True)
                continue
            valid = dict(form.valid()).get(field.name, field.value)
            for label, pairs in variants(field.name, valid):
                data = [p for p in form.valid() if p[0] != field.name] + pairs
                data += [(name, (io.BytesIO(valid_csv(endpoint)), "list.csv")) for name in files]
                where = f"field {field.name}={label}"
                response = prober.send("POST", form.action, where, data, form.multipart)
                if response is not None and response.status_code < 400:
                    form = refreshed(prober, form)


def refreshed(prober: Prober, form: Form) -> Form:
    """The same form read again from its page (a new version or token after a decision went through)."""
    response = prober.send("GET", form.page, "reload")
    if response is None:
        return form
    _, forms = parse(form.page, response.get_data(as_text=True))
    names = sorted(f.name for f in form.fields)
    same = (f for f in forms if f.action == form.action and sorted(x.name for x in f.fields) == names)
    return next(same, form)


def test_it_answers_hostile_input_without_a_server_error_or_a_half_write(
    app: Flask, settings: Settings, world: None
) -> None:
    failures: dict[str, str] = {}
    prober = Prober(app, get_engine(settings.database_url), failures)
    sources = source_params()
    paths: set[str] = set()
    queries: set[str] = set()
    forms: set[str] = set()
    for who in PERSONAS:
        prober.be(who)
        crawl = Crawl(prober)
        fuzz_paths(prober, crawl, paths)
        fuzz_queries(prober, crawl, queries, sources)
        fuzz_forms(prober, crawl, forms)
    assert len(paths) >= 10 and len(queries) >= 15 and len(forms) >= 15, (paths, queries, forms)
    assert not failures, f"{len(failures)} hostile inputs failed:\n" + "\n".join(sorted(failures.values()))
