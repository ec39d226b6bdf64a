"""Start the whole Control Room system on one machine and stop it cleanly.

Processes: a mail sink (demo), the Prefect server, the process worker with the outbox dispatcher
in it and its launch server forked off it (`python -m dispatch --worker --launcher`; each apart
with --dispatcher-apart) and the web app (gunicorn). `python -m scripts.stack` runs them until
Ctrl-C; the tests start the same Stack on their own ports and databases.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def work_limit_from_env() -> int:
    """CONTROL_ROOM_WORK_LIMIT: flow runs one worker runs at once (default 4, twice these 2 cores)."""
    return int(os.environ.get("CONTROL_ROOM_WORK_LIMIT", "4"))


def web_workers_from_env() -> int:
    """WEB_CONCURRENCY (gunicorn's own variable): web app processes (default 1, 16 threads each)."""
    return int(os.environ.get("WEB_CONCURRENCY", "1"))


@dataclass
class Stack:
    instance: Path
    database_url: str
    web_port: int = 5000
    prefect_port: int = 4200
    smtp_port: int = 8025
    demo: bool = False
    mail_sink: bool = True
    launcher: bool = True  # False: each step runs a cold `python -m prefect.engine`
    prefect_database_url: str = ""  # empty: SQLite under the instance folder
    # gunicorn processes, 16 threads each. One is ample for a district's operators (a complaint
    # costs ~10 ms of CPU) and ~85 MB less than two; WEB_CONCURRENCY (gunicorn's own) for more.
    web_workers: int = field(default_factory=web_workers_from_env)
    # Flow runs at once. Each step is a process doing CPU work: about twice the cores keeps
    # them busy without thrashing (docs/performance.md: a burst ran faster at 4 than at 20).
    work_limit: int = field(default_factory=work_limit_from_env)
    # Copies of the parts that scale out: each worker has its own launch server. Any number of
    # dispatchers share the outbox through claims in the database.
    workers: int = 1
    dispatchers: int = 1  # dispatchers of their own, besides those in the workers
    # Each worker runs a dispatcher in its own process (`python -m dispatch --worker`): one Prefect
    # client in memory, not two (~80 MB less on one machine; docs/performance.md, goal 6).
    dispatch_in_worker: bool = False
    extra_env: dict[str, str] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.prefect_port}/api"

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def env(self) -> dict[str, str]:
        prefect_home = self.instance / "prefect"
        env = dict(os.environ)
        env.update(
            PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
            PYTHONPATH=str(ROOT),
            CONTROL_ROOM_HOME=str(ROOT),
            CONTROL_ROOM_INSTANCE=str(self.instance),
            DATABASE_URL=self.database_url,
            PUBLIC_URL=self.web_url,
            MAIL_DIR=str(self.instance / "mail"),
            CONTROL_ROOM_DEMO="true" if self.demo else "false",
            PREFECT_HOME=str(prefect_home),
            PREFECT_API_URL=self.api_url,
            PREFECT_UI_URL=f"http://127.0.0.1:{self.prefect_port}",
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            DO_NOT_TRACK="1",
            PREFECT_LOCAL_STORAGE_PATH=str(prefect_home / "storage"),
            # Ask for work every second: a resumed case starts within ~1 s, not 10.
            PREFECT_WORKER_QUERY_SECONDS="1",
            PREFECT_LOGGING_LEVEL=env.get("PREFECT_LOGGING_LEVEL", "WARNING"),
            CONTROL_ROOM_LAUNCHER_SOCKET=str(self.instance / "launcher.sock"),
        )
        # Prefect's own retention (its db_vacuum service): finished runs, with their task runs, states
        # and logs, go 30 days after they ended (a case waiting on a person keeps its run); events
        # after Prefect's 7 days. The app's own history keeps everything the Collector reads.
        env.setdefault("PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED", "events,flow_runs")
        env.setdefault("PREFECT_SERVER_SERVICES_DB_VACUUM_RETENTION_PERIOD", str(30 * 24 * 3600))
        # No case waits with a timeout (flows/complaint.py: time limits are the app's), and Prefect's
        # pause-expiration service reads every paused run every 5 s to find expired ones: with a
        # state's waiting cases, most of the server's idle CPU (docs/performance.md, goal 3).
        env.setdefault("PREFECT_SERVER_SERVICES_PAUSE_EXPIRATIONS_ENABLED", "false")
        # A flow run's heartbeat every 30 s (Prefect's shortest; its default is 180): the zombie
        # automation (flows/automations.py) marks a run whose worker died Crashed after 75 s, not
        # 7.5 min, and the dispatcher reschedules it. A complaint's run lasts seconds between its
        # suspensions: one or two heartbeats each.
        env.setdefault("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", "30")
        # Routine complaint steps at once across the pool: one slot of the workers' always free
        # for an emergency's (flows/automations.py; docs/performance.md, goal 1).
        env.setdefault("CONTROL_ROOM_ROUTINE_SLOTS", str(max(1, self.workers * self.work_limit - 1)))
        if self.demo:
            env.setdefault("APP_ENV", "development")  # demo mode is refused in production
        if not env.get("SECRET_KEY"):
            env["SECRET_KEY"] = self.secret_key()
        if self.prefect_database_url:
            env["PREFECT_API_DATABASE_CONNECTION_URL"] = self.prefect_database_url
        if self.demo and not env.get("SMS_URL"):
            # Demo text messages land in the demo mailbox, one address per phone.
            env["SMS_URL"] = (
                f"mailto://127.0.0.1:{self.smtp_port}?from=control-room@demo.local&to=sms{{phone}}@demo.local"
            )
        env.update(self.extra_env)
        return env

    def secret_key(self) -> str:
        """This machine's own signing key, made once and kept in the instance folder (owner-only)."""
        path = self.instance / "secret_key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(secrets.token_urlsafe(48) + "\n")
        return path.read_text().strip()

    def run(self, *args: str, stdin: str | None = None) -> str:
        result = subprocess.run(
            args, cwd=ROOT, env=self.env(), input=stdin, text=True, capture_output=True, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def spawn(self, name: str, *args: str, env: dict[str, str] | None = None) -> None:
        log = (self.instance / "logs" / f"{name}.log").open("ab")
        self.procs[name] = subprocess.Popen(
            args,
            cwd=ROOT,
            env=self.env() | (env or {}),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @staticmethod
    def named(part: str, copy: int) -> str:
        """The first copy of a part is "worker", the next ones "worker-2", "worker-3", ..."""
        return part if copy == 1 else f"{part}-{copy}"

    def launcher_socket(self, copy: int) -> dict[str, str]:
        return {"CONTROL_ROOM_LAUNCHER_SOCKET": str(self.instance / f"{self.named('launcher', copy)}.sock")}

    def stop(self, name: str, timeout: float = 15) -> None:
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    # The parts, each startable and stoppable on its own (the fault tests need that).
    def start_mail_sink(self) -> None:
        self.spawn(
            "mailsink",
            sys.executable,
            "-m",
            "notifications.mailsink",
            "--dir",
            str(self.instance / "mail"),
            "--port",
            str(self.smtp_port),
        )

    @staticmethod
    def prefect_server_command(port: int, *options: str) -> tuple[str, ...]:
        """`prefect server start` on this machine's loopback at port (cluster: --no-services)."""
        return (str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port), *options)

    def start_prefect_server(self) -> None:
        self.spawn("prefect-server", *self.prefect_server_command(self.prefect_port))
        wait_for(f"{self.api_url}/health", 90, self.procs["prefect-server"])

    def deploy(self) -> None:
        prefect = str(BIN / "prefect")
        try:
            self.run(prefect, "work-pool", "create", "control-room", "--type", "process")
        except RuntimeError as exc:
            if "already exists" not in str(exc):
                raise
        self.run(prefect, "--no-prompt", "deploy", "--all")
        self.run(sys.executable, "-m", "flows.automations")

    @property
    def launcher_apart(self) -> bool:
        """A launch server of its own beside each worker; else the worker forks it (dispatch --launcher)."""
        return self.launcher and not self.dispatch_in_worker

    def start_launcher(self, copy: int = 1) -> None:
        env = self.launcher_socket(copy)
        socket_path = Path(env["CONTROL_ROOM_LAUNCHER_SOCKET"])
        name = self.named("launcher", copy)
        self.spawn(name, sys.executable, "-m", "flows.launcher", "serve", env=env)
        deadline = time.monotonic() + 60
        while not socket_path.exists():
            if self.procs[name].poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the launch server did not start; see logs/{name}.log")
            time.sleep(0.1)

    def worker_command(self) -> list[str]:
        """A process worker of the control-room pool running at most work_limit flow steps at once."""
        return [
            str(BIN / "prefect"),
            "worker",
            "start",
            "--pool",
            "control-room",
            "--type",
            "process",
            "--limit",
            str(self.work_limit),
        ]

    def dispatching_worker_command(self) -> list[str]:
        """The same worker, run in a dispatcher's process (`python -m dispatch --worker`), its launch
        server forked off it: they share Prefect's modules in memory (docs/performance.md, goal 6)."""
        command = [sys.executable, "-m", "dispatch", "--worker", "control-room"]
        return [*command, "--limit", str(self.work_limit), *(["--launcher"] if self.launcher else [])]

    def start_worker(self, copy: int = 1) -> None:
        command = self.dispatching_worker_command() if self.dispatch_in_worker else self.worker_command()
        self.spawn(self.named("worker", copy), *command, env=self.launcher_socket(copy))

    def start_dispatcher(self, copy: int = 1) -> None:
        self.spawn(self.named("dispatcher", copy), sys.executable, "-m", "dispatch")

    def web_command(self, port: int | None = None) -> list[str]:
        """gunicorn on port (web_port): web_workers processes of 16 threads, each request logged."""
        return [
            str(BIN / "gunicorn"),
            "--bind",
            f"127.0.0.1:{port or self.web_port}",
            "--workers",
            str(self.web_workers),
            "--threads",
            "16",
            "--access-logfile",
            "-",
            # gunicorn 25+ opens a control socket at one path per user (~/.gunicorn/gunicorn.ctl):
            # a second app on this machine (the tests' stack, another checkout) would take it over.
            "--no-control-socket",
            "webapp:create_app()",
        ]

    def start_web(self) -> None:
        self.spawn("web", *self.web_command())
        wait_for(f"{self.web_url}/healthz", 60, self.procs["web"])

    def check_ports(self) -> None:
        """Refuse to start beside another server on our ports (we would talk to it instead)."""
        ports = {"web app": self.web_port, "Prefect server": self.prefect_port}
        if self.mail_sink:
            ports["mail sink"] = self.smtp_port
        for name, port in ports.items():
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    raise SystemExit(
                        f"port {port} ({name}) is already in use: is Control Room or Prefect running? "
                        "Stop it, or choose other ports (--port, --prefect-port, --smtp-port)."
                    )

    def start(self) -> None:
        self.check_ports()
        (self.instance / "logs").mkdir(parents=True, exist_ok=True)
        flask = str(BIN / "flask")
        self.run(flask, "--app", "webapp", "migrate")
        if self.demo:
            print(
                self.run(flask, "--app", "webapp", "seed-demo", "--mail-sink", f"127.0.0.1:{self.smtp_port}"),
                end="",
            )
        if self.mail_sink:
            self.start_mail_sink()
        self.start_prefect_server()
        self.deploy()
        for copy in range(1, self.workers + 1):
            if self.launcher_apart:
                self.start_launcher(copy)
            self.start_worker(copy)
        for copy in range(1, self.dispatchers + 1):
            self.start_dispatcher(copy)
        self.start_web()

    def shutdown(self) -> None:
        parts = ("web", "dispatcher", "worker", "launcher")
        for name in [n for part in parts for n in self.procs if n.split("-")[0] == part]:
            self.stop(name)
        for name in ("prefect-server", "mailsink"):
            self.stop(name)


def wait_for(url: str, seconds: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process for {url} exited with {proc.returncode}; see the logs")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status < 500:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer within {seconds:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--demo", action="store_true", help="seed a demo district; mail to a local inbox")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 5000)), help="web app port")
    parser.add_argument("--prefect-port", type=int, default=4200)
    parser.add_argument("--smtp-port", type=int, default=8025, help="demo mail sink port")
    parser.add_argument("--no-launcher", action="store_true", help="start each flow step cold (slower)")
    parser.add_argument("--workers", type=int, default=1, help="Prefect workers (each with a launch server)")
    parser.add_argument(
        "--dispatchers", type=int, default=0, help="outbox dispatchers besides the workers' (any number)"
    )
    parser.add_argument(
        "--dispatcher-apart",
        action="store_true",
        help="workers without a dispatcher in them; then at least one dispatcher of its own",
    )
    args = parser.parse_args()
    instance = Path(os.environ.get("CONTROL_ROOM_INSTANCE", ROOT / "instance"))
    database_url = os.environ.get("DATABASE_URL", f"sqlite:///{instance / 'control_room.sqlite'}")
    stack = Stack(
        instance=instance,
        database_url=database_url,
        web_port=args.port,
        prefect_port=args.prefect_port,
        smtp_port=args.smtp_port,
        demo=args.demo,
        launcher=not args.no_launcher,
        workers=args.workers,
        dispatchers=max(args.dispatchers, 1) if args.dispatcher_apart else args.dispatchers,
        dispatch_in_worker=not args.dispatcher_apart,
    )
    run_until_stopped(stack, instance, demo=args.demo)


def run_until_stopped(stack: Stack, instance: Path, demo: bool) -> None:
    """Start the stack (or a cluster), say where it answers, and keep it up until Ctrl-C, SIGTERM or
    one of its processes exits; then stop every process."""
    stop = False

    def on_signal(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        stack.start()
        print(
            f"\nControl Room is running: {stack.web_url}  (Prefect UI: http://127.0.0.1:{stack.prefect_port})"
        )
        if demo:
            print(f"Notification mails are caught locally: {stack.web_url}/mailbox")
        print(f"Logs: {instance / 'logs'}. Press Ctrl-C to stop everything.", flush=True)
        while not stop:
            for name, proc in list(stack.procs.items()):
                if proc.poll() is not None:
                    print(f"{name} exited with {proc.returncode}; see {instance / 'logs' / (name + '.log')}")
                    stop = True
            time.sleep(1)
    finally:
        print("stopping...", flush=True)
        stack.shutdown()


if __name__ == "__main__":
    main()
