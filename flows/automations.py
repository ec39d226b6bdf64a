"""What the deployment relies on in Prefect besides prefect.yaml: `python -m flows.automations` creates
or updates the zombie-run automation and the work queues.

An urgent case's runs (an emergency's) go to the work pool's `urgent` queue (models/config.URGENT_QUEUE,
dispatch/engine.start_case), first in the pool's priority: a worker with a free slot takes its
runs, starts and resumes alike, before the default queue's. Priority alone waits for a slot to
come free, and in a storm every slot is a routine step of several seconds; so the default queue
may also hold fewer runs at once than the pool's workers have slots (CONTROL_ROOM_ROUTINE_SLOTS,
Prefect's work-queue concurrency limit, counted across the pool): the slots left over are free
whenever an urgent run comes. scripts/stack.py sets it to the workers' slots less one.

A worker machine that dies mid-step leaves its flow run "Running" for ever. Flow
runs send heartbeats (PREFECT_FLOWS_HEARTBEAT_FREQUENCY, default 180 s); this
automation marks a run Crashed when its heartbeats stop without the run having
suspended or ended. The dispatcher (dispatch/loop.py) looks for crashed case
runs every 15 s and reschedules them: the run replays from its persisted results.

A run's first heartbeat is sent as it starts; on a busy server it can arrive after
the run has suspended, and the run is then marked Crashed while it waits on a person.
The dispatcher tells the two apart by the state before Crashed and puts such a run
back to wait at the same suspension.

Only the complaint flow's runs are watched (see zombie_automation for why).
"""

from __future__ import annotations

import os
from datetime import timedelta

from prefect.automations import Automation
from prefect.client.schemas.objects import StateType
from prefect.events.actions import ChangeFlowRunState
from prefect.events.schemas.automations import EventTrigger, Posture
from prefect.events.schemas.events import ResourceSpecification

from models.config import URGENT_QUEUE, Settings

ZOMBIES = "control-room: crash unresponsive complaint runs"


def zombie_automation(within: timedelta, flow_name: str) -> Automation:
    """Crash a run of flow_name whose heartbeats stop for `within` before it suspends or ends.

    Scoped to the complaint flow, whose crashed runs the dispatcher revives. The terminal states
    in `expect` do not protect a run that ends before its first heartbeat is sent (the engine's
    heartbeat thread can send it a moment after the Completed state's time): that heartbeat opens
    a window after the end, with nothing left to come, and the automation fired at each escalation
    sweep with nothing to do ("Run is already in terminal state COMPLETED"). No `expect` can say
    "unless it ended before", so the scheduled flows are left out: a sweep, follow-up list or
    retries run left Running by a dead machine blocks nothing (its `background` queue has no
    concurrency limit; the complaints' `default` queue has) and the next
    scheduled run does its work; an advisory's unsent messages go with send-retries. A complaint
    step that ends as fast is rare, and harmless: a completed run refuses the Crashed state, and
    the dispatcher puts a suspended one back to wait.
    """
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
            # The engine's heartbeats and the server's state events both name the run's flow.
            match_related=ResourceSpecification(
                {"prefect.resource.role": "flow", "prefect.resource.name": flow_name}
            ),
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


def routine_slots_from_env() -> int | None:
    """CONTROL_ROOM_ROUTINE_SLOTS: routine runs at once across the pool (unset or empty: no limit)."""
    value = os.environ.get("CONTROL_ROOM_ROUTINE_SLOTS", "").strip()
    if not value:
        return None
    if not value.isdigit() or int(value) < 1:
        raise SystemExit(f"CONTROL_ROOM_ROUTINE_SLOTS={value!r}: a whole number of at least 1, or empty")
    return int(value)


def ensure_queues(deployment: str, routine_slots: int | None) -> list[str]:
    """The urgent queue in the deployment's work pool, first in priority, and the deployment's own
    queue holding at most routine_slots runs at once (None: no limit); return what was done."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    done = []
    with get_client(sync_client=True) as client:
        found = client.read_deployment_by_name(deployment)
        pool = found.work_pool_name
        try:
            queue = client.read_work_queue_by_name(URGENT_QUEUE, work_pool_name=pool)
        except ObjectNotFound:
            client.create_work_queue(name=URGENT_QUEUE, work_pool_name=pool, priority=1)
            done.append(f"created work queue {URGENT_QUEUE!r} in {pool!r}, priority 1")
        else:
            if queue.priority != 1:  # made by a run that named it first: last in priority
                client.update_work_queue(queue.id, priority=1)
            done.append(f"work queue {URGENT_QUEUE!r} in {pool!r} has priority 1")
        routine = client.read_work_queue_by_name(found.work_queue_name or "default", work_pool_name=pool)
        if routine.concurrency_limit != routine_slots:
            client.update_work_queue(routine.id, concurrency_limit=routine_slots)
        limit = "no limit" if routine_slots is None else f"at most {routine_slots} runs at once"
        done.append(f"work queue {routine.name!r} in {pool!r}: {limit}")
    return done


def main() -> None:
    for line in ensure_queues(Settings.from_env().deployment, routine_slots_from_env()):
        print(line)
    heartbeat = int(os.environ.get("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", "180"))
    flow_name = Settings.from_env().deployment.split("/")[0]  # the flow the dispatcher revives
    wanted = zombie_automation(timedelta(seconds=int(heartbeat * 2.5)), flow_name)
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
