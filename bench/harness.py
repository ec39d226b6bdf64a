"""A whole Control Room stack for one benchmark: free ports, its own databases, either engine.

The stack is scripts.stack.Stack (with --cluster scripts.cluster.Cluster: two Prefect API
servers and its services on PostgreSQL and Redis, two web nodes, nginx in front of both),
started part by part as Stack.start() does, plus the floor deployment (bench/prefect.yaml)
and, for `--engine serve`, a `serve` process in place of the process worker. Everything it
started is stopped in shutdown(), including flow-run processes the worker started in sessions
of their own.
"""

from __future__ import annotations

import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psutil
import psycopg
import redis
import yaml
from sqlalchemy.engine import make_url

from bench.procs import tree
from bench.web import LIMITS
from scripts.cluster import Cluster
from scripts.stack import BIN, ROOT, Stack, wait_for, web_workers_from_env, work_limit_from_env

T = TypeVar("T")
APP_DEPLOYMENT = {
    "worker": "complaint-lifecycle/complaint-lifecycle",
    "serve": "complaint-lifecycle/bench-serve",
}
FLOOR_DEPLOYMENT = {"worker": "bench-floor/bench-floor", "serve": "bench-floor/bench-serve"}
ENGINES = ("worker", "serve")
WORK_LIMIT = work_limit_from_env()  # concurrent flow runs, as scripts/stack.py gives the worker
WEB_WORKERS = web_workers_from_env()  # gunicorn processes, as scripts/stack.py
REDIS_DBS = (12, 13)  # --cluster: events and messaging, the services' coordination (the tests use 14, 15)


@dataclass(frozen=True)
class Options:
    quick: bool = False
    postgres: bool = False
    engine: str = "worker"
    keep: bool = False
    web_workers: int = WEB_WORKERS
    work_limit: int = WORK_LIMIT
    pg_url: str = "postgresql://postgres@127.0.0.1:5432/postgres"
    env: tuple[tuple[str, str], ...] = ()  # extra environment for every process of the stack
    copies: int = 1  # dispatchers, and workers each with its launch server (the worker engine only)
    cluster: bool = False  # scripts/cluster.py's layout (PostgreSQL, Redis, nginx), not scripts/stack.py's
    dispatcher_apart: bool = False  # a dispatcher process of its own, not one in each worker

    @property
    def db(self) -> str:
        if self.cluster:
            return "pg-cluster"
        return "postgres" if self.postgres else "sqlite"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: Callable[[], T], timeout: float, every: float = 0.2, what: str = "condition") -> T:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


def epoch(iso: str) -> float:
    """time.time() of an ISO 8601 timestamp from the Prefect API."""
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def create_database(base_url: str, name: str, driver: str) -> str:
    """(Re)create database `name` on base_url's server; return its SQLAlchemy URL (as tests/pg.py)."""
    url = make_url(base_url)
    users = [url.username] if url.username else ["postgres", "root"]
    for user in users:
        try:
            with psycopg.connect(
                host=url.host or "127.0.0.1",
                port=url.port or 5432,
                user=user,
                dbname="postgres",
                autocommit=True,
            ) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                conn.execute(f'CREATE DATABASE "{name}"')
            break
        except psycopg.OperationalError:
            if user == users[-1]:
                raise
    return url.set(database=name, drivername=f"postgresql+{driver}", username=user).render_as_string(
        hide_password=False
    )


