"""Breaking the cluster's parts on purpose, and reading what nginx saw meanwhile."""

from __future__ import annotations

import os
import signal

from scripts.cluster import Cluster


def kill(cluster: Cluster, name: str) -> None:
    """SIGKILL a part and everything it started in its process group: no goodbye, no lease handed back."""
    proc = cluster.procs.pop(name)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def web_requests(cluster: Cluster) -> list[str]:
    """nginx's log lines of the web app's requests: server, status, request, nodes tried, their answers."""
    log = (cluster.instance / "logs" / "nginx-access.log").read_text().splitlines()
    return [line for line in log if line.startswith("control-room.")]
