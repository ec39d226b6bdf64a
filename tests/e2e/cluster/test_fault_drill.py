"""The fault drill (issue #16): a burst of complaints carried through every step on the cluster while
its parts are broken one after another, and how long each hand-off waited while a part was down.

The people act as soon as their mail arrives: an operator files the complaint, the DM assigns it,
the officer resolves it, an operator rings the caller back (satisfied), the Collector confirms.
Meanwhile, one at a time: one worker (its launch server then kills the flow runs the worker's
clients had started, flows/launcher.py), one Prefect API server, Prefect's services process, one
dispatcher and one web node are SIGKILLed, each kept down DOWN seconds (a machine gone, not a
process that systemd brings back at once) and then started again as its unit would
(Restart=always), so that each window's waits are that part's alone. Then Redis "restarts": the
machine's Redis may serve others, so it is not restarted; every client connection to our two
databases is cut (`CLIENT KILL ID`), which is what a restart does to the clients. What a restart
without persistence would add (the streams' unread messages forgotten) is not tried.

Asserted: every POST answered with its redirect and no 5xx in nginx's log of the web app (nginx
tries the other node); each case's five hand-off mails arrive once each, in order; each case closed,
its one run COMPLETED, its outbox rows done and none parked, its deliveries sent; every part running
at the end. Printed (and kept in the artifacts as fault-drill.txt): per fault window, the hand-offs
whose wait (submit -> the next party's mail) overlapped it, beside those that overlapped none.

12 complaints in CI (each hand-off waits on a queue of the others: the CI's budget); FULL_DRILL=1
runs the issue's 150 (figures in docs/performance.md).

A worker's death can land between Prefect's setting a run Suspended and its saving the input schema
(suspend_flow_run does them in that order): Prefect then rejects every resume ("Run input schema not
found"). The dispatcher saves a schema and resumes it (dispatch/engine.restore_schema; first seen here).
"""

from __future__ import annotations

import mailbox
import os
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import select

from models.cases.tables import Case
from models.db import get_sessionmaker
from models.messages import Delivery
from models.outbox import Outbox
from notifications.mailsink import arrived
from scripts.cluster import Cluster
from tests.e2e.cluster.conftest import REDIS_DBS
from tests.e2e.cluster.parts import kill, web_requests
from tests.e2e.web import HAND_OFFS, PrefectApi, WebUser
from tests.helpers import artifacts
from tests.pg import postgres_url

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(postgres_url() is None, reason="the cluster needs PostgreSQL (TEST_DATABASE_URL)"),
]

FULL = os.environ.get("FULL_DRILL") == "1"
COMPLAINTS = 150 if FULL else 12
OPEN_SECONDS = 150.0 if FULL else 40.0  # the complaints are filed evenly over this
SESSIONS = 6 if FULL else 3  # signed-in people per role
DOWN = 8.0  # seconds a killed part stays down
GAP = 3.0  # seconds between one part back and the next fault
# A run whose worker died mid-step is back after the zombie automation's 75 s (the stack's 30 s
# heartbeat) or, should that miss it, the crash watch's 6 min (dispatch/engine.STUCK_RUNNING).
HAND_OFF_TIMEOUT = 600.0 if FULL else 420.0

# Each step: who acts (None: an operator files the complaint), the action and its form's fields.
STEPS: list[tuple[str, str, dict[str, str]]] = [
    ("operator", "open", {}),
    ("dm", "assign", {"text": "देखें"}),  # and officer=the CMHO
    ("cmho", "resolve", {"text": "Bed arranged"}),
    ("operator", "satisfied", {"rating": "4", "text": ""}),
    ("collector", "confirm", {"text": "Confirmed"}),
]


