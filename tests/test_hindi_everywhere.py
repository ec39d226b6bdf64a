"""Every word a Hindi reader sees is Hindi: each page every role reaches, the case history, every message.

The demo district is seeded, with cases in every state, messages, an emergency, a home-isolation
patient whose reading raised a red flag, a missed follow-up, an advisory and an escalation. Every
user reads Hindi. Each persona crawls the pages it reaches (GET only, links as tests/crawl.py finds
them); the visible text of each page (text outside <script>/<style>/<code>/<kbd>, and the attributes
people read) may hold no Latin-script word but the data the test or the seed wrote (names, villages,
numbers, the typed descriptions), URLs, e-mail addresses, case numbers and the few codes in CODES.
Every message is rendered for a Hindi reader as notifications/ composes it, and checked the same way.
"""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from flask import Flask
from flask_babel import force_locale
from flask_login import login_user
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from models.access.tables import LoginSession
from models.advisories.tables import Advisory
from models.cases.lifecycle import Action
from models.cases.merging import merge, unmerge
from models.cases.tables import Case, CaseEvent
from models.config import Settings
from models.desk.tables import Contact
from models.emergency.cases import open_emergency
from models.homecare.followups import Vitals, make_day_list, record_reading, record_unreachable
from models.homecare.tables import AlertDelivery, FollowUp, FollowUpAlert, Patient
from models.messages import CallerMessage, Delivery, DeliveryStatus, Reason
from models.oversight.escalation import due_escalations, escalate
from models.oversight.tables import EscalationRung
from models.reference.tables import Block, User, Village
from models.times import INDIA
from notifications import caller, miss_alerts
from notifications import delivery as case_messages
from notifications.sms import advisory_template_names, advisory_text
from tests import casedata
from tests.conftest import login
from tests.crawl import parse, route
from webapp.history import STATE_LABELS, STATE_TYPES, TASK_LABELS, page
from webapp.runs import RunHistory

