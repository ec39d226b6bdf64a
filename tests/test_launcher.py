"""The launch server forks Prefect's engine with the client's arguments, streams and exit status."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]


def env_with(socket_path: Path) -> dict[str, str]:
    return {**os.environ, "CONTROL_ROOM_LAUNCHER_SOCKET": str(socket_path), "PYTHONPATH": str(ROOT)}


def wait_for_socket(path: Path, proc: subprocess.Popen[Any]) -> None:
    deadline = time.monotonic() + 60
    while not path.exists():
        assert proc.poll() is None and time.monotonic() < deadline, "launch server did not start"
        time.sleep(0.05)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "launcher.sock"
    proc = subprocess.Popen([sys.executable, "-m", "flows.launcher", "serve"], cwd=ROOT, env=env_with(path))
    wait_for_socket(path, proc)
    yield path
    proc.terminate()
    assert proc.wait(20) == 0
    assert not path.exists()


def run_client(socket_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # Python prints every module it imports to stderr ("import time: ... | prefect") when
    # started with this variable: a cold engine imports Prefect, a forked child imports
    # nothing (its server imported Prefect once, without the variable).
    env = {**env_with(socket_path), "PYTHONPROFILEIMPORTTIME": "1"}
    return subprocess.run(
        [sys.executable, "-m", "flows.launcher", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def imported(stderr: str, module: str) -> bool:
    """Whether the process tree writing stderr imported module (PYTHONPROFILEIMPORTTIME's lines)."""
    return re.search(rf"^import time:.*\|\s*{re.escape(module)}$", stderr, re.MULTILINE) is not None


def test_it_runs_the_engine_in_a_forked_child(server: Path) -> None:
    result = run_client(server, "not-a-uuid")
    # Prefect's engine entrypoint refuses the id and exits 1; its log reached our stderr.
    assert result.returncode == 1
    assert "Invalid flow run id" in result.stderr + result.stdout
    assert imported(result.stderr, "flows")  # the client's own imports are listed...
    assert not imported(result.stderr, "prefect")  # ...but the engine ran warm, in the server's fork


def test_it_falls_back_to_a_cold_engine_without_a_server(tmp_path: Path) -> None:
    result = run_client(tmp_path / "nobody-listens.sock", "not-a-uuid")
    assert result.returncode == 1
    assert "Invalid flow run id" in result.stderr + result.stdout
    assert imported(result.stderr, "prefect")  # a new interpreter imported Prefect's engine


def test_a_server_forked_off_its_worker_serves_warm_and_stops_with_it(tmp_path: Path) -> None:
    # What `python -m dispatch --worker POOL --launcher` does before its worker starts.
    path = tmp_path / "launcher.sock"
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time; from flows.launcher import fork_server, socket_path;"
            "print(fork_server(socket_path()), flush=True); time.sleep(600)",
        ],
        cwd=ROOT,
        env=env_with(path),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert parent.stdout is not None
        server_pid = int(parent.stdout.readline())
        wait_for_socket(path, parent)
        assert Path(f"/proc/{server_pid}/comm").read_text().strip() == "launch-server"
        result = run_client(path, "not-a-uuid")
        assert result.returncode == 1
        assert "Invalid flow run id" in result.stderr + result.stdout
        assert not imported(result.stderr, "prefect")  # warm: forked off the parent's imports
    finally:
        parent.kill()  # no chance to stop its server itself: the parent-death signal does
        parent.wait()
    deadline = time.monotonic() + 20
    while path.exists():  # the server removes its socket as it stops
        assert time.monotonic() < deadline, "the launch server outlived its parent"
        time.sleep(0.05)


def start_server(path: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "flows.launcher", "serve"],
        cwd=ROOT,
        env=env_with(path),
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().startswith("launch server ready"), "launch server did not start"
    return proc


def test_a_server_stopping_leaves_its_successors_socket(tmp_path: Path) -> None:
    # A restarted worker's new server binds the path while the old one still finishes its runs.
    path = tmp_path / "launcher.sock"
    first = start_server(path)
    second = start_server(path)
    try:
        first.terminate()
        assert first.wait(20) == 0
        assert path.exists()
        result = run_client(path, "not-a-uuid")
        assert result.returncode == 1 and not imported(result.stderr, "prefect")
    finally:
        first.kill()
        second.terminate()
        assert second.wait(20) == 0
    assert not path.exists()
