"""Prefect's high-availability layout, on one machine: the tests' and benchmarks' copy of deploy/.

Two Prefect API servers (`prefect server start --no-services`) and one `prefect server services start`
on PostgreSQL, with Redis for events and coordination (prefect-redis), as Prefect's "How to scale
self-hosted Prefect" lays them out; two workers (each with its launch server), two dispatchers, two
web nodes and the demo mail sink. nginx, run as our own child with deploy/nginx/control-room.conf,
balances the API servers and the web nodes: every client's PREFECT_API_URL and the operators' address
are nginx's. PostgreSQL and Redis are the machine's own. `scripts/cluster --demo` runs it until Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from scripts.stack import BIN, ROOT, Stack, run_until_stopped, wait_for

SITE = ROOT / "deploy" / "nginx" / "control-room.conf"


def ensure_database(url: str) -> None:
    """Create url's PostgreSQL database if it does not exist yet (never drop one)."""
    parts = make_url(url)
    with psycopg.connect(
        host=parts.host or "127.0.0.1",
        port=parts.port or 5432,
        user=parts.username,
        dbname="postgres",
        password=parts.password,
        autocommit=True,
    ) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (parts.database,)).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{parts.database}"')


def render_site(text: str, upstreams: dict[str, list[int]], listen: dict[str, int]) -> str:
    """deploy/nginx/control-room.conf for this machine: each upstream's servers on 127.0.0.1 at these
    ports, and each server block (by the port it listens on there) on 127.0.0.1 at another."""

    def servers(match: re.Match[str]) -> str:
        ports = upstreams[match.group(1)]
        body = re.sub(r"^\s*server \S+ (.*);\n", "", match.group(2), flags=re.M)
        options = re.search(r"^\s*server \S+ (.*);$", match.group(2), re.M)
        assert options, f"upstream {match.group(1)} has no server line"
        lines = "".join(f"    server 127.0.0.1:{port} {options.group(1)};\n" for port in ports)
        return f"upstream {match.group(1)} {{{body.rstrip()}\n{lines}}}"

    text = re.sub(r"upstream (\w+) \{(.*?)\n\}", servers, text, flags=re.S)
    for port, local in listen.items():
        text, found = re.subn(rf"^(\s*)listen {port};$", rf"\g<1>listen 127.0.0.1:{local};", text, flags=re.M)
        assert found == 1, f"no `listen {port};` in {SITE.name}"
    return text


