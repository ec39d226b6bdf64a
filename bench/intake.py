"""intake: operators submitting complaints over HTTP, at 1, 10 and 50 concurrent clients.

Each client is a logged-in operator session that loads the form (GET /cases/new, for
the CSRF token and the intake token) and submits it (POST), again and again (closed
loop). Only the POST is the intake latency; the GET is reported beside it. Three
conditions, in this order:

- idle: the dispatcher is stopped, so Prefect (server and engine) has nothing to do;
- stopped: the Prefect server is stopped, the dispatcher runs and backs off;
- busy: the server is back and the dispatcher hands it the backlog the first two
  conditions left (hundreds of starts), so flow runs compete for the two cores.

Floor, right after each level, in the same database and with as many threads: a bare
SQLAlchemy INSERT + COMMIT of one Case-like row (same columns and indexes, no foreign keys).
"""

from __future__ import annotations

import asyncio
import random
import secrets
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from sqlalchemy import Column, Engine, Index, MetaData, Table, create_engine, event, insert

from bench.harness import BenchStack, Options, wait_until
from bench.procs import snapshot, tree
from bench.report import Report, percentile
from bench.web import WebUser
from models.cases.tables import Case
from models.db import _sqlite_pragmas  # the app's own SQLite settings (WAL, busy timeout)

NAME = "intake"
LEVELS = (1, 10, 50)
PACED = 50  # operators at once, each at a person's pace ...
PACE = 2.0  # ... one complaint every PACE seconds each: 25 a second together
GOAL_P95_MS = "<= 50"


@dataclass
class Level:
    post: list[float] = field(default_factory=list)  # seconds
    get: list[float] = field(default_factory=list)
    failed: int = 0  # answers other than the redirect to the new case
    server_errors: int = 0  # 5xx
    wall: float = 0.0
    web_cpu: float = 0.0  # CPU seconds of the web app (all gunicorn processes) during the level
    client_cpu: float = 0.0  # CPU seconds of this process's HTTP clients during the level


def sizes(quick: bool) -> dict[int, int]:
    """Requests per level."""
    return {1: 10, 10: 40, 50: 100} if quick else {1: 150, 10: 500, 50: 1000}


def run(options: Options, report: Report) -> None:
    # The conditions stop the dispatcher alone: it runs in a process of its own here.
    with BenchStack(NAME, replace(options, dispatcher_apart=True)) as stack:
        asyncio.run(_run(stack, options, report))


async def _run(stack: BenchStack, options: Options, report: Report) -> None:
    floor = FloorInserts(stack.stack.database_url)
    clients = [WebUser(stack.stack.web_url, "operator") for _ in range(max(LEVELS))]
    limit = 30.0 if options.quick else 120.0  # seconds per level, whatever its size
    try:
        await asyncio.gather(*(c.login(stack.password) for c in clients))
        await _level(clients[:10], 20, limit)  # warm-up, unmeasured
        for condition in ("idle", "stopped", "busy"):
            _enter(stack, condition)
            prefect_side = stack.pids("prefect-server", "dispatcher", *stack.engine_names)
            before = snapshot(prefect_side)
            # Closed loops at each level, then the same 50 clients at a person's pace: the
            # latency without the queue a closed loop builds.
            for c, pace in [*((c, 0.0) for c in LEVELS), (PACED, PACE)]:
                web, client = snapshot(stack.pids("web")), time.process_time()
                level = await _level(clients[:c], sizes(options.quick)[c], limit, pace)
                level.web_cpu = (snapshot(stack.pids("web")) - web).total_cpu()
                level.client_cpu = time.process_time() - client
                # Paced, the inserts seldom overlap: the floor is one thread's.
                inserts = floor.measure(1 if pace else c, min(sizes(options.quick)[c], 500))
                tag = f"{condition}, c={c}" + (f" paced 1/{pace:.0f}s" if pace else "")
                _report(report, tag, level, inserts)
            spent = snapshot(prefect_side) - before
            report.add(
                NAME, f"Prefect side CPU while {condition}", 100 * spent.total_cpu() / spent.at, "% of a core"
            )
    finally:
        await asyncio.gather(*(c.close() for c in clients))
        floor.close()


def _enter(stack: BenchStack, condition: str) -> None:
    if condition == "idle":
        stack.stack.stop("dispatcher")
        time.sleep(3)  # let the last handed runs finish
    elif condition == "stopped":
        stack.stack.stop("prefect-server")
        stack.stack.start_dispatcher()
        time.sleep(2)
    else:
        stack.restart_prefect_server()
        engine = stack.pids(*stack.engine_names)
        # Busy: the engine is running flow runs (its tree has children beyond itself).
        try:
            busy = len(engine) + 2  # two flow runs (with a launcher: a client and a fork each)
            wait_until(lambda: sum(len(tree(p)) for p in engine.values()) >= busy, 90, 0.5, "flow runs")
        except TimeoutError:
            print("# warning: the engine did not get busy", flush=True)


