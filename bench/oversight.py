"""oversight: the dashboard, filtered case lists, the daily report and the CSV export on a year of cases.

A fresh app database (a SQLite file in a temporary folder, or with --postgres the database
`bench_app`) is migrated and seeded with bulk inserts (COPY on PostgreSQL), CHUNK cases at a time:
a state's history at --full, 1,000,000 cases opened over the last 365 days with realistic
lifecycles, 10,000,000 case events, their hand-offs' messages (about 4.5 delivery rows a case, most
seen), 1,600,000 calls, 10 blocks, 200 villages and 30 officers (default 10,000 cases;
BENCH_OVERSIGHT_CASES sets another size, with ten events and 1.6 calls a case). Then VACUUM
ANALYZE, as autovacuum leaves a database in use. The web app is measured in
this process through the Flask test client (no HTTP server, no network), logged in as the Collector:

- GET /dashboard and the three parts it loads once shown (/dashboard/breakdown, /feedback, /seen),
  p50 and p95 each (goal p95 <= 200 ms), and the four one after another; floor: each one's SQL
  statements (models/oversight/stats.py, feedback.py, acknowledgement.py) run bare;
- GET /cases?... for several filters, p95 each (goal <= 200 ms); floor: the list's count and
  page queries (models/cases/listing.py) executed bare;
- GET /reports/daily of today and of a month ago, p95 (goal <= 1 s); floor: daily_report() called;
- GET /calls/history, an operator's view of a caller with three cases or more (goal <= 200 ms);
- GET /cases/export.csv of the newest 100,000 cases (from the day that holds them): total time
  (goal <= 10 s) and the growth of this process's peak RSS while it streams (goal: flat); floor:
  the export query streamed bare;
- GET /live/pulse, what every open page asks every LIVE_SECONDS, p95, when nothing moved and just
  after a change (goal <= 20 ms, so a room of screens costs nothing noticeable); floor: its
  statements (models/cases/pulse.py) executed bare.
"""

from __future__ import annotations

import itertools
import math
import os
import random
import re
import shutil
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
from sqlalchemy import Connection, Engine, delete, func, insert, select, text
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from bench.harness import Options, create_database
from bench.report import Report, percentile
from models.cases.lifecycle import Step
from models.cases.sla import Limits, resolution_deadline, step_limit
from models.cases.tables import Case, CaseEvent
from models.config import Settings
from models.db import get_engine, get_sessionmaker
from models.demo import seed
from models.desk.tables import Call
from models.messages import Delivery, channel_key, is_hand_off
from models.oversight.acknowledgement import acknowledgement
from models.oversight.days import overview_percentiles_query, overview_query
from models.oversight.feedback import verdicts_query
from models.oversight.stats import (
    Window,
    calls_query,
    cohort_query,
    durations_query,
    pending_query,
    percentiles_query,
)
from models.reference.tables import Block, Category, Department, User, Village
from models.times import aware

NAME = "oversight"
GOAL_MS = "<= 200"
EXPORT_ROWS = 100_000  # the export measured: the newest cases, from the day that holds this many
PASSWORD = "bench-password"
SEED = 20250312


CHUNK = 50_000  # cases seeded (and events streamed) at a time: a state's worth never sits in memory


def sizes(quick: bool) -> tuple[int, int, int]:
    """Cases, events and calls to seed: BENCH_OVERSIGHT_CASES, else 10,000 (quick) or a state's 1,000,000."""
    cases = int(os.environ.get("BENCH_OVERSIGHT_CASES") or (10_000 if quick else 1_000_000))
    return cases, 10 * cases, cases * 16 // 10


def run(options: Options, report: Report) -> None:
    folder = Path(tempfile.mkdtemp(prefix="bench-oversight-"))
    if options.postgres:
        url = create_database(options.pg_url, "bench_app", "psycopg")
    else:
        url = f"sqlite:///{folder / 'control_room.sqlite'}"
    ok = False
    try:
        now = datetime.now(UTC)
        started = time.perf_counter()
        seeded = Seeder(url, now, *sizes(options.quick)).run()
        report.note(
            f"{NAME}: seeded {seeded} in {time.perf_counter() - started:.0f} s into {url.split('@')[-1]}"
        )
        Measure(url, now, options.quick, report).run()
        ok = True
    finally:
        get_engine(url).dispose()
        if ok and not options.keep:
            shutil.rmtree(folder, ignore_errors=True)
        else:
            print(f"# kept {folder}", flush=True)