class PrefectApi:
    """The few REST calls the benches make to the Prefect server (reads, and the floor's starts/resumes)."""

    RETRY = (429, 502, 503)  # as the Prefect client: e.g. 503 when its SQLite database is locked

    def __init__(self, api_url: str) -> None:
        self.http = httpx.Client(base_url=api_url, timeout=30, limits=LIMITS)
        self.retried = 0
        self.rejected = 0

    def close(self) -> None:
        self.http.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        for attempt in range(6):
            response = self.http.request(method, path, **kwargs)
            if response.status_code not in self.RETRY or attempt == 5:
                break
            self.retried += 1
            time.sleep(min(0.25 * 2**attempt, 4))
        response.raise_for_status()
        return response

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._request(method, path, **kwargs).json()

    def deployment_id(self, name: str) -> str:
        flow, deployment = name.split("/")
        return str(self._json("GET", f"/deployments/name/{flow}/{deployment}")["id"])

    def create_run(
        self, deployment_id: str, parameters: dict[str, Any], name: str, state: dict[str, Any] | None = None
    ) -> str:
        """A run of the deployment (Scheduled, or in `state`); the name is its idempotency key too."""
        body: dict[str, Any] = {"parameters": parameters, "name": name, "idempotency_key": name}
        if state is not None:
            body["state"] = state
        return str(self._json("POST", f"/deployments/{deployment_id}/create_flow_run", json=body)["id"])

    def run_input(self, run_id: str, key: str) -> str:
        return self._request("GET", f"/flow_runs/{run_id}/input/{key}").text

    def save_run_input(self, run_id: str, key: str, value: str) -> None:
        self._request("POST", f"/flow_runs/{run_id}/input", json={"key": key, "value": value})

    def run(self, run_id: str) -> dict[str, Any]:
        return dict(self._json("GET", f"/flow_runs/{run_id}"))

    def resume(self, run_id: str, run_input: dict[str, Any], timeout: float = 30) -> None:
        """Resume a suspended run, retrying a REJECT as the dispatcher does (NotReady).

        suspend_flow_run sets the Paused state before it saves the input schema, so a
        resume right after the run turned Paused can be rejected: "Run input schema not found".
        """
        deadline = time.monotonic() + timeout
        while True:
            result = self._json("POST", f"/flow_runs/{run_id}/resume", json={"run_input": run_input})
            if result["status"] == "ACCEPT":
                return
            self.rejected += 1
            if time.monotonic() > deadline:
                raise RuntimeError(f"resume of {run_id}: {result['status']} {result.get('details')}")
            time.sleep(0.1)

    def runs(self, flow_runs: dict[str, Any]) -> list[dict[str, Any]]:
        """Every run matching a flow_runs filter (paged)."""
        found: list[dict[str, Any]] = []
        while True:
            page = self._json(
                "POST", "/flow_runs/filter", json={"flow_runs": flow_runs, "limit": 200, "offset": len(found)}
            )
            found.extend(page)
            if len(page) < 200:
                return found

    def count(self, flow_runs: dict[str, Any]) -> int:
        return int(self._json("POST", "/flow_runs/count", json={"flow_runs": flow_runs}))

    def run_named(self, name: str) -> dict[str, Any] | None:
        runs = self.runs({"name": {"any_": [name]}})
        return runs[0] if runs else None

    def states(self, run_id: str) -> list[tuple[str, float]]:
        """A run's states, oldest first: (type, time.time() it was set)."""
        found = self._json("GET", "/flow_run_states/", params={"flow_run_id": run_id})
        return sorted((str(s["type"]), epoch(s["timestamp"])) for s in found)

    def at_step(self, run_ids: list[str], step: int | None) -> dict[str, float]:
        """Runs (of run_ids) suspended at decision-<step> (None: completed) -> when they got there."""
        reached: dict[str, float] = {}
        for i in range(0, len(run_ids), 200):
            for run in self.runs({"id": {"any_": run_ids[i : i + 200]}}):
                state = run["state"] or {}
                if step is None:
                    ok = state.get("type") == "COMPLETED"
                else:
                    key = (state.get("state_details") or {}).get("pause_key")
                    ok = state.get("type") == "PAUSED" and key == f"decision-{step}"
                if ok:
                    reached[str(run["id"])] = epoch(state["timestamp"])
        return reached

    def wait_step(self, run_id: str, step: int | None, timeout: float, every: float = 0.1) -> float:
        """Wait until the run is suspended at decision-<step> (None: completed); return time.time()."""

        def reached() -> bool:
            state = self.run(run_id)["state"] or {}
            if state.get("type") in ("FAILED", "CRASHED", "CANCELLED"):
                raise RuntimeError(f"run {run_id} is {state.get('name')}: {state.get('message')}")
            if step is None:
                return bool(state.get("type") == "COMPLETED")
            details = state.get("state_details") or {}
            return state.get("type") == "PAUSED" and details.get("pause_key") == f"decision-{step}"

        wait_until(reached, timeout, every, what=f"run {run_id} at step {step}")
        return time.time()