async def _level(clients: list[WebUser], requests: int, limit: float, pace: float = 0.0) -> Level:
    """Each client submits complaints until `requests` are done or time is up.

    pace 0: closed loop, the next submission as soon as the last is answered (the queue
    this builds at 10 and 50 clients is the machine's capacity, by Little's law). pace > 0:
    each client starts a submission every `pace` seconds (from a random offset), as people do.
    """
    level = Level()
    remaining = requests
    deadline = time.monotonic() + limit

    async def client(user: WebUser) -> None:
        nonlocal remaining
        next_at = time.monotonic() + random.uniform(0, pace)
        while remaining > 0 and time.monotonic() < deadline:
            if pace:
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))
                next_at += pace
            remaining -= 1
            try:
                timed = await user.open_case("intake")
            except Exception:  # noqa: BLE001 - the form page failed: count it, go on
                level.failed += 1
                continue
            level.get.append(timed.form_seconds)
            if timed.status == 302 and timed.number:
                level.post.append(timed.seconds)
            else:
                level.failed += 1
                level.server_errors += timed.status >= 500 or timed.status == 0

    started = time.perf_counter()
    await asyncio.gather(*(client(u) for u in clients))
    level.wall = time.perf_counter() - started
    return level


def _report(report: Report, tag: str, level: Level, floor: Level) -> None:
    ms = 1000.0
    for p in (50, 95, 99):
        report.add(
            NAME,
            f"POST p{p} [{tag}]",
            ms * percentile(level.post, p),
            "ms",
            floor=ms * percentile(floor.post, p),
            goal=GOAL_P95_MS if p == 95 else None,
        )
    report.add(
        NAME,
        f"throughput [{tag}]",
        len(level.post) / level.wall,
        "cases/s",
        floor=len(floor.post) / floor.wall,
    )
    report.add(NAME, f"GET form p95 [{tag}]", ms * percentile(level.get, 95), "ms")
    cases = max(1, len(level.post))
    report.add(NAME, f"web app CPU per case, GET+POST [{tag}]", ms * level.web_cpu / cases, "CPU-ms")
    report.add(NAME, f"bench client CPU per case [{tag}]", ms * level.client_cpu / cases, "CPU-ms")
    report.add(
        NAME, f"failed POSTs [{tag}] ({level.server_errors} 5xx)", level.failed, "requests", goal="== 0"
    )


class FloorInserts:
    """INSERT + COMMIT of a Case-like row into a table of its own in the app's database."""

    def __init__(self, url: str) -> None:
        self.url = url
        metadata = MetaData()
        self.table = Table(
            "bench_floor_cases",
            metadata,
            *(
                Column(
                    c.name,
                    c.type,
                    primary_key=c.primary_key,
                    unique=bool(c.unique),
                    index=bool(c.index),
                    nullable=c.nullable,
                )
                for c in Case.__table__.columns
            ),
        )
        Index("ix_bench_floor_cases_state_since", self.table.c.state, self.table.c.state_since)
        self.engine = self._engine(max(LEVELS))
        metadata.drop_all(self.engine)
        metadata.create_all(self.engine)

    def _engine(self, pool: int) -> Engine:
        if self.url.startswith("sqlite"):
            engine = create_engine(self.url, connect_args={"timeout": 15}, pool_size=pool, max_overflow=0)
            event.listen(engine, "connect", _sqlite_pragmas)
            return engine
        return create_engine(self.url, pool_size=pool, max_overflow=0)

    def row(self) -> dict[str, object]:
        now = datetime.now(UTC)
        return {
            "number": f"FLOOR-{secrets.token_hex(6)}",
            "intake_token": secrets.token_urlsafe(24),
            "caller_name": "Bench caller",
            "phone": "+919876543210",
            "village_id": 1,
            "category_id": 1,
            "description": "Needs a hospital bed (benchmark)",
            "priority": "normal",
            "state": "awaiting_assignment",
            "decisions": 0,
            "officer_id": None,
            "created_by_id": 1,
            "created_at": now,
            "state_since": now,
            "flow_run_id": None,
            "due_at": now,
            "resolve_by": now,
            "emergency": False,
        }

    def measure(self, threads: int, inserts: int) -> Level:
        level = Level()
        lock = threading.Lock()
        remaining = [inserts]

        def work() -> None:
            while True:
                with lock:
                    if remaining[0] <= 0:
                        return
                    remaining[0] -= 1
                row = self.row()
                started = time.perf_counter()
                with self.engine.begin() as conn:
                    conn.execute(insert(self.table).values(**row))
                seconds = time.perf_counter() - started
                with lock:
                    level.post.append(seconds)

        workers = [threading.Thread(target=work) for _ in range(threads)]
        started = time.perf_counter()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        level.wall = time.perf_counter() - started
        return level

    def close(self) -> None:
        self.engine.dispose()
