"""deploy/: the environment file names every setting, and scripts/cluster runs deploy's nginx file."""

from __future__ import annotations

import re

from scripts.cluster import SITE, render_site
from scripts.stack import ROOT

ENV_FILE = (ROOT / "deploy" / "control-room.env.example").read_text()
UNITS = "\n".join(p.read_text() for p in (ROOT / "deploy" / "systemd").glob("*.service"))


def variables_read() -> set[str]:
    """Every variable our code reads: Settings.from_env's and the os.environ look-ups of every package."""
    names = set()
    for package in ("models", "flows", "notifications", "dispatch", "webapp"):
        for path in (ROOT / package).rglob("*.py"):
            text = path.read_text()
            names |= set(re.findall(r'\benv(?:_bool|_float)?\("([A-Z][A-Z0-9_]+)"', text))
            names |= set(re.findall(r'environ(?:\.get\(|\[)"([A-Z][A-Z0-9_]+)"', text))
    return names


def test_it_sets_every_variable_the_code_reads_in_the_env_file_or_the_units() -> None:
    assigned = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", ENV_FILE + "\n" + UNITS, re.M))
    assigned |= set(re.findall(r"^Environment=([A-Z][A-Z0-9_]+)=", UNITS, re.M))
    assert sorted(variables_read() - assigned) == []


def test_it_sets_prefect_s_high_availability_settings() -> None:
    for line in (
        "PREFECT_MESSAGING_BROKER=prefect_redis.messaging",
        "PREFECT_MESSAGING_CACHE=prefect_redis.messaging",
        "PREFECT_SERVER_EVENTS_CAUSAL_ORDERING=prefect_redis.ordering",
        "PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE=prefect_redis.lease_storage",
        "PREFECT_API_DATABASE_MIGRATE_ON_START=false",
    ):
        assert f"\n{line}\n" in ENV_FILE
    assert re.search(r"^PREFECT_SERVER_DOCKET_URL=redis://", ENV_FILE, re.M)


def test_it_runs_deploy_s_nginx_file_on_this_machine_s_ports() -> None:
    site = render_site(
        SITE.read_text(),
        {"prefect_api": [1001, 1002, 1003], "control_room_web": [2001]},
        {4200: 3000, 80: 3001},
    )
    upstreams = dict(re.findall(r"upstream (\w+) \{(.*?)\n\}", site, re.S))
    assert re.findall(r"server (\S+) ", upstreams["prefect_api"]) == [
        f"127.0.0.1:{p}" for p in (1001, 1002, 1003)
    ]
    assert re.findall(r"server (\S+) ", upstreams["control_room_web"]) == ["127.0.0.1:2001"]
    assert "least_conn;" in upstreams["prefect_api"] and "keepalive 16;" in upstreams["prefect_api"]
    assert re.findall(r"listen (\S+);", site) == ["127.0.0.1:3000", "127.0.0.1:3001"]
    # A POST that finds a node dead goes to the next, in front of Prefect and of the web app alike.
    assert site.count("proxy_next_upstream error timeout http_502 http_503 non_idempotent;") == 2
