"""The zombie-run automation: which runs it watches, and how Prefect's own trigger code answers it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from prefect.events.schemas.automations import Posture

from flows.automations import routine_slots_from_env, zombie_automation

ROOT = Path(__file__).resolve().parent.parent


def test_it_watches_complaint_runs_until_they_wait_on_a_person_or_end() -> None:
    trigger = zombie_automation(timedelta(seconds=450), "complaint-lifecycle").trigger
    states = {
        f"prefect.flow-run.{s}"
        for s in ("Suspended", "Paused", "Completed", "Failed", "Cancelled", "Crashed")
    }
    assert trigger.after == {"prefect.flow-run.heartbeat", "prefect.flow-run.Running"}
    assert trigger.expect == {"prefect.flow-run.heartbeat", *states}
    assert trigger.model_dump(mode="json")["match_related"] == {
        "prefect.resource.role": "flow",
        "prefect.resource.name": "complaint-lifecycle",
    }
    assert (trigger.posture, trigger.threshold, trigger.for_each) == (
        Posture.Proactive,
        1,
        {"prefect.resource.id"},
    )


def test_it_crashes_a_silent_complaint_run_and_no_run_that_ended(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PREFECT_HOME": str(tmp_path),
        "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{tmp_path / 'prefect.db'}",
        "PREFECT_LOGGING_LEVEL": "ERROR",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    done = subprocess.run(
        [sys.executable, "-m", "tests.zombie_triggers"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    fired = json.loads(done.stdout.strip().splitlines()[-1])
    # Each list: how often it fired, for each order the run's events may reach the server in.
    assert fired == {
        "silent complaint run": [1, 1, 1],
        "complaint run that suspended": [0, 0, 0, 0],
        "complaint run that completed": [0, 0, 0, 0],
        "sweep that completed before its heartbeat": [0, 0, 0, 0],
    }


def test_it_reads_the_routine_slots_or_refuses_them_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONTROL_ROOM_ROUTINE_SLOTS", " 7 ")
    assert routine_slots_from_env() == 7
    monkeypatch.setenv("CONTROL_ROOM_ROUTINE_SLOTS", "")
    assert routine_slots_from_env() is None  # no limit
    for bad in ("0", "-1", "three", "2.5"):
        monkeypatch.setenv("CONTROL_ROOM_ROUTINE_SLOTS", bad)
        with pytest.raises(SystemExit, match="CONTROL_ROOM_ROUTINE_SLOTS"):
            routine_slots_from_env()
