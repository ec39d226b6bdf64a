"""Every page each role reaches, in English and in Hindi, in Debian's Chromium: no serious or critical
axe-core violation; on a laptop (1366x768) no table and no page scrolls sideways; on a phone (390x844) no
page scrolls sideways, and a full-page screenshot of each is kept (artifacts()/pages/).

The app runs in this process (werkzeug, threaded, on a free port) over the test database, seeded with the
demo district and cases in every state: no Prefect stack is needed, so this lives outside tests/e2e (whose
autouse fixture starts the whole stack).
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlsplit

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page
from playwright.sync_api import Error as PlaywrightError
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from models.reference.tables import User
from tests import casedata
from tests.conftest import PASSWORD
from tests.crawl import route
from tests.e2e.test_browser import browser  # noqa: F401 - one Chromium for the module
from tests.helpers import artifacts

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
LAPTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
ROLES = (None, "operator", "dm", "cmho", "collector", "admin")  # None: nobody logged in
# Not pages: downloads, files, machine endpoints.
SKIP = {"static", "public.favicon", "health.healthz", "caselist.export", "desk.export"}
PAGES_PER_ENDPOINT = 2  # e.g. two case pages (different states) per role, two pages of a list
MORE = {"cases.view": 4}  # the case page has a form per state: see more of them

RUN_AXE = """async () => {
  const ALSO = ['empty-table-header'];  // minor, but fixed everywhere: keep it so
  const found = await axe.run(document, {resultTypes: ['violations']});
  return found.violations
    .filter(v => v.impact === 'serious' || v.impact === 'critical' || ALSO.includes(v.id))
    .map(v => `${v.impact} ${v.id}: ${v.help} -- ` +
      v.nodes.slice(0, 5).map(n => n.target.join(' ')).join(' | '));
}"""

# Tables (and the boxes around them) wider than their box, and a page wider than the window.
SIDEWAYS = """(tables) => {
  const wide = [];
  const name = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
    (el.classList.length ? '.' + [...el.classList].join('.') : '');
  const over = el => el.scrollWidth > el.clientWidth + 1;
  if (tables) {
    document.querySelectorAll('table').forEach((table, i) => {
      for (let el = table; el && el !== document.body; el = el.parentElement) {
        if (over(el)) {
          const size = `${el.scrollWidth}px in ${el.clientWidth}px`;
          wide.push(`table ${i + 1} (${name(table)}): ${name(el)} ${size}`);
          break;
        }
      }
    });
  }
  const page = document.documentElement.scrollWidth;
  if (page > window.innerWidth) {
    const widest = [...document.body.querySelectorAll('*')]
      .filter(el => el.getBoundingClientRect().right > window.innerWidth + 1)
      .slice(0, 3).map(name).join(', ');
    wide.push(`the page is ${page}px wide in a ${window.innerWidth}px window (${widest})`);
  }
  return wide;
}"""

# What a page shows below the header, without its CSRF tokens (they differ between sessions).
CONTENT = """() => {
  const main = (document.querySelector('main') || document.body).cloneNode(true);
  main.querySelectorAll('input[type=hidden]').forEach(input => input.remove());
  return main.innerHTML;
}"""

# Fields in error, and those whose control is not aria-invalid and described by its list of errors.
ERRORS_UNNAMED = """() => {
  const fields = [...document.querySelectorAll('.field.has-error')];
  const unnamed = fields.filter(field => {
    const control = field.querySelector('input, select, textarea');
    const list = control && document.getElementById(control.getAttribute('aria-describedby') || '-');
    return !list || !list.matches('.errors') || control.getAttribute('aria-invalid') !== 'true';
  });
  return [fields.length, unnamed.map(field => field.querySelector('label').textContent.trim())];
}"""


@pytest.fixture
def world(session: Session, district: dict[str, User]) -> dict[str, str]:
    """Cases in every state, a failed delivery, a parked hand-off, today's follow-up calls, an advisory."""
    return casedata.build_world(session, district)


@pytest.fixture
def site(app: Flask) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


def switch_language(page: Page, language: str) -> None:
    if page.locator("html").get_attribute("lang") != language:
        with page.expect_navigation():
            page.select_option("header select[name=language]", language)
    assert page.locator("html").get_attribute("lang") == language


def log_in(page: Page, username: str) -> None:
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.locator("main form button[type=submit]").click()
    assert "/login" not in page.url, f"{username} could not log in"


def submit(page: Page, form: str, fields: dict[str, str]) -> None:
    """Fill and send a form as a person would; the page it answers with stays open."""
    for selector, value in fields.items():
        page.fill(selector, value)
    with page.expect_navigation():
        page.locator(f"{form} button[type=submit]").first.click()


