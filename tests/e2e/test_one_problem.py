"""Many callers, one problem, in the browser: three calls about one village's oxygen become one case."""

from __future__ import annotations

import re
import secrets
from collections import Counter

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import func, select

from models.cases.tables import Case, CaseCaller, CaseEvent
from models.db import get_sessionmaker
from scripts.stack import Stack
from tests.e2e.test_browser import Person, browser  # noqa: F401 - the module's Chromium, shared
from tests.e2e.web import WebUser, texts_about, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def fill_intake(operator: Person, name: str, phone: str, description: str) -> None:
    page = operator.page
    page.goto("/cases/new")
    page.fill("#caller_name", name)
    page.fill("#phone", phone)
    page.select_option("#village", label="Bishrampur")
    page.select_option("#category", label="Oxygen")
    page.fill("#description", description)


def test_it_makes_three_calls_about_one_problem_one_case(
    browser: Browser,  # noqa: F811
    stack: Stack,
    password: str,
    users: dict[str, WebUser],
    cmho_id: str,
) -> None:
    phones = [f"9{secrets.randbelow(10**9):09d}" for _ in range(3)]
    operator = Person(browser, stack, "operator", password, "en")
    operator.login()
    fill_intake(operator, "Kamla Bai", phones[0], "Oxygen supply failed at the Bishrampur health centre")
    operator.page.get_by_role("button", name="Open case").click()
    number = operator.page.locator("h1 .number").inner_text()
    assert re.fullmatch(r"SRJ-\d{4}-\d{6}", number)

    for name, phone in (("Ramesh Sahu", phones[1]), ("Geeta Yadav", phones[2])):
        fill_intake(operator, name, phone, "No oxygen at the health centre since morning")
        suggestion = operator.page.locator("#similar")
        expect(suggestion).to_contain_text(number)  # as the form was filled
        operator.shot(f"12-operator-similar-{phone[-2:]}")
        suggestion.get_by_role("button", name=f"Attach this call to {number}").click()
        expect(operator.page.locator(".flash.success")).to_contain_text(number)
        expect(operator.page.locator(".events")).to_contain_text(name)
    operator.shot("13-operator-attached")
    operator.close()

    with get_sessionmaker(stack.database_url)() as session:
        attached = [f"+91{p}" for p in phones[1:]]
        assert session.scalar(select(func.count()).select_from(Case).where(Case.phone.in_(attached))) == 0
        case_id = session.scalars(select(Case.id).where(Case.number == number)).one()
        assert len(session.scalars(select(CaseCaller).where(CaseCaller.case_id == case_id)).all()) == 2

    users["dm"].decide(number, "assign", officer=cmho_id, text="Send a cylinder")
    users["cmho"].decide(number, "resolve", text="Cylinders delivered to the health centre")

    # Each caller: the number once, and the officer's action once (in Hindi, the form's default).
    def told() -> Counter[tuple[str, str]] | None:
        seen: Counter[tuple[str, str]] = Counter()
        for to, text in texts_about(stack.instance / "mail", number):
            step = "number" if "नंबर पर दर्ज" in text else "acted" if "फ़ोन करेंगे" in text else "other"
            seen[(to, step)] += 1
        wanted = {(f"sms+91{p}@demo.local", s) for p in phones for s in ("number", "acted")}
        return seen if wanted <= set(seen) else None

    seen = wait_until(told, timeout=120, what="every caller's texts")
    assert all(count == 1 for count in seen.values()), seen
    with get_sessionmaker(stack.database_url)() as session:
        of_case = (CaseEvent.case_id == case_id) & (CaseEvent.kind == "resolve")
        resolves = session.scalar(select(func.count()).select_from(CaseEvent).where(of_case))
        assert resolves == 1  # the officer acted once for all three