class BenchStack:
    """One stack on free ports, in a temporary instance folder, with the engine chosen."""

    def __init__(
        self, bench: str, options: Options, engine: str | None = None, extra_env: dict[str, str] | None = None
    ) -> None:
        self.options = options
        self.engine = engine or options.engine
        if self.engine not in ENGINES:
            raise ValueError(f"engine must be one of {ENGINES}")
        self.instance = Path(tempfile.mkdtemp(prefix=f"bench-{bench}-{self.engine}-"))
        if options.postgres:
            database_url = create_database(options.pg_url, "bench_app", "psycopg")
            prefect_database_url = create_database(options.pg_url, "bench_prefect", "asyncpg")
        else:
            database_url = f"sqlite:///{self.instance / 'control_room.sqlite'}"
            prefect_database_url = ""
        env = {
            "CONTROL_ROOM_DEPLOYMENT": APP_DEPLOYMENT[self.engine],
            # The serve runner polls as often as scripts/stack.py makes the worker poll.
            "PREFECT_RUNNER_POLL_FREQUENCY": "1",
            **dict(options.env),
            **(extra_env or {}),
        }
        common: dict[str, Any] = dict(
            instance=self.instance,
            database_url=database_url,
            prefect_database_url=prefect_database_url,
            web_port=free_port(),
            prefect_port=free_port(),
            smtp_port=free_port(),
            demo=True,
            web_workers=options.web_workers,
            work_limit=options.work_limit,
            extra_env=env,
        )
        if options.cluster:
            for db in REDIS_DBS:  # Redis databases of the benches' own: the machine's Redis may serve others
                redis.Redis(host="127.0.0.1", port=6379, db=db).flushdb()
            self.stack: Stack = Cluster(
                **common,
                api_ports=[free_port(), free_port()],
                web_ports=[free_port(), free_port()],
                redis_url=f"redis://127.0.0.1:6379/{REDIS_DBS[0]}",
                docket_url=f"redis://127.0.0.1:6379/{REDIS_DBS[1]}",
            )
        else:
            in_worker = self.engine == "worker" and not options.dispatcher_apart
            self.stack = Stack(**common, dispatch_in_worker=in_worker)
        self.prefect = PrefectApi(self.stack.api_url)
        self.ok = False
        self.keep = options.keep  # keep the instance folder (set when something looks wrong)

    @property
    def app_deployment(self) -> str:
        return APP_DEPLOYMENT[self.engine]

    @property
    def floor_deployment(self) -> str:
        return FLOOR_DEPLOYMENT[self.engine]

    @property
    def maildir(self) -> Path:
        return self.instance / "mail"

    @property
    def password(self) -> str:
        return (self.instance / "demo-password.txt").read_text().strip()

    def pids(self, *names: str) -> dict[str, int]:
        """Live components by name (all of them when no names are given)."""
        return {
            n: p.pid for n, p in self.stack.procs.items() if (not names or n in names) and p.poll() is None
        }

    def start(self) -> BenchStack:
        s = self.stack
        (self.instance / "logs").mkdir(parents=True, exist_ok=True)
        flask, prefect = str(BIN / "flask"), str(BIN / "prefect")
        s.run(flask, "--app", "webapp", "migrate")
        s.run(flask, "--app", "webapp", "seed-demo", "--mail-sink", f"127.0.0.1:{s.smtp_port}")
        s.start_mail_sink()
        s.start_prefect_server()
        if self.engine == "worker":
            s.deploy()
            s.run(
                prefect, "--no-prompt", "deploy", "--all", "--prefect-file", str(self._floor_prefect_file())
            )
            for copy in range(1, self.options.copies + 1):
                if s.launcher_apart:  # a warm launch server of its own; else the worker forks it
                    s.start_launcher(copy)
                s.start_worker(copy)
        else:
            s.spawn("serve", sys.executable, "-m", "bench.serve", "--limit", str(self.options.work_limit))
        for name in (self.app_deployment, self.floor_deployment):
            wait_until(lambda n=name: self._has_deployment(n), 120, 0.5, f"deployment {name}")
        if not s.dispatch_in_worker:
            for copy in range(1, self.options.copies + 1):
                s.start_dispatcher(copy)
        s.start_web()
        print(
            f"# stack up: {s.web_url} (Prefect {s.api_url}), engine={self.engine}, "
            f"limit={self.options.work_limit}, copies={self.options.copies}, db={self.options.db}, "
            f"instance={self.instance}",
            flush=True,
        )
        return self

    @property
    def engine_names(self) -> list[str]:
        """The processes that run flows: the worker or serve, and the launch server if any."""
        return [n for n in self.stack.procs if n.split("-")[0] in (self.engine, "launcher")]

    def _floor_prefect_file(self) -> Path:
        """bench/prefect.yaml with the job variables of the root prefect.yaml's deployment, so they match."""
        root = yaml.safe_load((ROOT / "prefect.yaml").read_text())
        job_variables = root["deployments"][0]["work_pool"].get("job_variables", {})
        floor = yaml.safe_load((ROOT / "bench" / "prefect.yaml").read_text())
        for deployment in floor["deployments"]:
            # The same engine, with its own flow for Prefect's engine to take (prefect.yaml says why).
            path, name = deployment["entrypoint"].split(":")
            env = {
                **job_variables.get("env", {}),
                "PREFECT__FLOW_ENTRYPOINT": f"{path[:-3].replace('/', '.')}:{name}",
            }
            deployment["work_pool"]["job_variables"] = {**job_variables, "env": env}
        path = self.instance / "bench-prefect.yaml"
        path.write_text(yaml.safe_dump(floor, sort_keys=False))
        return path

    def _has_deployment(self, name: str) -> bool:
        proc = self.stack.procs.get("serve")
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"serve exited with {proc.returncode}; see {self.instance / 'logs'}")
        try:
            self.prefect.deployment_id(name)
            return True
        except httpx.HTTPError:
            return False

    def log_count(self, name: str, text: str) -> int:
        """How many lines of a component's log contain text."""
        log = self.instance / "logs" / f"{name}.log"
        if not log.exists():
            return 0
        with log.open(encoding="utf-8", errors="replace") as fh:
            return sum(1 for line in fh if text in line)

    def restart_prefect_server(self) -> None:
        self.stack.start_prefect_server()
        wait_for(f"{self.stack.api_url}/health", 90)

    def shutdown(self) -> None:
        # A second Ctrl-C or SIGTERM must not cut the shutdown short: that leaves the stack running.
        saved = [(sig, signal.signal(sig, signal.SIG_IGN)) for sig in (signal.SIGINT, signal.SIGTERM)]
        try:
            self._shutdown()
        finally:
            for sig, handler in saved:
                signal.signal(sig, handler)

    def _shutdown(self) -> None:
        # Flow runs started by the worker or serve live in sessions of their own, so
        # stopping the engine's process group leaves them running: end them by pid.
        leftovers = [p for pid in self.pids().values() for p in tree(pid)]
        self.stack.stop("serve")
        self.stack.shutdown()
        self.prefect.close()
        for proc in leftovers:
            try:
                if proc.is_running():
                    proc.kill()
            except psutil.Error:
                pass
        if self.ok and not self.keep:
            shutil.rmtree(self.instance, ignore_errors=True)
        else:
            print(f"# kept {self.instance} (logs in {self.instance / 'logs'})", flush=True)

    def __enter__(self) -> BenchStack:
        try:
            return self.start()
        except BaseException:
            self.shutdown()
            raise

    def __exit__(self, exc_type: object, *_: object) -> None:
        self.ok = exc_type is None
        self.shutdown()


__all__ = [
    "ROOT",
    "WEB_WORKERS",
    "WORK_LIMIT",
    "BenchStack",
    "Options",
    "PrefectApi",
    "free_port",
    "wait_until",
]