def sent_forms(checker: Checker, page: Page, role: str | None, numbers: dict[str, str]) -> None:
    """The pages a link does not reach: a form with its errors shown, the caller's status of a case."""
    if role is None:
        page.goto("/status")
        submit(page, "main form", {"#number": numbers["c"], "#phone": "98123 45678"})  # resolved: 3 steps
        checker.check(page, "/status (a case)")
        page.goto("/status")
        submit(page, "main form", {"#number": "SRJ-1", "#phone": ""})
        checker.check(page, "/status (errors)", errors=True)
    elif role == "operator":
        page.goto("/cases/new")
        submit(page, "#form-intake", {"#caller_name": "", "#phone": "12"})
        checker.check(page, "/cases/new (errors)", errors=True)


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", unquote(text)).strip("_")[:80] or "home"


class Checker:
    """Visits one role's pages in one language and notes every problem found."""

    def __init__(
        self, app: Flask, site: str, who: str, language: str, problems: list[str], checked: set[str]
    ) -> None:
        self.adapter = app.url_map.bind("localhost")
        self.origin = urlsplit(site).netloc
        self.who, self.language, self.problems, self.checked = who, language, problems, checked
        self.shots = artifacts() / "pages"
        self.shots.mkdir(parents=True, exist_ok=True)
        self.visited = 0
        self.menu_checked = False

    def crawl(self, page: Page, start: list[str]) -> None:
        queue, seen, per_endpoint = list(start), set(), Counter()
        while queue:
            url = queue.pop(0)
            found = route(self.adapter, url)
            endpoint = found[0] if found else "not-found" if url in start else ""
            limit = MORE.get(endpoint, PAGES_PER_ENDPOINT)
            if url in seen or not endpoint or endpoint in SKIP or per_endpoint[endpoint] >= limit:
                continue
            seen.add(url)
            per_endpoint[endpoint] += 1
            try:
                response = page.goto(url)
            except PlaywrightError as error:  # a download SKIP does not know yet: not a page
                if "Download is starting" in str(error):
                    continue
                raise
            if response is None or "text/html" not in (response.headers.get("content-type") or ""):
                continue
            content = page.evaluate(CONTENT)
            if content not in self.checked:  # as another role saw it: its header is checked on other pages
                self.checked.add(content)
                self.check(page, url)
            for link in page.eval_on_selector_all("a[href]", "links => links.map(a => a.href)"):
                parts = urlsplit(urldefrag(link).url)
                if parts.scheme in ("http", "https") and parts.netloc == self.origin:
                    queue.append(parts.path + (f"?{parts.query}" if parts.query else ""))

    def check(self, page: Page, url: str, errors: bool = False) -> None:
        self.visited += 1
        where = f"{self.who}, {self.language}, {url}"
        if errors:  # a form sent back with its errors
            fields, unnamed = page.evaluate(ERRORS_UNNAMED)
            if not fields:
                self.problems.append(f"{where}: no field shows an error")
            for label in unnamed:
                self.problems.append(f"{where}: {label!r} is not marked invalid with its errors named")
        for violation in page.evaluate(RUN_AXE):
            self.problems.append(f"{where}: axe {violation}")
        for wide in page.evaluate(SIDEWAYS, True):
            self.problems.append(f"{where}: at 1366x768 {wide}")
        page.set_viewport_size(PHONE)
        try:
            for wide in page.evaluate(SIDEWAYS, False):
                self.problems.append(f"{where}: on a phone {wide}")
            name = f"{self.language}-{self.who}-{slug(url)}"
            page.screenshot(path=str(self.shots / f"{name}.png"), full_page=True)
            toggle = page.locator("header .menu-toggle")
            if not self.menu_checked and toggle.count() and toggle.is_visible():
                self.menu_checked = True  # the same menu on every page: open it once per role
                toggle.click()
                for violation in page.evaluate(RUN_AXE):
                    self.problems.append(f"{where}: with the phone menu open, axe {violation}")
                for wide in page.evaluate(SIDEWAYS, False):
                    self.problems.append(f"{where}: with the phone menu open {wide}")
                page.screenshot(path=str(self.shots / f"{name}-menu.png"), full_page=True)
        finally:
            page.set_viewport_size(LAPTOP)


@pytest.mark.parametrize("language", ["en", "hi"])
def test_every_page_is_accessible_and_fits_the_screen(
    browser: Browser, app: Flask, world: dict[str, str], site: str, language: str,  # noqa: F811
) -> None:
    problems: list[str] = []
    checked: set[str] = set()  # the pages' contents, so a page several roles see alike is checked once
    started, visited = time.monotonic(), 0
    for role in ROLES:
        context = browser.new_context(viewport=LAPTOP, base_url=site, locale="en-US")
        context.set_default_timeout(15_000)
        context.add_init_script(path=str(AXE))  # in every page, before its own scripts
        page = context.new_page()
        try:
            if role is None:
                page.goto("/status")
                start = ["/status", "/login", "/no-such-page"]
            else:
                log_in(page, role)
                start = [urlsplit(page.url).path]
            switch_language(page, language)
            checker = Checker(app, site, role or "nobody", language, problems, checked)
            checker.crawl(page, start)
            sent_forms(checker, page, role, world)
            visited += checker.visited
        finally:
            context.close()
    print(f"{language}: {visited} pages in {time.monotonic() - started:.1f} s")
    assert visited > 30, f"only {visited} pages reached"
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems)
