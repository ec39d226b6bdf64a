"""Prefect automations the deployment relies on: `python -m flows.automations` creates or updates them.

A worker machine that dies mid-step leaves its flow run "Running" for ever. Flow
runs send heartbeats (PREFECT_FLOWS_HEARTBEAT_FREQUENCY, default 180 s); this
automation marks a run Crashed when its heartbeats stop without the run having
suspended or ended. The dispatcher (dispatch/loop.py) looks for crashed case
runs every 15 s and reschedules them: the run replays from its persisted results.

A run's first heartbeat is sent as it starts; on a busy server it can arrive after
the run has suspended, and the run is then marked Crashed while it waits on a person.
The dispatcher tells the two apart by the state before Crashed and puts such a run
back to wait at the same suspension.
"""

from __future__ import annotations

import os
from datetime import timedelta

from prefect.automations import Automation
from prefect.client.schemas.objects import StateType
from prefect.events.actions import ChangeFlowRunState
from prefect.events.schemas.automations import EventTrigger, Posture
from prefect.events.schemas.events import ResourceSpecification

ZOMBIES = "control-room: crash unresponsive complaint runs"


def zombie_automation(within: timedelta) -> Automation:
    return Automation(
        name=ZOMBIES,
        description="Mark a complaint's flow run Crashed when it stops sending heartbeats.",
        trigger=EventTrigger(
            # From Running too: a run whose process dies before its first heartbeat (a worker
            # killed a moment after starting it) would otherwise stay Running for ever.
            after={"prefect.flow-run.heartbeat", "prefect.flow-run.Running"},
            expect={
                "prefect.flow-run.heartbeat",
                # A suspended run waits on a person and sends no heartbeats: not a zombie.
                "prefect.flow-run.Suspended",
                "prefect.flow-run.Paused",
                "prefect.flow-run.Completed",
                "prefect.flow-run.Failed",
                "prefect.flow-run.Cancelled",
                "prefect.flow-run.Crashed",
            },
            match=ResourceSpecification({"prefect.resource.id": ["prefect.flow-run.*"]}),
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            threshold=1,
            within=within,
        ),
        actions=[
            ChangeFlowRunState(
                state=StateType.CRASHED,
                message="Flow run marked as crashed: its heartbeats stopped.",
            )
        ],
    )


def main() -> None:
    heartbeat = int(os.environ.get("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", "180"))
    wanted = zombie_automation(timedelta(seconds=int(heartbeat * 2.5)))
    try:
        existing = Automation.read(name=ZOMBIES)
    except ValueError:
        wanted.create()
        print(f"created automation {ZOMBIES!r}")
        return
    wanted.id = existing.id
    wanted.update()
    print(f"updated automation {ZOMBIES!r}")


if __name__ == "__main__":
    main()
