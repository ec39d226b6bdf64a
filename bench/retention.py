"""retention: what a closed case leaves in Prefect's database and result storage, before and after
the retention period (issue #17 goal 5).

N cases (quick: 5) carried through every step over HTTP, one after another; Prefect's database
(rows of its run, state, log and event tables, and its live bytes) and the result storage (files,
bytes) are measured before them, after them, and after the pruning: every finished run and event
is aged past the retention period by SQL on the bench's own Prefect database (the only way not to
wait 30 days), then Prefect's db_vacuum service (here every 5 s) deletes the old runs, their
states, task runs, inputs and logs, and the old events, and the `prune-results` deployment
(flows/prune.py) the old result files, its file times aged alike. Per closed case = the growth over
the N cases / N; the schedules' own runs in the meantime (send-retries every minute) are counted too.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from bench.cases import app_case
from bench.harness import BenchStack, Options, wait_until
from bench.report import Report
from bench.web import MailWatcher, log_in

NAME = "retention"
AGE = timedelta(days=45)  # past the stack's 30 days (runs) and Prefect's 7 (events)
TABLES = (
    "flow_run",
    "flow_run_state",
    "task_run",
    "task_run_state",
    "flow_run_input",
    "log",
    "events",
    "event_resources",
)
FINAL = ("COMPLETED", "CANCELLED", "FAILED", "CRASHED")


@dataclass
class Footprint:
    rows: dict[str, int]
    db_bytes: int  # live bytes: SQLite's pages in use; PostgreSQL's tables after VACUUM FULL
    files: int
    file_bytes: int

    def minus(self, other: Footprint, n: int) -> dict[str, float]:
        per = {t: (self.rows[t] - other.rows[t]) / n for t in self.rows}
        per["database KB"] = (self.db_bytes - other.db_bytes) / n / 1024
        per["result files"] = (self.files - other.files) / n
        per["result KB"] = (self.file_bytes - other.file_bytes) / n / 1024
        return per


def prefect_engine(stack: BenchStack) -> sa.Engine:
    url = stack.stack.prefect_database_url
    if url:
        return sa.create_engine(url.replace("+asyncpg", "+psycopg"), isolation_level="AUTOCOMMIT")
    return sa.create_engine(f"sqlite:///{stack.instance / 'prefect' / 'prefect.db'}")


def storage(stack: BenchStack) -> Path:
    return stack.instance / "prefect" / "storage"


def footprint(stack: BenchStack, engine: sa.Engine) -> Footprint:
    with engine.connect() as db:
        rows = {t: int(db.scalar(sa.text(f"SELECT count(*) FROM {t}")) or 0) for t in TABLES}
        if engine.dialect.name == "sqlite":
            pages = int(db.scalar(sa.text("PRAGMA page_count")) or 0)
            free = int(db.scalar(sa.text("PRAGMA freelist_count")) or 0)
            size = (pages - free) * int(db.scalar(sa.text("PRAGMA page_size")) or 0)
        else:
            for table in TABLES:
                db.execute(sa.text(f"VACUUM FULL {table}"))
            size = sum(int(db.scalar(sa.text(f"SELECT pg_total_relation_size('{t}')")) or 0) for t in TABLES)
    files = [p for p in storage(stack).rglob("*") if p.is_file()]
    return Footprint(rows, size, len(files), sum(p.stat().st_size for p in files))


def age(stack: BenchStack, engine: sa.Engine) -> None:
    """Every finished run and every event as if it were AGE old; the result files too."""
    days = AGE.days
    with engine.begin() as db:
        if engine.dialect.name == "sqlite":
            shift = f"datetime(%s, '-{days} days')"
        else:
            shift = f"%s - interval '{days} days'"
        db.execute(sa.text(f"UPDATE flow_run SET end_time = {shift % 'end_time'} WHERE end_time IS NOT NULL"))
        db.execute(sa.text(f"UPDATE events SET occurred = {shift % 'occurred'}"))
        db.execute(sa.text(f"UPDATE event_resources SET occurred = {shift % 'occurred'}"))
    then = time.time() - AGE.total_seconds()
    for path in storage(stack).rglob("*"):
        if path.is_file():
            os.utime(path, (then, then))


def run(options: Options, report: Report) -> None:
    cases = 5 if options.quick else 50
    env = {"PREFECT_SERVER_SERVICES_DB_VACUUM_LOOP_SECONDS": "5"}
    with BenchStack(NAME, options, extra_env=env) as stack:
        engine = prefect_engine(stack)
        time.sleep(5)
        empty = footprint(stack, engine)
        numbers = asyncio.run(_carry(stack, cases))
        full = footprint(stack, engine)

        age(stack, engine)
        prune = stack.prefect.deployment_id("prune-results/prune-results")
        run_id = stack.prefect.create_run(prune, {}, f"prune-{time.time():.0f}")
        state = wait_until(
            lambda: (s := stack.prefect.run(run_id)["state_type"]) in FINAL and s, 300, 0.5, "the prune run"
        )
        if state != "COMPLETED":
            raise RuntimeError(f"prune-results ended {state}")
        started = time.monotonic()
        ours = {"name": {"any_": numbers}}
        wait_until(lambda: stack.prefect.count(ours) == 0, 300, 1, "db_vacuum to delete the runs")
        vacuumed = time.monotonic() - started
        time.sleep(10)  # the events' vacuum runs in the same loop; give it one more turn
        pruned = footprint(stack, engine)
        engine.dispose()

    tag = f"[n={cases}, {options.db}]"
    grown, left = full.minus(empty, cases), pruned.minus(empty, cases)
    for what in grown:
        unit = "KB" if what.endswith("KB") else ("files" if what == "result files" else "rows")
        label = what.removesuffix(" KB")
        report.add(NAME, f"per closed case: {label} {tag}", grown[what], unit)
        report.add(NAME, f"  after the retention period: {label} {tag}", left[what], unit)
    report.add(NAME, f"db_vacuum: runs gone after {tag}", vacuumed, "s")
    report.note(
        f"{NAME}: totals empty/after {cases} cases/after pruning: rows "
        + ", ".join(f"{t} {empty.rows[t]}/{full.rows[t]}/{pruned.rows[t]}" for t in TABLES)
        + f"; database {empty.db_bytes // 1024}/{full.db_bytes // 1024}/{pruned.db_bytes // 1024} KB"
        + f"; results {empty.files}/{full.files}/{pruned.files} files, "
        + f"{empty.file_bytes // 1024}/{full.file_bytes // 1024}/{pruned.file_bytes // 1024} KB"
    )


async def _carry(stack: BenchStack, cases: int) -> list[str]:
    users = await log_in(stack.stack.web_url, stack.password, "operator", "dm", "cmho", "collector")
    watcher = MailWatcher(stack.maildir)
    numbers = []
    try:
        for i in range(cases):
            times = await app_case(stack, users, watcher, f"retention-{i}", timeout=300)
            numbers.append(times.number)
    finally:
        for user in users.values():
            await user.close()
    return numbers