DUE_STEP = {
    "awaiting_assignment": Step.dm,
    "assigned": Step.officer,
    "callback": Step.callback,
    "resolved": Step.collector,
}
BY = {  # who takes each decision (None: the case's officer)
    "assign": "dm",
    "reject": "dm",
    "send_back": None,
    "resolve": None,
    "satisfied": "operator",
    "confirm": "collector",
    "reopen": "collector",
}


# Who an event's messages go to (notifications/delivery.recipients): the role, "officer" for the case's.
TOLD = {
    "opened": "dm",
    "send_back": "dm",
    "assign": "officer",
    "reopen": "officer",
    "resolve": "operator",
    "satisfied": "collector",
    "confirm": "operator",
    "reject": "operator",
}


class Seeder:
    """Reference data with the ORM, then cases, events and calls in bulk."""

    def __init__(self, url: str, now: datetime, cases: int, events: int, calls: int) -> None:
        self.url, self.now = url, now
        self.n_cases, self.n_events, self.n_calls = cases, events, calls
        self.random = random.Random(SEED)
        self.engine: Engine = get_engine(url)
        self.event_ids = itertools.count(1)  # given here: each hand-off's delivery rows name their event
        self.delivery_ids = itertools.count(1)
        self.deliveries = 0

    def run(self) -> str:
        from models.migrate import upgrade

        upgrade(self.url)
        self.reference()
        cases, events = self.cases()
        calls = self.calls()
        vacuum = "VACUUM ANALYZE" if self.engine.dialect.name == "postgresql" else "ANALYZE"
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(vacuum))  # PostgreSQL: the visibility map index-only scans read
        return f"{cases:,} cases, {events:,} events, {self.deliveries:,} deliveries, {calls:,} calls"

    def reference(self) -> None:
        with get_sessionmaker(self.url)() as session:
            seed(session, generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000"), "127.0.0.1:9")
            for b in range(1, 8):
                session.add(Block(name=f"Block {b}"))
            session.flush()
            blocks = session.scalars(select(Block)).all()
            for block in blocks:
                have = session.scalar(select(func.count()).where(Village.block_id == block.id)) or 0
                for v in range(have, 20):
                    session.add(Village(block_id=block.id, name=f"{block.name} village {v}"))
            for d in session.scalars(select(Department)).all():
                for o in range(9):
                    session.add(
                        User(
                            username=f"{d.code}{o}",
                            name=f"Officer {d.code} {o}",
                            role="officer",
                            department_id=d.id,
                            designation="Officer",
                        )
                    )
            session.commit()
            self.villages = [(v.id, v.block_id) for v in session.scalars(select(Village))]
            self.categories = list(session.scalars(select(Category)))
            self.officers = {
                d: [
                    u.id
                    for u in session.scalars(
                        select(User).where(User.role == "officer", User.department_id == d)
                    )
                ]
                for d in {c.department_id for c in self.categories}
            }
            self.operator = session.scalar(select(User.id).where(User.username == "operator"))
            self.staff = {
                u.username: u.id for u in session.scalars(select(User).where(User.role != "officer"))
            }

    def opened_at(self) -> datetime:
        """A moment in the last year, busier by day (India time) than by night."""
        while True:
            moment = self.now - timedelta(seconds=self.random.uniform(0, 365 * 86400))
            hour = (moment.hour + 5.5) % 24
            if self.random.random() < (1.0 if 8 <= hour < 22 else 0.25):
                return moment

    def lifecycle(
        self, opened: datetime, limits: Limits, urgent: bool
    ) -> list[tuple[str, str, str, datetime]]:
        """The decisions a case opened at `opened` has had by now: (kind, from, to, when)."""
        r = self.random
        moves: list[tuple[str, str, str, datetime]] = []
        at = opened
        slow = r.random() < 0.01  # a few cases wait far too long at some step

        def later(step: str, median_share: float) -> datetime:
            limit = step_limit(Step(step), urgent, limits)
            factor = r.lognormvariate(math.log(median_share), 0.9) * (40 if slow and r.random() < 0.3 else 1)
            return at + limit * factor

        at = later("dm", 0.6)
        if r.random() < 0.07:
            moves.append(("reject", "awaiting_assignment", "rejected", at))
            return [m for m in moves if m[3] <= self.now]
        moves.append(("assign", "awaiting_assignment", "assigned", at))
        if r.random() < 0.03:
            at = later("officer", 0.3)
            moves.append(("send_back", "assigned", "awaiting_assignment", at))
            at = later("dm", 0.5)
            moves.append(("assign", "awaiting_assignment", "assigned", at))
        at = later("officer", 0.7)
        moves.append(("resolve", "assigned", "callback", at))
        at = later("callback", 0.5)
        moves.append(("satisfied", "callback", "resolved", at))  # the caller, rung back
        if r.random() < 0.05:
            at = later("collector", 0.5)
            moves.append(("reopen", "resolved", "assigned", at))
            at = later("officer", 0.5)
            moves.append(("resolve", "assigned", "callback", at))
            at = later("callback", 0.5)
            moves.append(("satisfied", "callback", "resolved", at))
        at = later("collector", 0.6)
        moves.append(("confirm", "resolved", "closed", at))
        if r.random() < 0.005:  # forgotten: stuck at some step to this day, the backlog
            moves = moves[: r.randrange(len(moves))]
        return [m for m in moves if m[3] <= self.now]

    def cases(self) -> tuple[int, int]:
        """Cases with their lifecycles' events, CHUNK at a time; then the ladder's escalations."""
        r = self.random
        weights = [5, 3, 3, 2, 2, 4, 2][: len(self.categories)] + [1] * max(0, len(self.categories) - 7)
        # Callers: a third as many as cases, so many have called before (the caller's history).
        self.phones = [f"+9198{r.randrange(10**8):08d}" for _ in range(max(1, self.n_cases // 3))]
        opened_all = sorted(self.opened_at() for _ in range(self.n_cases))
        self.spans: list[tuple[int, datetime, datetime, str]] = []  # each case's life so far, for escalations
        events = 0
        for first in range(0, self.n_cases, CHUNK):
            case_rows: list[dict[str, Any]] = []
            event_rows: list[dict[str, Any]] = []
            delivery_rows: list[dict[str, Any]] = []
            for case_id, opened in enumerate(opened_all[first : first + CHUNK], start=first + 1):
                category = r.choices(self.categories, weights)[0]
                case, case_events, messages = self.case(case_id, opened, category)
                case_rows.append(case)
                event_rows.extend(case_events)
                delivery_rows.extend(messages)
            self._bulk(Case.__table__, case_rows)
            self._bulk(CaseEvent.__table__, event_rows)
            self._bulk(Delivery.__table__, delivery_rows)
            self.deliveries += len(delivery_rows)
            events += len(event_rows)
        # The ladder's escalations and other notes make up the rest of the events.
        rest = max(0, self.n_events - events)
        for first in range(0, rest, 10 * CHUNK):
            rows = []
            for _ in range(min(10 * CHUNK, rest - first)):
                case_id, start, end, state = self.spans[r.randrange(len(self.spans))]
                at = start + (end - start) * r.random()
                rows.append(self._event(case_id, "escalation", state, state, None, None, at))
            self._bulk(CaseEvent.__table__, rows)
        return self.n_cases, events + rest

    def case(
        self, case_id: int, opened: datetime, category: Category
    ) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
        """One case's row, the events of its lifecycle so far and their messages."""
        r = self.random
        village, block = r.choice(self.villages)
        urgent = r.random() < 0.1
        limits = category.limits
        moves = self.lifecycle(opened, limits, urgent)
        state, since, officer = "awaiting_assignment", opened, None
        resolved_at = closed_at = None
        event_rows = [self._event(case_id, "opened", None, state, self.operator, None, opened)]
        delivery_rows = self.messages(event_rows[0], None)
        for kind, source, target, at in moves:
            assigned = r.choice(self.officers[category.department_id]) if kind == "assign" else None
            officer = assigned or officer
            actor = self.staff[BY[kind]] if BY[kind] else officer
            event_rows.append(self._event(case_id, kind, source, target, actor, assigned, at))
            if kind == "satisfied":
                event_rows[-1]["rating"] = r.choice([5, 5, 4, 4, 4, 3, 2, 1])
            delivery_rows += self.messages(event_rows[-1], officer)
            state, since = target, at
            if target == "callback" and resolved_at is None:
                resolved_at = at
            if target in ("closed", "rejected"):
                closed_at = at
        step = DUE_STEP.get(state)
        self.spans.append((case_id, opened, since if closed_at else self.now, state))
        case = {
            "id": case_id,
            "number": f"SRJ-{opened.year}-{case_id:06d}",
            "intake_token": f"bench-{case_id}",
            "caller_name": f"Caller {r.randrange(10_000)}",
            "phone": r.choice(self.phones),
            "village_id": village,
            "category_id": category.id,
            "description": "Needs help: " + r.choice(["bed", "oxygen", "ration", "ambulance", "medicine"]),
            "priority": "urgent" if urgent else "normal",
            "state": state,
            "decisions": len(moves),
            "officer_id": officer,
            "created_by_id": self.operator,
            "created_at": naive(opened),
            "state_since": naive(since),
            "due_at": naive(since + step_limit(step, urgent, limits)) if step else None,
            "resolve_by": naive(resolution_deadline(opened, urgent, limits)),
            "resolved_at": naive(resolved_at),
            "closed_at": naive(closed_at),
            "block_id": block,
            "emergency": False,
            "patient_id": None,
        }
        return case, event_rows, delivery_rows

    def _event(
        self,
        case_id: int,
        kind: str,
        source: str | None,
        target: str,
        by: int | None,
        officer: int | None,
        at: datetime,
    ) -> dict[str, Any]:
        return {
            "id": next(self.event_ids),
            "case_id": case_id,
            "kind": kind,
            "from_state": source,
            "to_state": target,
            "by_user_id": by,
            "officer_id": officer,
            "text": "",
            "rating": None,
            "created_at": naive(at),
        }

    def messages(self, event: dict[str, Any], officer: int | None) -> list[dict[str, Any]]:
        """The delivery rows of an event, as notifications/delivery.py makes them: to the one it hands
        the case to, on their first channel (3 % refused there and sent on the next), or to the operator
        on a closure or a rejection. Most hand-offs are seen, some minutes after."""
        r = self.random
        kind = event["kind"]
        role = TOLD.get(kind)
        if role is None:
            return []
        user = officer if role == "officer" else self.staff[role]
        if user is None:
            return []
        sent = event["created_at"] + timedelta(seconds=r.uniform(1, 15))
        reasons = ("first", "fallback") if r.random() < 0.03 else ("first",)
        rows: list[dict[str, Any]] = []
        for reason in reasons:
            rows.append(
                {
                    "id": next(self.delivery_ids),
                    "case_id": event["case_id"],
                    "event_id": event["id"],
                    "user_id": user,
                    "channel_key": channel_key(f"bench://{reason}"),
                    "channel": f"bench://{reason}",
                    "status": "sent",
                    "attempts": 1,
                    "last_error": "",
                    "created_at": event["created_at"],
                    "sent_at": sent,
                    "next_attempt_at": None,
                    "claimed_until": None,
                    "seen_at": None,
                    "reason": reason,
                    "hand_off": is_hand_off(kind, role, reason),
                    "follows_id": rows[-1]["id"] if rows else None,
                }
            )
        if len(rows) == 2:  # the first channel refused it
            rows[0].update(status="failed", sent_at=None, last_error="refused")
        seen = sent + timedelta(minutes=r.lognormvariate(math.log(20), 1.0))
        if rows[-1]["hand_off"] and r.random() < 0.85 and seen <= naive(self.now):
            rows[-1]["seen_at"] = seen
        return rows

    def calls(self) -> int:
        """Logged calls, half of them from the cases' callers, CHUNK at a time."""
        r = self.random
        kinds = ["complaint"] * 6 + ["information"] * 3 + ["follow_up"] * 2 + ["emergency", "other"]
        for first in range(0, self.n_calls, CHUNK):
            rows = [
                {
                    "phone": r.choice(self.phones) if r.random() < 0.5 else f"+9197{r.randrange(10**8):08d}",
                    "caller_name": "",
                    "kind": r.choice(kinds),
                    "note": "",
                    "duration_seconds": r.randrange(30, 600),
                    "by_user_id": self.operator,
                    "created_at": naive(self.opened_at()),
                    "village_id": None,
                    "case_id": None,
                }
                for _ in range(min(CHUNK, self.n_calls - first))
            ]
            self._bulk(Call.__table__, rows)
        return self.n_calls

    def _bulk(self, table: Any, rows: list[dict[str, Any]], batch: int = 50_000) -> None:
        if not rows:
            return
        columns = list(rows[0])
        with self.engine.begin() as conn:
            if self.engine.dialect.name == "postgresql":
                cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
                with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row([row[c] for c in columns])
                if "id" in columns:
                    conn.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                            f"(SELECT max(id) FROM {table.name}))"
                        )
                    )
            else:
                for i in range(0, len(rows), batch):
                    conn.execute(insert(table), rows[i : i + batch])


def naive(moment: datetime | None) -> datetime | None:
    """As the columns store it: UTC, no zone."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment is not None else None


class PeakRss:
    """Samples this process's RSS every few milliseconds while in use; .growth is peak minus start."""

    def __init__(self) -> None:
        self.process = psutil.Process()
        self.start = self.peak = self.process.memory_info().rss
        self.running = True
        self.thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while self.running:
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.005)

    def __enter__(self) -> PeakRss:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.running = False
        self.thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.start) / 2**20


