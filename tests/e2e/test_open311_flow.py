"""A complaint filed through Open311 goes the whole way like an operator's: the caller's texts, the
officer, the call back (in the browser) and closure, its status in the API, the rating on the dashboard."""

from __future__ import annotations

import secrets
from collections import Counter

import pytest
from playwright.sync_api import Browser, expect

from scripts.stack import BIN, Stack
from tests.e2e.test_browser import Person, browser  # noqa: F401 - the module's Chromium, shared
from tests.e2e.web import WebUser, http_client, texts_about, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

# A phrase of each of the caller's Hindi texts (notifications/templates/hi/caller_*.txt).
STEPS = {"opened": "नंबर पर दर्ज", "assigned": "विभाग को सौंपी", "resolved": "फ़ोन करेंगे", "closed": "बंद हो गई"}


def test_it_carries_an_open311_request_to_closure(
    browser: Browser,  # noqa: F811
    stack: Stack,
    password: str,
    users: dict[str, WebUser],
    cmho_id: str,
) -> None:
    client = f"portal-{secrets.token_hex(3)}"
    made = stack.run(str(BIN / "flask"), "--app", "webapp", "api-key", "make", client)
    key = made.strip().splitlines()[-1]
    phone = f"9{secrets.randbelow(10**9):09d}"
    api = http_client(f"{stack.web_url}/open311/v2")
    filed = api.post(
        "/requests.json",
        data={
            "api_key": key,
            "service_code": "oxygen",
            "attribute[village]": "Bishrampur",
            "first_name": "Sunita",
            "last_name": "Devi",
            "phone": phone,
            "description": "ऑक्सीजन सिलेंडर खाली है",
        },
    )
    assert filed.status_code == 200, filed.text
    number = filed.json()[0]["service_request_id"]
    assert api.get(f"/requests/{number}.json").json()[0]["status"] == "open"

    users["dm"].decide(number, "assign", officer=cmho_id, text="Send a cylinder")
    users["cmho"].decide(number, "resolve", text="Cylinder delivered")

    # The call back, in the browser, from the operators' queue.
    operator = Person(browser, stack, "operator", password, "en")
    operator.login()
    operator.page.get_by_role("link", name=number).first.click()
    expect(operator.page.locator("body")).to_contain_text("through the Open311 API")
    operator.page.select_option("#satisfied-rating", "5")
    operator.page.fill("#satisfied-text", "Cylinder received")
    operator.page.locator("#form-satisfied button").click()
    expect(operator.page.locator("h1 .badge").first).to_have_text("Waiting for the Collector")
    operator.close()

    collector = Person(browser, stack, "collector", password, "en")
    collector.login()
    collector.page.get_by_role("link", name=number).first.click()
    expect(collector.page.locator("#verdict")).to_contain_text("rating 5 of 5")
    collector.page.locator("#form-confirm button").click()
    expect(collector.page.locator("h1 .badge").first).to_have_text("Closed")
    collector.page.goto("/dashboard")
    expect(collector.page.locator("#feedback")).to_contain_text("Oxygen")  # the part, once loaded
    expect(collector.page.locator("#feedback-rated")).not_to_have_text("0")
    collector.shot("14-collector-feedback")
    collector.close()

    def told() -> Counter[str] | None:
        seen = Counter(
            step
            for to, text in texts_about(stack.instance / "mail", number)
            if to == f"sms+91{phone}@demo.local"
            for step, words in STEPS.items()
            if words in text
        )
        return seen if set(seen) == set(STEPS) else None

    assert wait_until(told, timeout=120, what="the API caller's texts") == Counter(dict.fromkeys(STEPS, 1))
    closed = api.get(f"/requests/{number}.json").json()[0]
    assert closed["status"] == "closed" and phone not in str(closed) and "Sunita" not in str(closed)
