"""The officer acts from the message: the one-tap link in the mail opens the step on a phone, without a
password, and one tap records the action; the spent link then opens nothing."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import select

from models.cases.tables import Case, CaseEvent
from models.db import get_sessionmaker
from notifications.mailsink import body_text, read_messages
from scripts.stack import Stack
from tests.e2e.test_browser import PHONE, browser  # noqa: F401 - the module's Chromium, shared
from tests.e2e.web import WebUser, wait_until
from tests.helpers import artifacts

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def act_link(stack: Stack, number: str, to: str) -> str:
    """The one-tap link in `to`'s mail about case `number`."""

    def find() -> str | None:
        for message in read_messages(stack.instance / "mail"):
            if number in (message["Subject"] or "") and message["X-Envelope-To"] == to:
                match = re.search(r"https?://\S+/act/\S+", body_text(message))
                if match:
                    return match.group(0)
        return None

    return wait_until(find, 120, what=f"{to}'s one-tap link about {number}")


def test_the_officer_acts_in_one_tap_from_the_message(
    browser: Browser,  # noqa: F811
    stack: Stack,
    users: dict[str, WebUser],
    cmho_id: str,
) -> None:
    number = users["operator"].open_case(description="Oxygen cylinder empty at home")
    users["dm"].decide(number, "assign", officer=cmho_id, text="Please see to it")
    link = act_link(stack, number, "cmho@demo.local")

    phone = browser.new_context(viewport=PHONE, base_url=stack.web_url, locale="en-US")
    page = phone.new_page()
    try:
        page.goto(link)
        expect(page.locator("h1 .number")).to_have_text(number)
        expect(page.locator("#link-for")).to_contain_text("one-tap link")
        folder = artifacts() / "screenshots"
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(folder / "18-officer-one-tap-en.png"), full_page=True)
        page.fill("#resolve-text", "Cylinder refilled")
        page.get_by_role("button", name="Mark resolved").click()
        expect(page.locator("main")).to_contain_text(number)
        page.screenshot(path=str(folder / "19-officer-one-tap-done-en.png"), full_page=True)
        # Never signed in: the rest of the app still asks for the password.
        page.goto("/queue")
        expect(page).to_have_url(re.compile(r"/login"))
        # The spent link opens nothing and changes nothing.
        answer = page.goto(link)
        assert answer is not None and answer.status == 410
        expect(page.locator("main")).to_contain_text("already taken")
        tampered = page.goto(link[:-3] + ("aaa" if not link.endswith("aaa") else "bbb"))
        assert tampered is not None and tampered.status == 404
    finally:
        phone.close()

    with get_sessionmaker(stack.database_url)() as session:
        case = session.scalars(select(Case).where(Case.number == number)).one()
        resolves = session.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.kind == "resolve")
        ).all()
        assert case.state == "callback"
        assert [(e.via, e.text) for e in resolves] == [("link", "Cylinder refilled")]
    # The run goes on: the operators are told a call back is due.
    wait_until(
        lambda: any(
            number in (m["Subject"] or "") and m["X-Envelope-To"] == "operator@demo.local"
            for m in read_messages(stack.instance / "mail")
        ),
        120,
        what="the operators' mail after the one-tap resolution",
    )
