"""Many callers, one problem, in the browser: three calls about one village's oxygen become one case."""

from __future__ import annotations

import re
import secrets
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import func, select

from models.cases.lifecycle import WAITING_ON
from models.cases.tables import Case, CaseCaller, CaseEvent
from models.db import get_sessionmaker
from models.desk.handover import Figures
from models.desk.shifts import current_shift
from models.desk.tables import Handover
from models.times import aware
from scripts.stack import Stack
from tests.e2e.test_browser import Person, browser  # noqa: F401 - the module's Chromium, shared
from tests.e2e.web import PrefectApi, WebUser, mails_about, texts_about, wait_until

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


def test_a_duplicate_merged_ends_its_run_and_every_caller_hears_once(
    browser: Browser,  # noqa: F811
    stack: Stack,
    password: str,
    users: dict[str, WebUser],
    cmho_id: str,
) -> None:
    """Three cases about one problem, each with the officer: the DM merges the second into the first in
    the browser (its run ends, merged), merges the third and undoes it (a new run waits on the officer
    again); the officer acts on the first and the third; each caller and the officer get their messages
    once."""
    phones = [f"9{secrets.randbelow(10**9):09d}" for _ in range(3)]
    survivor, duplicate, separate = (
        users["operator"].open_case(phone=p, description="Oxygen cylinders empty at the health centre")
        for p in phones
    )
    for number in (survivor, duplicate, separate):
        users["dm"].decide(number, "assign", officer=cmho_id, text="Refill")
    mail = stack.instance / "mail"
    wait_until(
        lambda: all(mails_about(mail, n) for n in (survivor, duplicate, separate)),
        180,
        what="the officer's mails",
    )

    dm = Person(browser, stack, "dm", password, "en")
    dm.login()
    dm.page.goto(f"/cases/{duplicate}")
    dm.page.get_by_text("Same problem as another case? Merge it").click()
    expect(dm.page.locator("#merge")).to_contain_text(survivor)  # suggested: same village and category
    dm.page.fill("#merge-into", survivor)
    dm.shot("14-dm-merge")
    dm.page.get_by_role("button", name="Merge into that case").click()
    expect(dm.page.locator(".flash.success")).to_contain_text(survivor)
    expect(dm.page.locator("#form-unmerge")).to_be_visible()
    dm.shot("15-dm-merged")
    users["dm"].decide(separate, "merge", into=survivor)
    users["dm"].decide(separate, "unmerge")
    dm.page.goto(f"/cases/{survivor}")
    expect(dm.page.locator("#merged-here")).to_contain_text(duplicate)
    expect(dm.page.locator(".events")).to_contain_text("Merged into another case about the same problem")
    dm.shot("16-dm-survivor")
    dm.close()

    prefect = PrefectApi(stack.api_url)
    with get_sessionmaker(stack.database_url)() as session:
        merged_run = session.scalars(select(Case.flow_run_id).where(Case.number == duplicate)).one()

    def ended() -> dict[str, Any] | None:
        run = prefect.http.get(f"/flow_runs/{merged_run}").json()
        return run if run["state_type"] == "COMPLETED" else None

    wait_until(ended, 180, what="the merged case's run to end")
    assert "merge_case" in {t["name"].rsplit("-", 1)[0] for t in prefect.task_runs(merged_run)}
    # The undone one waits on the officer again, in a new run: the officer acts on it and on the survivor.
    wait_until(lambda: len(mails_about(mail, separate)) == 4, 180, what="the officer told it is theirs again")
    users["cmho"].decide(survivor, "resolve", text="Cylinders refilled")
    users["cmho"].decide(separate, "resolve", text="Cylinders refilled there too")

    def texts() -> Counter[tuple[str, str]]:
        seen: Counter[tuple[str, str]] = Counter()
        for number in (survivor, duplicate, separate):
            for to, text in texts_about(mail, number):
                step = (
                    "number"
                    if "नंबर पर दर्ज" in text
                    else "assigned"
                    if "विभाग को सौंपी" in text
                    else "merged"
                    if "उसी समस्या" in text
                    else "alone"
                    if "फिर से अलग" in text
                    else "acted"
                    if "फ़ोन करेंगे" in text
                    else text
                )
                seen[(number, to.removeprefix("sms").removesuffix("@demo.local"), step)] += 1  # type: ignore[index]
        return seen

    first, second, third = (f"+91{p}" for p in phones)
    wanted = Counter(
        {
            (survivor, first, "number"): 1,
            (survivor, first, "assigned"): 1,
            (survivor, first, "acted"): 1,
            (duplicate, second, "number"): 1,
            (duplicate, second, "assigned"): 1,
            (duplicate, second, "merged"): 1,
            (survivor, second, "acted"): 1,  # the survivor's step, told to the merged case's caller
            (separate, third, "number"): 1,
            (separate, third, "assigned"): 1,
            (separate, third, "merged"): 1,
            (separate, third, "alone"): 1,
            (separate, third, "acted"): 1,
        }
    )
    wait_until(lambda: texts() == wanted, 180, what=f"every caller's texts: {wanted}")
    time.sleep(3)  # anything sent twice would arrive now
    assert texts() == wanted
    officer, operator = "cmho@demo.local", "operator@demo.local"
    assert [to for to, _ in mails_about(mail, duplicate)] == ["dm@demo.local", officer, officer]
    assert [to for to, _ in mails_about(mail, separate)] == [
        "dm@demo.local",
        officer,
        officer,
        officer,
        operator,
    ]
    # The survivor's own (the merges' mails name it too: "... merged into <survivor>").
    own = [to for to, subject in mails_about(mail, survivor) if f"merged into {survivor}" not in subject]
    assert own == ["dm@demo.local", officer, operator]
    with get_sessionmaker(stack.database_url)() as session:
        found = session.execute(
            select(Case.number, Case.state).where(Case.number.in_([survivor, duplicate, separate]))
        )
        states = {number: state for number, state in found}
    assert states == {survivor: "callback", duplicate: "merged", separate: "callback"}