@dataclass
class Cluster(Stack):
    """The Stack with Prefect's server split and doubled behind nginx; web_port and prefect_port are
    nginx's, the nodes take api_ports and web_ports."""

    api_ports: list[int] = field(default_factory=lambda: [4201, 4202])
    web_ports: list[int] = field(default_factory=lambda: [5001, 5002])
    redis_url: str = "redis://127.0.0.1:6379/0"  # events and messaging
    docket_url: str = "redis://127.0.0.1:6379/1"  # the background services' coordination
    workers: int = 2
    dispatchers: int = 2

    def env(self) -> dict[str, str]:
        env = super().env()
        env.update(
            # prefect-redis, as "How to scale self-hosted Prefect" sets it.
            PREFECT_MESSAGING_BROKER="prefect_redis.messaging",
            PREFECT_MESSAGING_CACHE="prefect_redis.messaging",
            PREFECT_SERVER_EVENTS_CAUSAL_ORDERING="prefect_redis.ordering",
            PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE="prefect_redis.lease_storage",
            PREFECT_REDIS_MESSAGING_URL=self.redis_url,
            PREFECT_SERVER_DOCKET_URL=self.docket_url,
            # One `prefect server database upgrade` before the servers, not one per server at once.
            PREFECT_API_DATABASE_MIGRATE_ON_START="false",
        )
        env.update(self.extra_env)
        return env

    def api_name(self, copy: int) -> str:
        return self.named("prefect-api", copy)

    def start_api_server(self, copy: int) -> None:
        port = self.api_ports[copy - 1]
        name = self.api_name(copy)
        self.spawn(name, *self.prefect_server_command(port, "--no-services"))
        wait_for(f"http://127.0.0.1:{port}/api/health", 120, self.procs[name])

    def start_prefect_services(self) -> None:
        self.spawn("prefect-services", str(BIN / "prefect"), "server", "services", "start")

    def nginx_config(self) -> Path:
        """nginx.conf under the instance folder: our own prefix, logs and pid; deploy's site inside."""
        prefix = self.instance / "nginx"
        prefix.mkdir(parents=True, exist_ok=True)
        site = render_site(
            SITE.read_text(),
            {"prefect_api": self.api_ports, "control_room_web": self.web_ports},
            {4200: self.prefect_port, 80: self.web_port},
        )
        (prefix / "control-room.conf").write_text(site)
        logs = self.instance / "logs"
        user = "user root;\n" if os.geteuid() == 0 else ""  # else nobody, who cannot read our folder
        temp = "\n".join(
            f"    {kind}_temp_path {prefix / kind};"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        conf = prefix / "nginx.conf"
        conf.write_text(
            f"""{user}daemon off;
worker_processes 1;
pid {prefix / "nginx.pid"};
error_log {logs / "nginx-error.log"} warn;
events {{
    worker_connections 1024;
}}
http {{
    # Which node answered, and which failed first: "$upstream_addr" reads "dead:port, live:port".
    log_format nodes '$server_name $status "$request" "$upstream_addr" "$upstream_status" $request_time';
    access_log {logs / "nginx-access.log"} nodes;
{temp}
    include {prefix / "control-room.conf"};
}}
"""
        )
        return conf

    def start_nginx(self) -> None:
        conf = self.nginx_config()
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        args = [
            nginx,
            "-c",
            str(conf),
            "-p",
            str(conf.parent),
            "-e",
            str(self.instance / "logs" / "nginx-error.log"),
        ]
        self.run(*args, "-t")
        self.spawn("nginx", *args)

    def start_prefect_server(self) -> None:
        """Migrate Prefect's database once, then its API servers, its services and nginx before them."""
        if not self.prefect_database_url.startswith("postgresql"):
            raise SystemExit("the cluster needs PostgreSQL for Prefect (PREFECT_API_DATABASE_CONNECTION_URL)")
        self.run(str(BIN / "prefect"), "server", "database", "upgrade", "-y")
        for copy in range(1, len(self.api_ports) + 1):
            self.start_api_server(copy)
        self.start_prefect_services()
        self.start_nginx()
        wait_for(f"{self.api_url}/health", 30, self.procs["nginx"])

    def start_web_node(self, copy: int) -> None:
        port = self.web_ports[copy - 1]
        name = self.named("web", copy)
        self.spawn(name, *self.web_command(port), env={"TRUSTED_PROXIES": "1"})  # behind nginx
        wait_for(f"http://127.0.0.1:{port}/healthz", 60, self.procs[name])

    def start_web(self) -> None:
        for copy in range(1, len(self.web_ports) + 1):
            self.start_web_node(copy)
        wait_for(f"{self.web_url}/healthz", 30, self.procs["nginx"])

    def check_ports(self) -> None:
        super().check_ports()
        for port in [*self.api_ports, *self.web_ports]:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    raise SystemExit(f"port {port} is already in use: is another cluster running?")

    def shutdown(self) -> None:
        parts = (
            "web",
            "dispatcher",
            "worker",
            "launcher",
            "nginx",
            "prefect-services",
            "prefect-api",
            "mailsink",
        )
        for part in parts:
            for name in [n for n in self.procs if n == part or re.fullmatch(rf"{part}-\d+", n)]:
                self.stop(name)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--demo", action="store_true", help="seed a demo district; mail to a local inbox")
    parser.add_argument("--port", type=int, default=8080, help="nginx's port for the web app")
    parser.add_argument(
        "--prefect-port", type=int, default=4200, help="nginx's port for the Prefect API and UI"
    )
    parser.add_argument("--api-ports", default="4201,4202", help="the Prefect API servers' ports")
    parser.add_argument("--web-ports", default="5001,5002", help="the web nodes' ports")
    parser.add_argument("--smtp-port", type=int, default=8025, help="demo mail sink port")
    args = parser.parse_args()
    instance = Path(os.environ.get("CONTROL_ROOM_INSTANCE", ROOT / "instance" / "cluster"))
    database_url = os.environ.get("DATABASE_URL", "postgresql+psycopg://root@127.0.0.1:5432/control_room")
    prefect_database_url = os.environ.get(
        "PREFECT_API_DATABASE_CONNECTION_URL", "postgresql+asyncpg://root@127.0.0.1:5432/prefect"
    )
    for url in (database_url, prefect_database_url):
        ensure_database(url)
    cluster = Cluster(
        instance=instance,
        database_url=database_url,
        prefect_database_url=prefect_database_url,
        web_port=args.port,
        prefect_port=args.prefect_port,
        smtp_port=args.smtp_port,
        demo=args.demo,
        api_ports=[int(p) for p in args.api_ports.split(",")],
        web_ports=[int(p) for p in args.web_ports.split(",")],
        redis_url=os.environ.get("PREFECT_REDIS_MESSAGING_URL", "redis://127.0.0.1:6379/0"),
        docket_url=os.environ.get("PREFECT_SERVER_DOCKET_URL", "redis://127.0.0.1:6379/1"),
    )
    run_until_stopped(cluster, instance, demo=args.demo)


if __name__ == "__main__":
    main()
