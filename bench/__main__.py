"""python -m bench [NAME ...] [--full] [--postgres] [--cluster] [--engine worker|serve]: run the benchmarks.

Each benchmark starts its own stack on free ports (SQLite by default, PostgreSQL with
--postgres, scripts/cluster.py's layout with --cluster), prints one JSON line per figure as
it is measured and a table at the end, and stops the stack whatever happens.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import time
import traceback
from pathlib import Path

from bench.harness import ENGINES, ROOT, WEB_WORKERS, WORK_LIMIT, Options
from bench.report import Report

BENCHES = (
    "intake",
    "handoff",
    "engine",
    "memory",
    "burst",
    "waiting",
    "oversight",
    "desk",
    "retention",
    "replay",
)


def _terminate(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through every `finally`: the stacks shut down


def context() -> str:
    """What the figures depend on: code, machine, and how busy it was already."""
    import platform
    import subprocess

    import prefect
    import psutil

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    memory = psutil.virtual_memory().total / 2**30
    return (
        f"commit {commit.stdout.strip() or '(not a git checkout)'} in {ROOT}; {os.cpu_count()} CPUs, "
        f"{memory:.0f} GiB; load {load()}; Python {platform.python_version()}, Prefect {prefect.__version__}"
    )


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "names",
        nargs="*",
        choices=[[], *BENCHES],
        metavar="NAME",
        help=f"benchmarks to run (default: all): {', '.join(BENCHES)}",
    )
    size = parser.add_mutually_exclusive_group()
    size.add_argument(
        "--quick", action="store_true", help="small sizes, a smoke run of minutes (the default)"
    )
    size.add_argument(
        "--full", action="store_true", help="the goals' sizes (docs/performance.md): hours for all"
    )
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="app and Prefect databases on PostgreSQL (databases bench_app, bench_prefect)",
    )
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("BENCH_PG_URL", Options.pg_url),
        help="PostgreSQL server to create them on (trust auth)",
    )
    parser.add_argument(
        "--engine",
        choices=ENGINES,
        default="worker",
        help="what runs the flows (the engine benchmark always measures both)",
    )
    parser.add_argument(
        "--work-limit",
        type=int,
        default=WORK_LIMIT,
        help=f"flow runs at once on the worker or serve (CONTROL_ROOM_WORK_LIMIT, {WORK_LIMIT})",
    )
    parser.add_argument(
        "--web-workers",
        type=int,
        default=WEB_WORKERS,
        help=f"gunicorn workers (scripts/stack.py: WEB_CONCURRENCY, {WEB_WORKERS})",
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra environment for the stack's processes, to measure a setting (repeatable)",
    )
    parser.add_argument(
        "--copies",
        type=int,
        help="dispatchers and workers (each with its launch server) to run: 2 measures two of everything "
        "(default 1; 2 with --cluster)",
    )
    parser.add_argument(
        "--cluster",
        action="store_true",
        help="scripts/cluster.py's layout: two Prefect API servers and its services on PostgreSQL and "
        "Redis (databases 12, 13), two web nodes, nginx in front (implies --postgres)",
    )
    parser.add_argument(
        "--dispatcher-apart",
        action="store_true",
        help="a dispatcher process of its own beside each worker, not one in it "
        "(scripts/start --dispatcher-apart)",
    )
    parser.add_argument("--keep", action="store_true", help="keep each stack's instance folder (logs, mail)")
    parser.add_argument("--json", type=Path, help="also append the JSON lines to this file")
    args = parser.parse_args(argv)
    if any("=" not in e for e in args.env):
        parser.error("--env takes KEY=VALUE")
    if args.cluster and args.engine != "worker":
        parser.error("--cluster runs the flows on workers (--engine worker)")
    options = Options(
        quick=not args.full,
        postgres=args.postgres or args.cluster,
        engine=args.engine,
        keep=args.keep,
        web_workers=args.web_workers,
        work_limit=args.work_limit,
        pg_url=args.pg_url,
        env=tuple(tuple(e.split("=", 1)) for e in args.env),
        copies=args.copies or (2 if args.cluster else 1),
        cluster=args.cluster,
        dispatcher_apart=args.dispatcher_apart,
    )  # type: ignore[misc]
    signal.signal(signal.SIGTERM, _terminate)
    report = Report(db=options.db, json_file=args.json)
    report.note(context())
    failed = []
    for name in args.names or BENCHES:
        started = time.monotonic()
        size = "quick" if options.quick else "full"
        apart = options.dispatcher_apart or options.engine != "worker" or options.cluster
        print(
            f"# === {name} ({size}, {options.db}, engine {options.engine}, limit {options.work_limit}, "
            f"dispatcher {'apart' if apart else 'in the worker'}, env {dict(options.env)})",
            flush=True,
        )
        try:
            importlib.import_module(f"bench.{name}").run(options, report)
        except Exception:  # noqa: BLE001 - report it, go on with the next benchmark
            traceback.print_exc()
            failed.append(name)
        print(
            f"# {name} took {time.monotonic() - started:.0f} s; load now "
            f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}",
            flush=True,
        )
        report.print_table(name)
    print("\n# all figures", flush=True)
    report.print_table()
    if failed:
        print(f"# FAILED: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
