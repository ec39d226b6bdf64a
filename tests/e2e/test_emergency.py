"""An emergency on the real stack: from the operator's form to the duty officer's message in a minute."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from models.cases.tables import Case
from models.db import get_sessionmaker
from models.duty.tables import Duty, DutyShift
from models.reference.tables import User
from scripts.stack import Stack
from tests.e2e.web import PrefectApi, WebUser, field, mails_about, wait_until
from tests.helpers import HttpSink

pytestmark = pytest.mark.e2e


def test_it_reaches_the_duty_officer_within_a_minute(
    stack: Stack, users: dict[str, WebUser], http_sink: HttpSink
) -> None:
    with get_sessionmaker(stack.database_url).begin() as session:
        officer = session.scalar(select(User).where(User.username == "dfo"))
        assert officer is not None
        now = datetime.now(UTC)
        session.add(
            DutyShift(
                duty=Duty.admission, user_id=officer.id, starts_at=now, ends_at=now + timedelta(hours=8)
            )
        )
    operator = users["operator"]
    page = operator.http.get("/emergencies/new").text
    started = time.monotonic()
    response = operator.http.post(
        "/emergencies/new",
        data={
            "csrf_token": field(page, "csrf_token"),
            "token": field(page, "token"),
            "caller_name": "रामप्यारी",
            "phone": "94252 00077",
            "village": "2",
            "description": "SpO2 86, साँस नहीं ले पा रही",
        },
    )
    assert response.status_code == 302, response.text
    number = response.headers["Location"].rsplit("/", 1)[-1]
    maildir = stack.instance / "mail"
    to_officer = wait_until(
        lambda: [m for m in mails_about(maildir, number) if m[0] == "dfo@demo.local"],
        timeout=60,
        every=0.1,
        what="the duty officer's message",
    )
    seconds = time.monotonic() - started
    print(f"emergency {number}: form submitted -> duty officer's mail in {seconds:.1f} s")
    assert "EMERGENCY" in to_officer[0][1]
    told = wait_until(
        lambda: {m[0] for m in mails_about(maildir, number)} >= {"dm@demo.local", "collector@demo.local"}
    )
    assert told
    # The one who must act hears first, and once: before the DMs and the Collectors (#13).
    mails = [to for to, _ in mails_about(maildir, number)]
    assert mails[0] == "dfo@demo.local" and mails.count("dfo@demo.local") == 1, mails
    # The alarm goes on every channel at once: the Collector's HTTP channel after the mail too.
    assert wait_until(
        lambda: [p for p in http_sink.received if number in p.get("title", "")], what="the alarm"
    )

    # Still one flow run, with the whole history: the DM's step taken by the roster.
    prefect = PrefectApi(stack.api_url)
    runs = prefect.runs_named(number)
    assert len(runs) == 1
    # In the urgent queue, which workers take from before the default queue (a storm's routine runs).
    assert runs[0]["work_queue_name"] == "urgent"
    queues = prefect.http.post(f"/work_pools/{runs[0]['work_pool_name']}/queues/filter", json={}).json()
    assert [q["name"] for q in sorted(queues, key=lambda q: q["priority"])][0] == "urgent"
    # Routine steps leave one of the workers' slots free for it, whatever the storm; the scheduled
    # flows run in a queue of their own, without that limit (flows/automations.py).
    by_name = {q["name"]: q for q in queues}
    assert by_name["default"]["concurrency_limit"] == stack.workers * stack.work_limit - 1
    assert by_name["background"]["concurrency_limit"] is None
    sweep = prefect.http.get("/deployments/name/escalation-sweep/escalation-sweep").json()
    assert sweep["work_queue_name"] == "background"
    assert prefect.states(runs[0]["id"]).count("Suspended") >= 1
    with get_sessionmaker(stack.database_url)() as session:
        case = session.scalar(select(Case).where(Case.number == number))
        assert case is not None and case.officer_id == officer.id and case.emergency