def test_the_next_shift_takes_over_what_was_left_open(
    browser: Browser,  # noqa: F811
    stack: Stack,
    password: str,
    users: dict[str, WebUser],
) -> None:
    """The outgoing operator leaves a case and a note; the handover the deployment makes at the next
    shift's start (the test's clock) counts every open case by its step, names the oldest and the
    note, and the incoming operator takes it over by name in the browser."""
    left = users["operator"].open_case(description="Ration shop closed for three days")
    operator = Person(browser, stack, "operator", password, "en")
    operator.login()
    operator.page.goto("/handover")
    promise = f"Promised to call back the Sarpanch about {left}"
    operator.page.fill("#text", promise)
    operator.page.get_by_role("button", name="Save note").click()
    expect(operator.page.locator(".flash.success")).to_be_visible()

    shift = current_shift(datetime.now(UTC))
    boundary = shift.end + timedelta(minutes=1)
    run = PrefectApi(stack.api_url).run_deployment(
        "shift-handover/shift-handover", {"now": boundary.isoformat()}
    )
    assert run["state_type"] == "COMPLETED", run
    with get_sessionmaker(stack.database_url)() as session:
        (handover,) = [h for h in session.scalars(select(Handover)) if aware(h.shift_start) == shift.start]
        # What is open, counted here apart from the handover's own queries.
        waiting = {s.value: step.value for s, step in WAITING_ON.items()}
        rows = session.execute(select(Case.state, Case.number).order_by(Case.state_since, Case.id)).all()
        opened = session.scalar(select(func.count()).select_from(Case).where(Case.created_at >= shift.start))
    pending = Counter(waiting[state] for state, _ in rows if state in waiting)
    oldest = {}
    for state, number in rows:
        if state in waiting:
            oldest.setdefault(waiting[state], number)
    figures = Figures.from_json(handover.figures)
    assert figures.pending == dict(pending) and pending["dm"] >= 1
    assert {step: row.number for step, row in figures.oldest.items()} == oldest
    assert figures.opened == opened and promise in [n.text for n in figures.notes]

    operator.page.goto(f"/handover/{handover.id}")
    page = operator.page.locator("main")
    for number in oldest.values():
        expect(page).to_contain_text(number)
    expect(page).to_contain_text(promise)
    operator.page.get_by_role("button", name="I take this shift over").click()
    expect(operator.page.locator("main")).to_contain_text("Taken over by Sunita Operator")  # by name
    operator.shot("17-operator-handover")
    operator.close()
