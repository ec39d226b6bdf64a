"""Each role does its step through the real forms in Debian's Chromium, in English and in Hindi."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.support import Translations
from playwright.sync_api import Browser, Page, expect, sync_playwright

from notifications.mailsink import body_text, read_messages
from scripts.stack import Stack
from tests.e2e.web import WebUser, field, wait_until
from tests.helpers import artifacts

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 390, "height": 844}
HINDI = Translations.load(str(Path(__file__).parents[2] / "webapp" / "translations"), ["hi"])


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: scripts/test installs Debian's chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()


class Person:
    """One role in its own browser context (its own cookies), on a desktop or a phone."""

    def __init__(
        self, browser: Browser, stack: Stack, username: str, password: str, language: str, phone: bool = False
    ) -> None:
        self.context = browser.new_context(
            viewport=PHONE if phone else {"width": 1280, "height": 900},
            base_url=stack.web_url,
            locale="en-US",
        )
        self.page: Page = self.context.new_page()
        self.username, self.password, self.language = username, password, language

    def t(self, text: str) -> str:
        return HINDI.gettext(text) if self.language == "hi" else text

    def login(self, path: str = "/login") -> None:
        self.page.goto(path)
        self.page.fill("#username", self.username)
        self.page.fill("#password", self.password)
        self.page.get_by_role("button", name="Log in").click()
        self.page.wait_for_load_state()
        self.page.select_option("select[name=language]", self.language)
        self.page.wait_for_load_state()
        expect(self.page.locator("html")).to_have_attribute("lang", self.language)

    def shot(self, name: str) -> None:
        folder = artifacts() / "screenshots"
        folder.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(folder / f"{name}-{self.language}.png"), full_page=True)

    def close(self) -> None:
        # Leave the account in English for the other tests.
        self.page.select_option("select[name=language]", "en")
        expect(self.page.locator("html")).to_have_attribute("lang", "en")
        self.context.close()


def link_in_mail(stack: Stack, number: str, to: str) -> str:
    def find() -> str | None:
        for message in read_messages(stack.instance / "mail"):
            if number in message["Subject"] and message["X-Envelope-To"] == to:
                match = re.search(r"https?://\S+/cases/\S+", body_text(message))
                return match.group(0) if match else None
        return None

    return wait_until(find, what=f"{to}'s mail about {number}")


@pytest.mark.parametrize("language", ["en", "hi"])
def test_it_takes_a_complaint_through_every_role(
    browser: Browser, stack: Stack, password: str, language: str
) -> None:
    hindi = language == "hi"
    caller = "सुनीता देवी" if hindi else "Sunita Devi"
    description = (
        "घर पर ऑक्सीजन 88 है, <b>बिस्तर</b> चाहिए" if hindi else "Oxygen at 88 at home, <b>needs</b> a bed"
    )

    operator = Person(browser, stack, "operator", password, language)
    operator.login()
    operator.page.get_by_role("link", name=operator.t("New complaint")).first.click()
    operator.page.fill("#caller_name", caller)
    operator.page.fill("#phone", "98765 12346" if hindi else "98765 12345")  # two callers
    operator.page.select_option("#village", label="जयनगर" if hindi else "Jayanagar")
    operator.page.select_option("#category", label="अस्पताल बिस्तर" if hindi else "Hospital bed")
    operator.page.select_option("#priority", "urgent")
    operator.page.fill("#description", description)
    operator.page.get_by_role("button", name=operator.t("Open case")).click()
    number = operator.page.locator("h1 .number").inner_text()
    assert re.fullmatch(r"SRJ-\d{4}-\d{6}", number)
    expect(operator.page.locator(".flash.success")).to_contain_text(number)
    expect(operator.page.locator(".description")).to_have_text(description)  # shown as text, not markup
    operator.shot("1-operator-opened")
    operator.close()

    dm = Person(browser, stack, "dm", password, language)
    dm.login()
    dm.page.get_by_role("link", name=number).click()
    dm.page.select_option("#assign-officer", label="Dr. Ramesh Gupta, CMHO")
    dm.page.fill("#assign-text", "तुरंत बिस्तर दिलाएँ" if hindi else "Find a bed at once")
    dm.shot("2-dm-assigning")
    dm.page.locator("#form-assign button").click()
    expect(dm.page.locator("h1 .badge").first).to_have_text(dm.t("With the officer"))
    dm.close()

    # The officer works from a phone, starting from the link in the mail.
    officer = Person(browser, stack, "cmho", password, language, phone=True)
    link = link_in_mail(stack, number, "cmho@demo.local")
    officer.page.goto(link)
    officer.page.fill("#username", "cmho")
    officer.page.fill("#password", password)
    officer.page.get_by_role("button", name="Log in").click()
    expect(officer.page.locator("h1 .number")).to_have_text(number)
    officer.page.select_option("select[name=language]", language)
    officer.page.wait_for_load_state()
    officer.page.fill("#resolve-text", "जिला अस्पताल में बिस्तर 7" if hindi else "Bed 7 at the district hospital")
    officer.shot("3-officer-resolving-phone")
    officer.page.locator("#form-resolve button").click()
    expect(officer.page.locator("h1 .badge").first).to_have_text(
        officer.t("Waiting for a call back to the caller")
    )
    officer.close()

    # An operator rings the caller back: the call backs head the operators' queue.
    operator = Person(browser, stack, "operator", password, language)
    operator.login()
    operator.page.get_by_role("link", name=number).first.click()
    operator.page.select_option("#satisfied-rating", "4")
    operator.page.fill("#satisfied-text", "बिस्तर मिल गया" if hindi else "Got the bed")
    operator.shot("3b-operator-calling-back")
    operator.page.locator("#form-satisfied button").click()
    expect(operator.page.locator("h1 .badge").first).to_have_text(operator.t("Waiting for the Collector"))
    operator.close()

    collector = Person(browser, stack, "collector", password, language)
    collector.login()
    collector.page.get_by_role("link", name=number).click()
    expect(collector.page.locator("#verdict")).to_have_text(
        collector.t("Satisfied on the call back, rating %(rating)s of 5") % {"rating": 4}
    )
    collector.page.locator("#form-confirm button").click()
    expect(collector.page.locator("h1 .badge").first).to_have_text(collector.t("Closed"))
    expect(collector.page.locator(".events")).to_contain_text(collector.t("Closure confirmed"))
    collector.page.get_by_role("link", name=collector.t("Full history, with the workflow run")).click()
    expect(collector.page.locator("table")).to_contain_text(collector.t("Closure confirmed"))
    collector.shot("4-collector-timeline")

    # The Collector's oversight: the dashboard, and a bar of it opening the list behind it.
    collector.page.get_by_role("link", name=collector.t("Dashboard")).first.click()
    expect(collector.page.locator("h1")).to_contain_text(collector.t("Dashboard"))
    # Its breakdown, the callers' feedback and the hand-offs seen load as parts of their own.
    expect(collector.page.locator("#breakdown-part")).to_contain_text(collector.t("By officer"))
    expect(collector.page.locator("#callers-part")).to_contain_text(collector.t("Callers satisfied"))
    expect(collector.page.locator("#feedback-rated")).not_to_have_text("0")  # the caller rated it
    expect(collector.page.locator("#seen-part")).to_contain_text(collector.t("Hand-offs seen, by person"))
    expect(collector.page.locator("#seen-part")).to_contain_text("Dr. Ramesh Gupta")
    collector.shot("4b-collector-dashboard")
    collector.page.get_by_role("link", name=collector.t("Cases")).first.click()
    collector.page.fill("input[name=q]", number)
    collector.page.locator("input[name=q]").press("Enter")
    expect(collector.page.locator("a.number")).to_have_text([number])
    collector.shot("4c-collector-case-list")
    collector.close()


def test_it_works_the_desk_and_sends_a_red_flag_to_the_duty_officer(
    browser: Browser, stack: Stack, password: str
) -> None:
    """The operator's shift in Hindi: a call logged with the caller's history, the field directory,
    and a follow-up call whose red-flag reading reaches the admission officer on duty within a minute."""
    from datetime import UTC, datetime

    from tests.e2e.web import PrefectApi, mails_about

    operator = Person(browser, stack, "operator", password, "hi")
    operator.login()

    operator.page.get_by_role("link", name=operator.t("Calls")).first.click()
    operator.page.fill("#phone", "94251 00001")  # the Mitanin of Bishrampur calling
    expect(operator.page.locator("#caller-history")).to_contain_text("सुनीता देवी")  # as typed
    operator.page.fill("#caller_name", "सुनीता देवी")
    operator.page.fill("#village", "बिश्रामपुर")
    operator.page.select_option("#kind", "information")
    operator.page.fill("#note", "टीकाकरण शिविर कब है?")
    operator.shot("5-operator-call-log")
    operator.page.get_by_role("button", name=operator.t("Save call")).click()
    expect(operator.page.locator(".flash.success")).to_be_visible()

    operator.page.get_by_role("link", name=operator.t("Directory")).first.click()
    operator.page.locator("input[name=q]").fill("बिश्रामपुर")
    operator.page.locator("input[name=q]").press("Enter")
    expect(operator.page.locator("a[href^='tel:']").first).to_be_visible()
    operator.shot("6-operator-directory")

    # The scheduled list, made now on the test's clock for a slot that has passed whatever the hour
    # (00:00 India time); the operator calls the first patient.
    run = PrefectApi(stack.api_url).run_deployment(
        "follow-up-list/follow-up-list", {"slot": "00:00", "now": datetime.now(UTC).isoformat()}
    )
    assert run["state_type"] == "COMPLETED", run["state"]
    operator.page.get_by_role("link", name=operator.t("Follow-ups")).first.click()
    operator.shot("7-operator-follow-up-list")
    operator.page.locator("a.button", has_text=operator.t("Call")).first.click()
    operator.page.fill("#spo2", "88")
    operator.page.fill("#temperature", "101.2")
    operator.page.fill("#pulse", "112")
    operator.page.get_by_label("साँस फूलना").check()
    operator.shot("8-operator-red-flag-reading")
    started = datetime.now(UTC)
    operator.page.get_by_role("button", name=operator.t("Save reading")).click()
    flash = operator.page.locator(".flash.error")
    expect(flash).to_contain_text("SRJ-")
    number = re.search(r"SRJ-\d{4}-\d{6}", flash.inner_text())
    assert number, flash.inner_text()
    operator.shot("9-operator-emergency-opened")
    operator.close()

    case = number.group(0)
    officer_mail = wait_until(
        lambda: [m for m in mails_about(stack.instance / "mail", case) if m[0] == "cmho@demo.local"],
        timeout=60,
        every=0.2,
        what="the duty officer's message",
    )
    seconds = (datetime.now(UTC) - started).total_seconds()
    print(f"red flag {case}: reading saved -> duty officer's mail in {seconds:.1f} s")
    assert officer_mail and seconds < 60


def test_it_keeps_an_open_queue_current_and_sounds_a_new_emergency(
    browser: Browser, stack: Stack, password: str, users: dict[str, WebUser]
) -> None:
    """The DM's queue, left open, shows a case opened elsewhere and a new emergency, with no reload."""
    dm = Person(browser, stack, "dm", password, "en")
    dm.login()
    dm.page.goto("/queue")
    expect(dm.page.locator("body")).to_have_attribute("data-stamp", re.compile(r"\d"))  # polling started
    dm.page.evaluate("window.keptSinceLoad = true")  # gone if the page were loaded again
    before = dm.page.evaluate("document.querySelectorAll('#queue a.number').length")

    number = users["operator"].open_case(description="Oxygen cylinder empty at the PHC")
    expect(dm.page.locator("#queue")).to_contain_text(number, timeout=40_000)
    expect(dm.page).to_have_title(re.compile(rf"^\({before + 1}\) "))
    assert dm.page.evaluate("window.keptSinceLoad === true")  # redrawn in place, not reloaded
    dm.shot("10-dm-queue-live")

    operator = users["operator"]
    page = operator.http.get("/emergencies/new").text
    response = operator.http.post(
        "/emergencies/new",
        data={
            "csrf_token": field(page, "csrf_token"),
            "token": field(page, "token"),
            "caller_name": "Bhola Ram",
            "phone": "94252 00078",
            "village": "2",
            "description": "Unconscious, needs an ambulance",
        },
    )
    assert response.status_code == 302, response.text
    emergency = response.headers["Location"].rsplit("/", 1)[-1]
    banner = dm.page.locator("#emergency-banner")
    expect(banner).to_contain_text(emergency, timeout=40_000)
    expect(banner).to_have_attribute("data-announced", re.compile(re.escape(emergency)))
    expect(banner).to_have_class(re.compile(r"\bnew\b"))
    dm.shot("11-dm-emergency-banner")
    dm.close()
