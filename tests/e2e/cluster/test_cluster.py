"""deploy/'s high-availability layout on one machine (scripts/cluster.py): two Prefect API servers and
Prefect's services on PostgreSQL and Redis, two of every part of ours, nginx in front of the API
servers and the web nodes. A complaint goes through every step through nginx, each hand-off mailed
once; with one API server and one web node killed, the next one does too, no operator's POST refused.
"""

from __future__ import annotations

import re
import time

import httpx
import pytest

from scripts.cluster import Cluster
from tests.e2e.cluster.parts import kill, web_requests
from tests.e2e.web import HAND_OFFS, PrefectApi, WebUser, mails_about, wait_until
from tests.pg import postgres_url

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(postgres_url() is None, reason="the cluster needs PostgreSQL (TEST_DATABASE_URL)"),
]


def carry(users: dict[str, WebUser], cmho_id: str) -> str:
    """A complaint filed and decided at every step, each POST through nginx answered with a redirect."""
    number = users["operator"].open_case()
    users["dm"].decide(number, "assign", officer=cmho_id, text="देखें")
    users["cmho"].decide(number, "resolve", text="Bed arranged")
    users["operator"].decide(number, "satisfied", rating="4", text="")
    users["collector"].decide(number, "confirm", text="Confirmed")
    return number


def page(url: str) -> str:
    """A page as a browser asks for it (Prefect's server gives its UI only to those)."""
    response = httpx.get(url, headers={"Accept": "text/html"}, follow_redirects=True, timeout=30)
    assert response.status_code == 200, response.text
    return response.text


def mailed(cluster: Cluster, number: str) -> list[str]:
    return [to for to, _ in mails_about(cluster.instance / "mail", number)]


@pytest.mark.timeout(420)
def test_it_carries_complaints_through_nginx_while_a_prefect_server_and_a_web_node_die(
    cluster: Cluster, password: str, cmho_id: str
) -> None:
    users = {
        name: WebUser(cluster.web_url, name, password) for name in ("operator", "dm", "cmho", "collector")
    }
    prefect = PrefectApi(cluster.api_url)
    ui = f"http://127.0.0.1:{cluster.prefect_port}"
    try:
        # The Prefect UI and its API through nginx.
        assert "<html" in page(f"{ui}/runs")
        assert httpx.get(f"{ui}/ui-settings", timeout=30).json()["api_url"] == cluster.api_url

        first = carry(users, cmho_id)
        wait_until(lambda: len(mailed(cluster, first)) >= len(HAND_OFFS), 180, 1, f"{first}'s hand-offs")

        # nginx takes turns (least_conn, all idle): each page's GET goes to one node and its form's
        # POST to the other. Kill the node of the last POST, so that the next POST goes to it.
        last_post = [line for line in web_requests(cluster) if '"POST ' in line][-1]
        dead = int(re.findall(r'"127\.0\.0\.1:(\d+)"', last_post)[-1])
        kill(cluster, "prefect-api")
        kill(cluster, cluster.named("web", cluster.web_ports.index(dead) + 1))
        second = carry(users, cmho_id)
        wait_until(lambda: len(mailed(cluster, second)) >= len(HAND_OFFS), 180, 1, f"{second}'s hand-offs")
        time.sleep(3)  # anything sent twice would arrive now

        # Not one operator's request answered 5xx; a POST that found the dead node went to the other.
        web = web_requests(cluster)
        assert [line for line in web if line.split()[1].startswith("5")] == []
        assert [line for line in web if '"POST ' in line and f'"127.0.0.1:{dead}, ' in line]
        assert mailed(cluster, first) == HAND_OFFS
        assert mailed(cluster, second) == HAND_OFFS
        for number in (first, second):
            (run,) = prefect.runs_named(number)
            assert run["state_type"] == "COMPLETED"
        assert "<html" in page(f"{ui}/runs")
    finally:
        prefect.http.close()
        for user in users.values():
            user.close()