class Measure:
    def __init__(self, url: str, now: datetime, quick: bool, report: Report) -> None:
        from webapp import create_app

        self.url, self.now, self.report = url, now, report
        self.repeat = 15 if quick else 40
        self.app = create_app(
            Settings(
                app_env="bench",
                secret_key="bench",
                database_url=url,
                prefect_api_url="http://127.0.0.1:9/api",
            )
        )
        self.client = self.login("collector")
        self.engine = get_engine(url)

    def login(self, username: str) -> Any:
        client = self.app.test_client()
        page = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
        assert token, "no CSRF token on the login page"
        response = client.post(
            "/login", data={"csrf_token": token.group(1), "username": username, "password": PASSWORD}
        )
        assert response.status_code == 302, response.status_code
        return client

    def run(self) -> None:
        self.dashboard()
        self.lists()
        self.pulse()
        self.daily_report()
        self.caller_history()
        self.export()

    def timed_get(
        self, path: str | Callable[[int], str], client: Any = None, before: Callable[[], None] | None = None
    ) -> list[float]:
        times = []
        for i in range(self.repeat + 3):
            if before:
                before()
            started = time.perf_counter()
            response = (client or self.client).get(path if isinstance(path, str) else path(i))
            seconds = time.perf_counter() - started
            if response.status_code != 200:
                raise RuntimeError(f"GET {path}: {response.status_code}")
            if i >= 3:  # the first three warm the caches
                times.append(seconds)
        return times

    def add_p95(self, metric: str, page: list[float], floor: list[float], goal: str) -> None:
        """A page's p95 in ms beside its floor's."""
        self.report.add(
            NAME, metric, 1000 * percentile(page, 95), "ms", floor=1000 * percentile(floor, 95), goal=goal
        )

    def timed_sql(self, work: Callable[[Connection], Any]) -> list[float]:
        times = []
        with self.engine.connect() as conn:
            for i in range(self.repeat + 3):
                started = time.perf_counter()
                work(conn)
                if i >= 3:
                    times.append(time.perf_counter() - started)
                conn.rollback()
        return times

    def dashboard(self) -> None:
        """The dashboard's page and the three parts it loads once shown (webapp/dashboard.py), each beside
        its statements run bare; and the four one after another, what a browser waits at most."""
        postgres = self.engine.dialect.name == "postgresql"

        def top(conn: Connection) -> None:
            now = datetime.now(UTC)
            window = Window.ending(now, 10)
            conn.execute(calls_query(window)).all()
            conn.execute(overview_query(window, now)).all()
            if postgres:  # as models/oversight/stats.overview does
                periods = [Window.ending(now, 1), window]
                conn.execute(overview_percentiles_query(window, periods)).all()
            else:
                conn.execute(durations_query(window)).all()
            conn.execute(pending_query(now)).all()

        def breakdown(conn: Connection) -> None:
            now = datetime.now(UTC)
            window = Window.ending(now, 10)
            conn.execute(cohort_query(window, now, grouping_sets=postgres)).all()
            if postgres:  # as models/oversight/stats.window_stats does
                conn.execute(percentiles_query(window)).all()
            else:
                conn.execute(durations_query(window)).all()

        def callers(conn: Connection) -> None:
            window = Window.ending(datetime.now(UTC), 10)
            conn.execute(verdicts_query(window.start, window.end)).all()

        def seen(conn: Connection) -> None:
            window = Window.ending(datetime.now(UTC), 10)
            acknowledgement(Session(bind=conn), window.start, window.end)  # on SQLite with its sums

        pages = {}
        for path, statements in (
            ("/dashboard", top),
            ("/dashboard/breakdown", breakdown),
            ("/dashboard/feedback", callers),
            ("/dashboard/seen", seen),
        ):
            pages[path] = page = self.timed_get(path)
            floor = self.timed_sql(statements)
            for p in (50, 95):
                self.report.add(
                    NAME,
                    f"GET {path} p{p}",
                    1000 * percentile(page, p),
                    "ms",
                    floor=1000 * percentile(floor, p),
                    goal=GOAL_MS if p == 95 else None,
                )
        whole = [sum(times) for times in zip(*pages.values(), strict=True)]
        self.report.add(
            NAME,
            "the dashboard and its three parts, one after another, p95",
            1000 * percentile(whole, 95),
            "ms",
        )

    def pulse(self) -> None:
        """GET /live/pulse as a screen asks it: nothing moved since its last ask (the answer kept by the
        stamp), and just after a change (a call logged before each ask: the counts read again)."""

        from models.cases.pulse import pulse
        from models.reference.tables import User

        def bare(conn: Connection) -> None:
            session = Session(bind=conn)
            collector = session.scalars(select(User).where(User.username == "collector")).one()
            pulse(session, collector)

        operator = select(User.id).where(User.username == "operator").scalar_subquery()

        def log_call(conn: Connection) -> None:
            conn.execute(insert(Call).values(phone="+919800000000", kind="information", by_user_id=operator))
            conn.commit()

        unmoved = self.timed_get("/live/pulse")
        with self.engine.connect() as conn:
            moved = self.timed_get("/live/pulse", before=lambda: log_call(conn))
            conn.execute(delete(Call).where(Call.phone == "+919800000000"))
            conn.commit()
        floor = self.timed_sql(bare)
        for label, times in (("nothing moved", unmoved), ("after a change", moved)):
            self.add_p95(f"GET /live/pulse [{label}] p95", times, floor, "<= 20")

    def daily_report(self) -> None:
        """The Collector's daily report of today and of a day a month ago (goal <= 1 s)."""

        from models.oversight.report import daily_report

        today = (self.now + timedelta(hours=5, minutes=30)).date()
        for label, day in (("today", today), ("a month ago", today - timedelta(days=30))):

            def bare(conn: Connection, day: date = day) -> None:
                daily_report(Session(bind=conn), day, datetime.now(UTC))

            page = self.timed_get(f"/reports/daily?date={day.isoformat()}")
            floor = self.timed_sql(bare)
            self.add_p95(f"GET /reports/daily [{label}] p95", page, floor, "<= 1000")

    def caller_history(self) -> None:
        """The operator's view of a caller's earlier calls and cases, as the phone is typed."""

        from models.desk.calls import caller_history

        with self.engine.connect() as conn:
            phones = list(
                conn.scalars(
                    select(Case.phone).group_by(Case.phone).having(func.count() >= 3).limit(self.repeat + 3)
                )
            )
        assert phones, "no caller with three cases"
        operator = self.login("operator")
        page = self.timed_get(
            lambda i: "/calls/history?phone=" + urllib.parse.quote(phones[i % len(phones)]), operator
        )
        callers = itertools.cycle(phones)

        def bare(conn: Connection) -> None:
            caller_history(Session(bind=conn), next(callers))

        floor = self.timed_sql(bare)
        self.add_p95("GET /calls/history (a caller with 3+ cases) p95", page, floor, GOAL_MS)

    def lists(self) -> None:
        from models.cases.listing import CaseFilter, conditions, query

        today = (self.now + timedelta(hours=5, minutes=30)).date()
        with get_sessionmaker(self.url)() as session:
            viewer = session.scalar(select(User).where(User.username == "collector"))
            officer = session.scalar(
                select(Case.officer_id)
                .where(Case.officer_id.is_not(None))
                .group_by(Case.officer_id)
                .order_by(func.count().desc())
                .limit(1)
            )
        assert viewer is not None
        filters = {
            "default (open first)": "",
            "state=open": "state=open",
            "closed, last 30 days": f"state=closed&from={today - timedelta(days=29)}&to={today}",
            "category, last 10 days": f"category=1&from={today - timedelta(days=9)}&to={today}",
            "block + open": "block=2&state=open",
            "officer": f"officer={officer}",
            "step=officer&overdue=1": "step=officer&overdue=1",
            "opened, newest first, page 50": "sort=-opened&page=50",
            "text q=98765": "q=98765",
        }
        for label, args in filters.items():
            flt, errors = CaseFilter.from_args(dict(p.split("=", 1) for p in args.split("&") if p))
            assert not errors, errors

            def bare(conn: Connection, flt: CaseFilter = flt) -> None:
                now = datetime.now(UTC)
                where = conditions(flt, viewer, now)
                conn.execute(select(func.count()).select_from(Case).where(*where)).scalar()
                rows = query(flt, viewer, now).limit(flt.per_page).offset((flt.page - 1) * flt.per_page)
                conn.execute(rows).all()

            page = self.timed_get(f"/cases?{args}" if args else "/cases")
            floor = self.timed_sql(bare)
            self.add_p95(f"GET /cases [{label}] p95", page, floor, GOAL_MS)

    def export(self) -> None:
        from models.cases.listing import CaseFilter, conditions, export_query

        with get_sessionmaker(self.url)() as session:
            viewer = session.scalar(select(User).where(User.username == "collector"))
            # The export of the cases opened since the day that holds the newest EXPORT_ROWS of them.
            newest = session.scalar(
                select(Case.created_at).order_by(Case.created_at.desc()).offset(EXPORT_ROWS - 1).limit(1)
            )
            since = (aware(newest) + timedelta(hours=5, minutes=30)).date() if newest else None
            flt = CaseFilter(opened_from=since)
            total = session.scalar(
                select(func.count()).select_from(Case).where(*conditions(flt, viewer, self.now))
            )
        path = f"/cases/export.csv?from={since.isoformat()}" if since else "/cases/export.csv"

        def app_export() -> tuple[int, int]:
            response = self.client.get(path, buffered=False)
            if response.status_code != 200:
                raise RuntimeError(f"export: {response.status_code}")
            size = lines = 0
            try:
                for chunk in response.response:
                    data = chunk if isinstance(chunk, bytes) else chunk.encode()
                    size += len(data)
                    lines += data.count(b"\n")
            finally:
                response.close()
            return size, lines

        def bare_export() -> int:
            rows = 0
            with self.engine.connect() as conn:
                result = conn.execution_options(yield_per=1000).execute(
                    export_query(flt, viewer, datetime.now(UTC))
                )
                for _row in result:
                    rows += 1
            return rows

        with PeakRss() as rss:
            started = time.perf_counter()
            size, lines = app_export()
            seconds = time.perf_counter() - started
        with PeakRss() as floor_rss:
            started = time.perf_counter()
            rows = bare_export()
            floor_seconds = time.perf_counter() - started
        self.report.add(
            NAME,
            f"GET /cases/export.csv, {total:,} cases: total time",
            seconds,
            "s",
            floor=floor_seconds,
            goal="<= 10",
        )
        self.report.add(
            NAME,
            "export: peak RSS growth while streaming",
            rss.growth_mb,
            "MB",
            floor=floor_rss.growth_mb,
            goal="<= 50",
        )
        self.report.add(NAME, "export: CSV size (what buffering it all would hold)", size / 2**20, "MB")
        self.report.add(
            NAME,
            "export: rows streamed (CSV lines incl. header, less cases)",
            lines - 1 - total,
            "rows",
            floor=rows - total,
            goal="== 0",
        )