class MailBook:
    """When each of the office's mails about a case arrived in the sink, read as they come."""

    def __init__(self, maildir: Path) -> None:
        self.box = mailbox.Maildir(maildir, create=False)
        self.seen: set[str] = set()
        self.by_case: dict[str, list[tuple[float, str]]] = {}
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="mailbook", daemon=True)

    def __enter__(self) -> MailBook:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stopped.set()
        self.thread.join()

    def poll(self) -> None:
        for key in self.box.keys():
            if key in self.seen:
                continue
            self.seen.add(key)
            with self.box.get_file(key) as fh:
                message = message_from_bytes(fh.read(), policy=policy.default)
            to = str(message["X-Envelope-To"] or "")
            number = re.search(r"SRJ-\d{4}-\d+", str(message["Subject"] or ""))
            if number and not to.startswith("sms"):  # the caller's texts are not hand-offs
                with self.lock:
                    mails = self.by_case.setdefault(number.group(0), [])
                    mails.append((arrived(message).timestamp(), to))  # type: ignore[arg-type]
                    mails.sort()

    def _loop(self) -> None:
        while not self.stopped.wait(0.3):
            self.poll()

    def mails(self, number: str) -> list[tuple[float, str]]:
        with self.lock:
            return list(self.by_case.get(number, []))

    def wait(self, number: str, count: int, timeout: float) -> float:
        """When the count-th mail about the case arrived, waiting for it at most timeout seconds."""
        deadline = time.monotonic() + timeout
        while len(mails := self.mails(number)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{number}: mail {count} not there after {timeout:.0f} s: {mails}")
            time.sleep(0.2)
        return mails[count - 1][0]


@dataclass
class HandOff:
    number: str
    step: str
    submitted: float
    mailed: float

    @property
    def waited(self) -> float:
        return self.mailed - self.submitted


@dataclass
class Window:
    part: str
    start: float
    end: float = 0.0
    note: str = ""

    def overlaps(self, hand_off: HandOff) -> bool:
        return hand_off.submitted <= self.end and hand_off.mailed >= self.start


@dataclass
class Drill:
    cluster: Cluster
    probe: Callable[[], None]  # requests made while the web node is down
    windows: list[Window] = field(default_factory=list)

    def down(
        self, part: str, name: str, start: Callable[[], None], during: Callable[[], None] | None = None
    ) -> None:
        """SIGKILL part `name`, keep it down DOWN seconds (`during` runs meanwhile), start it again:
        one fault window."""
        window = Window(part, time.time())
        kill(self.cluster, name)
        if during is not None:
            during()
        time.sleep(max(0.0, window.start + DOWN - time.time()))
        start()
        window.end = time.time()
        self.windows.append(window)

    def cut_redis(self) -> None:
        """Redis's restart as its clients see it: every connection to our databases cut at once."""
        window = Window("Redis connections cut", time.time())
        server = redis.Redis(host="127.0.0.1", port=6379, db=0)
        ours = [c["id"] for c in server.client_list() if int(c["db"]) in REDIS_DBS]
        for client_id in ours:
            server.client_kill_filter(_id=client_id)
        server.close()
        window.end = time.time()
        window.note = f"{len(ours)} connections"
        assert ours, "no client of the cluster on its Redis databases: the fault would test nothing"
        self.windows.append(window)

    def run(self) -> None:
        c = self.cluster
        # The worker first: a run it was handing to its launch server when it died stays PENDING
        # until the crash watch reschedules it (dispatch/engine.py: STUCK_PENDING, 2 minutes);
        # the other faults meanwhile.
        faults: list[Callable[[], None]] = [
            lambda: self.down("worker 1", "worker", c.start_worker),
            lambda: self.down("Prefect API server 1", c.api_name(1), lambda: c.start_api_server(1)),
            lambda: self.down("Prefect services", "prefect-services", c.start_prefect_services),
            lambda: self.down("dispatcher 1", "dispatcher", c.start_dispatcher),
            lambda: self.down("web node 1", "web", lambda: c.start_web_node(1), self.probe),
            self.cut_redis,
        ]
        for fault in faults:
            time.sleep(GAP)
            fault()


def revive(cluster: Cluster) -> None:
    """Start any part an earlier test of the package left killed."""
    starters = {
        **{cluster.api_name(i): lambda i=i: cluster.start_api_server(i) for i in (1, 2)},
        "prefect-services": cluster.start_prefect_services,
        **{cluster.named("worker", i): lambda i=i: cluster.start_worker(i) for i in (1, 2)},
        **{cluster.named("dispatcher", i): lambda i=i: cluster.start_dispatcher(i) for i in (1, 2)},
        **{cluster.named("web", i): lambda i=i: cluster.start_web_node(i) for i in (1, 2)},
    }
    dead = [
        start
        for name, start in starters.items()
        if name not in cluster.procs or cluster.procs[name].poll() is not None
    ]
    with ThreadPoolExecutor() as pool:  # at once: an API server and a web node take ~30 s each
        list(pool.map(lambda start: start(), dead))


def explain(cluster: Cluster, numbers: list[str]) -> str:
    """Where each of these cases stands: its state, its outbox rows, its run's states in Prefect."""
    lines = []
    prefect = PrefectApi(cluster.api_url)
    try:
        with get_sessionmaker(cluster.database_url)() as session:
            for number in numbers:
                case = session.scalar(select(Case).where(Case.number == number))
                if case is None:
                    lines.append(f"{number}: no such case")
                    continue
                lines.append(f"{number}: {case.state}, run {case.flow_run_id}")
                for row in session.scalars(
                    select(Outbox).where(Outbox.case_id == case.id).order_by(Outbox.id)
                ):
                    lines.append(
                        f"  outbox {row.kind} {row.pause_key} attempts={row.attempts} done={row.done_at} "
                        f"parked={row.parked_at} {row.last_error[:200]}"
                    )
                if case.flow_run_id:
                    lines.append(f"  run states: {prefect.states(str(case.flow_run_id))}")
    finally:
        prefect.http.close()
    return "\n".join(lines)


def summary(hand_offs: list[HandOff], windows: list[Window], began: float) -> str:
    def line(label: str, down: str, found: list[HandOff]) -> str:
        waits = sorted(h.waited for h in found)
        if not waits:
            return f"{label:<28} {down:>8} {0:>6}"
        p50, p95 = waits[len(waits) // 2], waits[min(len(waits) - 1, int(0.95 * len(waits)))]
        return f"{label:<28} {down:>8} {len(waits):>6} {p50:>7.1f} {p95:>7.1f} {waits[-1]:>7.1f}"

    lines = [
        f"fault drill: {COMPLAINTS} complaints filed over {OPEN_SECONDS:.0f} s, {len(hand_offs)} hand-offs; "
        "waits in s, submit -> the next party's mail, of the hand-offs whose wait overlapped the window",
        f"{'window':<28} {'down':>8} {'n':>6} {'p50':>7} {'p95':>7} {'max':>7}",
    ]
    clear = [h for h in hand_offs if not any(w.overlaps(h) for w in windows)]
    lines.append(line("no part down", "", clear))
    for w in windows:
        down = w.note or f"{w.end - w.start:.1f} s"
        lines.append(line(w.part, down, [h for h in hand_offs if w.overlaps(h)]))
    for step in [s[1] for s in STEPS]:
        lines.append(line(f"  all: {step}", "", [h for h in hand_offs if h.step == step]))
    lines.append(
        "windows (s after the first complaint): "
        + ", ".join(f"{w.part} {w.start - began:.0f}-{w.end - began:.0f}" for w in windows)
    )
    slowest = sorted(hand_offs, key=lambda h: h.waited)[-5:]
    lines.append(
        "slowest: "
        + ", ".join(
            f"{h.number} {h.step} at {h.submitted - began:.0f} s waited {h.waited:.0f} s" for h in slowest
        )
    )
    return "\n".join(lines)


@pytest.fixture
def people(cluster: Cluster, password: str) -> Iterator[dict[str, list[WebUser]]]:
    made = {
        role: [WebUser(cluster.web_url, role, password) for _ in range(SESSIONS)]
        for role in ("operator", "dm", "cmho", "collector")
    }
    yield made
    for sessions in made.values():
        for user in sessions:
            user.close()


@pytest.mark.timeout(2400 if FULL else 900)
def test_it_loses_nothing_and_sends_nothing_twice_while_its_parts_are_broken(
    cluster: Cluster, cmho_id: str, people: dict[str, list[WebUser]]
) -> None:
    revive(cluster)
    logged = len(web_requests(cluster))
    hand_offs: list[HandOff] = []
    numbers: list[str] = []

    def through_the_dead_node() -> None:
        # Pages loaded one after another: nginx's least_conn takes the nodes in turn, so one of
        # these meets the dead node (and nginx passes it to the other) whatever the burst is doing.
        for user in people["operator"]:
            for _ in range(2):
                assert user.http.get("/cases/new").status_code == 200

    drill = Drill(cluster, through_the_dead_node)

    def carry(i: int, book: MailBook, began: float) -> None:
        time.sleep(max(0.0, began + i * OPEN_SECONDS / COMPLAINTS - time.time()))
        submitted = time.time()
        number = people["operator"][i % SESSIONS].open_case()
        numbers.append(number)
        for count, (role, action, fields) in enumerate(STEPS, start=1):
            if count > 1:
                submitted = time.time()
                extra: dict[str, Any] = {"officer": cmho_id} if action == "assign" else {}
                people[role][i % SESSIONS].decide(number, action, **fields, **extra)
            mailed = book.wait(number, count, HAND_OFF_TIMEOUT)
            hand_offs.append(HandOff(number, action, submitted, mailed))

    with MailBook(cluster.instance / "mail") as book, ThreadPoolExecutor(COMPLAINTS) as pool:
        began = time.time()
        carried = [pool.submit(carry, i, book, began) for i in range(COMPLAINTS)]
        time.sleep(5)  # the burst under way
        drill.run()
        errors = [str(e) for f in carried if (e := f.exception()) is not None]
        late = sorted({m.group(0) for e in errors if (m := re.search(r"SRJ-\d{4}-\d+", e))})
        assert errors == [], "\n".join(errors[:20]) + "\n" + explain(cluster, late[:5])
        time.sleep(3)  # anything sent twice would arrive now
        book.poll()
        mails = {n: [to for _, to in book.mails(n)] for n in numbers}

    report = summary(hand_offs, drill.windows, began)
    print(report)
    (artifacts() / "fault-drill.txt").write_text(report + "\n")

    # Nothing lost, nothing sent twice: each case's five hand-offs mailed once, in order.
    assert len(numbers) == COMPLAINTS
    assert {n: m for n, m in mails.items() if m != HAND_OFFS} == {}
    # Operators' requests: not one answered 5xx; some found the dead web node and went to the other.
    web = web_requests(cluster)[logged:]
    assert [line for line in web if line.split()[1].startswith("5")] == []
    dead = cluster.web_ports[0]
    assert [line for line in web if f'"127.0.0.1:{dead}, ' in line], "no request met the dead web node"
    # Each case where its decisions lead: closed, its work done, its messages sent.
    with get_sessionmaker(cluster.database_url)() as session:
        ours = select(Case.id).where(Case.number.in_(numbers))
        states = Counter(session.scalars(select(Case.state).where(Case.number.in_(numbers))))
        undone = session.scalars(
            select(Outbox).where(
                Outbox.case_id.in_(ours), Outbox.done_at.is_(None) | Outbox.parked_at.is_not(None)
            )
        ).all()
        sent = Counter(session.scalars(select(Delivery.status).where(Delivery.case_id.in_(ours))))
        run_ids = session.scalars(select(Case.flow_run_id).where(Case.number.in_(numbers))).all()
    assert states == Counter({"closed": len(numbers)})
    assert [(r.kind, r.last_error) for r in undone] == []
    assert list(sent) == ["sent"]
    # One run per case, each COMPLETED.
    prefect = PrefectApi(cluster.api_url)
    try:
        response = prefect.http.post(
            "/flow_runs/filter", json={"flow_runs": {"name": {"any_": numbers}}, "limit": 200}
        )
        response.raise_for_status()
        runs = response.json()
    finally:
        prefect.http.close()
    assert Counter(r["name"] for r in runs) == Counter(numbers)
    assert {r["id"] for r in runs} == set(run_ids)
    assert Counter(r["state_type"] for r in runs) == Counter({"COMPLETED": len(numbers)})
    # Every part running again at the end (the restarted ones did not die after starting).
    assert [name for name, proc in cluster.procs.items() if proc.poll() is not None] == []
