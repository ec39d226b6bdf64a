"""The launch server forks Prefect's engine with the client's arguments, streams and exit status."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def env_with(socket_path: Path) -> dict[str, str]:
    return {**os.environ, "CONTROL_ROOM_LAUNCHER_SOCKET": str(socket_path), "PYTHONPATH": str(ROOT)}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "launcher.sock"
    proc = subprocess.Popen([sys.executable, "-m", "flows.launcher", "serve"], cwd=ROOT, env=env_with(path))
    deadline = time.monotonic() + 60
    while not path.exists():
        assert proc.poll() is None and time.monotonic() < deadline, "launch server did not start"
        time.sleep(0.05)
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