PERSONAS = (None, "admin", "dm", "collector", "operator", "cmho", "bmo")  # None: nobody signed in
PAGES_PER_ENDPOINT = 8  # as tests/test_hostile_input.py: enough for a case in each state
# Codes and abbreviations a Hindi page keeps in Latin letters, each with why.
CODES = {
    "SpO2",  # the oximeter's reading, printed so on the device the patient reads from
    "CSV",  # the file format an import takes and an export gives, named as spreadsheet programs name it
    "SMS",  # how the channel is known in Hindi speech and on every phone
    "English",  # the language switch names each language in itself
    "Prefect",  # the workflow engine's name: "Open in Prefect" opens that program, which is in English
}
# The people and roles of the demo seed whose names are role words: renamed, so that a page printing
# an untranslated role ("Collector") is not mistaken for one printing a person's name.
NAMES = {
    "dm": ("Priya Sharma", "DM Surajpur"),
    "collector": ("Anil Tiwari", "IAS"),
    "admin": ("Vijay Patel", ""),
    "operator": ("Sunita Kerketta", ""),
    "dfo": ("Rakesh Verma", "DFO"),
    "tehsildar": ("Mahesh Sahu", ""),
}
TYPED = [  # what the test types, besides casedata's texts
    "noted",
    "Boil water",
    "Boil it.",
    "Feels better",
    "Emergency caller",
    "Cannot breathe",
]
SKIP = {"static"}  # files, not pages
LATIN = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:['’][A-Za-z]+)*")
CODED = re.compile(
    r"(?:https?|mailto|json|tgram)://\S+"  # URLs (an Apprise channel included)
    r"|[\w.+#-]+@[\w-]+(?:\.[\w-]+)+"  # e-mail addresses (# stands for a data value in one, see Checker)
    r"|\b[A-Z]{2,6}-\d{4}-\d{6}\b"  # case numbers
    r"|\b[A-Z]{2,6}-\d+\b"  # health ids (DEMO-1, H-1)
    r"|°\s?F\b"  # the thermometer's unit
    r"|\b\w+/\d+(?:\.\d+)+"  # a program and its version, as a browser names itself (sign-ins page)
)
READ_ATTRIBUTES = ("title", "placeholder", "aria-label", "alt")
BUTTONS = ("submit", "button", "reset")


class _Visible(HTMLParser):
    """The text a person reads on a page: text nodes outside script/style and the read attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag in ("script", "style", "code", "kbd"):  # a program's, or a code a person types as it is
            self.hidden += 1
        self.texts += [a[name] for name in READ_ATTRIBUTES if a.get(name)]
        if tag == "input" and a.get("type") in BUTTONS and a.get("value"):
            self.texts.append(a["value"])

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "code", "kbd") and self.hidden:
            self.hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self.hidden and data.strip():
            self.texts.append(" ".join(data.split()))


def visible(html: str) -> list[str]:
    parser = _Visible()
    parser.feed(html)
    return parser.texts


class Checker:
    """Finds the stray Latin-script words of texts, given the data values that may be Latin."""

    def __init__(self, data: set[str]) -> None:
        values = sorted(
            {v.strip() for v in data if v and v.strip() and LATIN.search(v)}, key=len, reverse=True
        )
        self.data = re.compile("|".join(rf"(?<!\w){re.escape(v)}(?!\w)" for v in values)) if values else None
        self.found: dict[tuple[str, str], str] = {}  # (word, where) -> the text around it

    def check(self, where: str, texts: list[str]) -> None:
        for text in texts:
            # Data first (a description may hold a URL), blanked with "#" so a URL or address around a
            # username stays one token for CODED.
            cleaned = self.data.sub(lambda m: "#" * len(m[0]), text) if self.data is not None else text
            cleaned = CODED.sub(lambda m: " " * len(m[0]), cleaned)
            for match in LATIN.finditer(cleaned):
                if match[0] not in CODES:
                    around = text[max(0, match.start() - 70) : match.end() + 70].replace("\n", " / ")
                    self.found.setdefault((match[0], where), around)

    def report(self) -> str:
        by_word: dict[str, list[str]] = defaultdict(list)
        for (word, where), text in sorted(self.found.items()):
            by_word[word].append(f"    {where}: {text!r}")
        lines = [f"{len(by_word)} English words on Hindi pages and messages:"]
        for word, places in sorted(by_word.items(), key=lambda kv: kv[0].lower()):
            lines.append(f"  {word!r} ({len(places)} places)")
            lines += places[:4] + ([f"    ... and {len(places) - 4} more"] if len(places) > 4 else [])
        return "\n".join(lines)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # An SMS_URL, so a Mitanin can be sent an SMS; a district not among the seed's places, so a page or
    # message naming it in English (not through Settings.district_for) shows up.
    sms = "json://127.0.0.1:9/?to={phone}"
    return replace(settings, sms_url=sms, district_name="Ambikapur", district_name_hi="अंबिकापुर")


@pytest.fixture
def world(session: Session, district: dict[str, User]) -> dict[str, str]:
    """Cases in every state with their messages, an emergency call and one from a reading, a missed
    follow-up, an advisory, an escalation; then every user reads Hindi. Return the case numbers."""
    numbers = casedata.build(session, district)
    u, now = district, datetime.now(UTC)
    for username, (name, designation) in NAMES.items():
        u[username].name, u[username].designation = name, designation
    cases = {n: session.scalar(select(Case).where(Case.number == number)) for n, number in numbers.items()}
    # The decisions casedata leaves out: a send-back and a reopening, and a closed case reopened.
    g = casedata.make_case(session, u["operator"], now - timedelta(hours=3), category="medicine")
    casedata.move(session, g, Action.assign, u["dm"], now - timedelta(hours=2), u["cmho"])
    casedata.move(session, g, Action.send_back, u["cmho"], now - timedelta(hours=1))
    c = cases["c"]
    assert c is not None
    casedata.move(session, c, Action.reopen, u["collector"], now - timedelta(minutes=30))
    h = casedata.make_case(session, u["operator"], now - timedelta(hours=3), village="Kharsura")
    casedata.move(session, h, Action.assign, u["dm"], now - timedelta(hours=2), u["cmho"])
    casedata.move(session, h, Action.resolve, u["cmho"], now - timedelta(hours=2))
    casedata.move(session, h, Action.satisfied, u["operator"], now - timedelta(minutes=90))
    casedata.move(session, h, Action.confirm, u["collector"], now - timedelta(hours=1))
    casedata.move(session, h, Action.reopen_closed, u["operator"], now - timedelta(minutes=20))
    # A call back never answered, closed by the Collector without the caller's word; one waiting.
    for closes in (True, False):
        k = casedata.make_case(session, u["operator"], now - timedelta(hours=3), village="Kharsura")
        casedata.move(session, k, Action.assign, u["dm"], now - timedelta(hours=2), u["cmho"])
        casedata.move(session, k, Action.resolve, u["cmho"], now - timedelta(hours=2))
        for _ in range(3):
            casedata.move(session, k, Action.unreachable, u["operator"], now - timedelta(hours=1))
        if closes:
            casedata.move(session, k, Action.close_unverified, u["collector"], now - timedelta(minutes=10))
    # A caller who says it is not resolved: back with the officer.
    m = casedata.make_case(session, u["operator"], now - timedelta(hours=3), village="Kharsura")
    casedata.move(session, m, Action.assign, u["dm"], now - timedelta(hours=2), u["cmho"])
    casedata.move(session, m, Action.resolve, u["cmho"], now - timedelta(hours=2))
    casedata.move(session, m, Action.not_satisfied, u["operator"], now - timedelta(hours=1))
    # Two calls about one problem: one merged into the other; another merged and the merge undone.
    for undone in (False, True):
        n = casedata.make_case(session, u["operator"], now - timedelta(hours=1), village="Kharsura")
        casedata.move(session, n, Action.assign, u["dm"], now - timedelta(minutes=50), u["cmho"])
        merge(session, n, m, u["dm"], version=n.decisions, now=now)  # both now: never across a shift
        if undone:
            unmerge(session, n, u["collector"], version=n.decisions, now=now)
    # An emergency call, and a home-isolation reading with red flags (taken by an operator reading
    # English: the reader's language decides, not the writer's).
    village = session.scalars(select(Village)).first()
    assert village is not None
    open_emergency(
        session,
        caller_name="Emergency caller",
        phone="+919811111111",
        village_id=village.id,
        description="Cannot breathe",
        by=u["operator"],
        prefix="SRJ",
        now=now,
        token=uuid.uuid4().hex,
    )
    make_day_list(session, now.astimezone(INDIA).date(), "00:00", now - timedelta(hours=1))
    calls = list(session.scalars(select(FollowUp).order_by(FollowUp.id)))
    vitals = Vitals(spo2=88, pulse=130, symptoms=("breathlessness", "fever"), note="Feels better")
    record_reading(session, calls[0], vitals, u["operator"], now, "SRJ")
    record_unreachable(session, calls[1], u["operator"], now, limit=1, retry_after=timedelta(days=2))
    session.add(Advisory(title="Boil water", body="Boil it.", language="hi", by_user_id=u["dm"].id))
    # An escalation of every waiting case, and every event's messages (one failed, the rest pending).
    session.add(EscalationRung(step=None, percent=100, audience="dm"))
    session.flush()
    for due in due_escalations(session, now):
        escalate(session, due, now)
    for event in session.scalars(select(CaseEvent)):
        case_messages.plan_deliveries(session, event.case_id, event.id)
    # An urgent hand-off nobody acknowledged: the stand-in's and the level above's messages.
    first = session.scalars(select(Delivery).order_by(Delivery.id)).first()
    assert first is not None
    for reason, who in ((Reason.stand_in, "bmo"), (Reason.escalated, "collector")):
        url = u[who].channel_urls[0]
        case_messages.plan_row(session, first.case_id, first.event_id, u[who], url, reason, first.id)
    session.execute(update(Delivery).where(Delivery.id == 1).values(status=DeliveryStatus.failed))
    session.execute(update(User).values(language="hi"))
    session.commit()
    return numbers


def data_values(session: Session) -> set[str]:
    """What people typed or the seed holds, which a page shows as it is."""
    values = set(TYPED) | {"Needs a hospital bed with oxygen", "OXYGEN cylinder empty", "Road repair"}
    values |= {
        '=HYPERLINK("http://x")',
        "Ambulance needed",
        "Needs a hospital bed",
        "Ramu Yadav",
        "Mohan Lal",
    }
    for user in session.scalars(select(User)):
        values |= {user.name, user.username, user.designation}
    values |= set(session.scalars(select(Village.name))) | set(session.scalars(select(Block.name)))
    values |= set(session.scalars(select(Contact.name)))
    values |= set(session.scalars(select(LoginSession.agent)))  # the browser's own name, on the sign-ins page
    for patient in session.scalars(select(Patient)):
        values |= {patient.name, patient.health_id, patient.conditions}
    return values


def crawl(app: Flask, who: str | None, checker: Checker) -> int:
    """Visit the pages `who` reaches, in Hindi; check each. Return how many were checked."""
    client = app.test_client()
    with client.session_transaction() as cookie:
        cookie["language"] = "hi"
    if who:
        login(client, who)
    adapter = app.url_map.bind("localhost")
    rules = [r for r in app.url_map.iter_rules() if "GET" in (r.methods or ()) and not r.arguments]
    queue = [r.rule for r in rules if r.endpoint not in SKIP]
    seen: set[str] = set()
    per_endpoint: dict[str, int] = defaultdict(int)
    checked = 0
    while queue:
        url = queue.pop(0)
        found = route(adapter, url)
        if url in seen or not found or found[0] in SKIP or per_endpoint[found[0]] >= PAGES_PER_ENDPOINT:
            continue
        seen.add(url)
        per_endpoint[found[0]] += 1
        response = client.get(url)
        if response.mimetype != "text/html" or 300 <= response.status_code < 400:
            continue  # a file, or a redirect's body, which a browser does not show
        html = response.get_data(as_text=True)
        checker.check(f"{url} as {who or 'nobody'} ({response.status_code})", visible(html))
        checked += 1
        links, _forms = parse(url, html)
        queue += [link for link in links if route(adapter, link)]
    for url in ("/no-such-page", "/cases/SRJ-2099-999999"):  # the error pages
        response = client.get(url)
        if response.status_code < 300 or response.status_code >= 400:
            checker.check(
                f"{url} as {who or 'nobody'} ({response.status_code})", visible(response.get_data(True))
            )
    return checked


def every_engine_row(case: Case) -> RunHistory:
    """A run history holding every Prefect state name and type, and a run of every task of the flow."""
    at = datetime.now(UTC)
    names = [*STATE_LABELS, "SomeNewState"]
    states = [
        {"at": at, "name": name, "type": STATE_TYPES.get(name.upper(), "COMPLETED"), "message": ""}
        for name in names
    ]
    kinds = ["COMPLETED", "FAILED", "CRASHED", "RUNNING", "PAUSED", "SCHEDULED", "PENDING", "CANCELLED"]
    tasks = [
        {
            "at": at + timedelta(seconds=i),
            "name": f"{task}-a{i}",
            "state": names[i % len(names)],
            "type": kind,
        }
        for i, (task, kind) in enumerate(zip(TASK_LABELS, kinds * 2, strict=False))
    ]
    return RunHistory(
        "run-1", f"case-{case.id}", "Completed", "http://prefect/runs/1", states, tasks, "", "COMPLETED"
    )


def test_it_shows_every_page_in_hindi_to_every_role(
    app: Flask, session: Session, settings: Settings, world: dict[str, str]
) -> None:
    checker = Checker(data_values(session))
    pages = sum(crawl(app, who, checker) for who in PERSONAS)
    assert pages >= 60, pages  # the crawl reached the app, not just the sign-in page
    # The history with the engine's rows (Prefect is not running in unit tests).
    collector = session.scalar(select(User).where(User.username == "collector"))
    for case in session.scalars(select(Case)):
        deliveries = list(session.scalars(select(Delivery).where(Delivery.case_id == case.id)))
        for detail in (False, True):
            with app.test_request_context(), force_locale("hi"):
                login_user(collector)
                html = page(case, deliveries, every_engine_row(case), detail=detail)
            checker.check(f"timeline of {case.number}{' (detail)' if detail else ''}", visible(html))
    assert not checker.found, checker.report()


def test_it_writes_every_message_in_hindi(
    session: Session, settings: Settings, world: dict[str, str]
) -> None:
    checker = Checker(data_values(session))
    kinds: set[str] = set()
    for delivery in session.scalars(select(Delivery)):
        message = case_messages.compose(session, delivery, settings)
        case = session.get_one(Case, delivery.case_id)
        kind = "emergency" if case.emergency and delivery.event.kind == "opened" else delivery.event.kind
        kind = case_messages.TEMPLATE.get(delivery.reason, kind)
        kinds.add(kind)
        checker.check(f"message {kind} to {delivery.user.username}", [message.title, message.body])
    alert = session.scalars(select(FollowUpAlert)).one()
    for id_ in miss_alerts.plan_alert(session, alert.id, settings, datetime.now(UTC)):
        message = miss_alerts.compose(session, session.get_one(AlertDelivery, id_), settings)
        kinds.add("miss_alert")
        checker.check(f"message miss_alert ({id_})", [message.title, message.body])
    for event in session.scalars(select(CaseEvent).order_by(CaseEvent.id)):  # the callers' text messages
        for id_ in caller.plan_caller_messages(session, event.case_id, event.id, settings):
            row = session.get_one(CallerMessage, id_)
            row.language = "hi"
            message = caller.compose(session, row, settings)
            kinds.add(f"caller_{caller.CALLER_TEXTS[event.kind]}")
            checker.check(
                f"message to the caller of {event.case.number} on {event.kind}", [message.title, message.body]
            )
    for name in advisory_template_names():
        checker.check(f"advisory template {name}", list(advisory_text(name, "hi")))
    templates = {p.stem for p in (Path(case_messages.__file__).parent / "templates" / "hi").glob("*.txt")}
    assert kinds >= templates, f"no message rendered of {sorted(templates - kinds)}"
    assert not checker.found, checker.report()
