"""Play flow-run events through Prefect's own trigger evaluation against the zombie automation.

`python -m tests.zombie_triggers` with PREFECT_HOME and PREFECT_API_DATABASE_CONNECTION_URL pointing
at a scratch folder (tests/test_automations.py runs it so): each scenario's events are evaluated in
each order they may arrive in (see arrivals), then the proactive evaluation runs once their window
is over. Prints {scenario: [firings per order]} as JSON.
No server, no worker: the server's triggers module and its database, with `act` recording firings.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from prefect.server.database import provide_database_interface
from prefect.server.events import triggers
from prefect.server.events.schemas.automations import Automation as ServerAutomation
from prefect.server.events.schemas.automations import Firing
from prefect.server.events.schemas.events import ReceivedEvent, RelatedResource, Resource
from prefect.types._datetime import now as prefect_now

from flows.automations import zombie_automation

WITHIN = timedelta(seconds=450)  # the default: 2.5 heartbeats of 180 s
FIRED: list[Firing] = []


async def record(firing: Firing) -> None:
    FIRED.append(firing)


def event(
    name: str, run: uuid.UUID, flow: str, occurred: datetime, follows: uuid.UUID | None = None
) -> ReceivedEvent:
    """A flow-run event as the server and the engine send it: the flow named among the related resources."""
    return ReceivedEvent(
        occurred=occurred,
        received=occurred,
        event=f"prefect.flow-run.{name}",
        resource=Resource({"prefect.resource.id": f"prefect.flow-run.{run}"}),
        related=[
            RelatedResource(
                {
                    "prefect.resource.id": f"prefect.flow.{uuid.uuid5(uuid.NAMESPACE_DNS, flow)}",
                    "prefect.resource.role": "flow",
                    "prefect.resource.name": flow,
                }
            )
        ],
        id=uuid.uuid4(),
        follows=follows,
    )


Steps = list[tuple[str, int]]  # event name, milliseconds after the run was Pending


def run_events(flow: str, steps: Steps) -> Callable[[datetime], list[ReceivedEvent]]:
    """One run's events; each state event follows the one before, as the server's do."""

    def build(start: datetime) -> list[ReceivedEvent]:
        run, previous, events = uuid.uuid4(), None, []
        for name, ms in steps:
            state = name != "heartbeat"
            made = event(name, run, flow, start + timedelta(milliseconds=ms), previous if state else None)
            previous = made.id if state else previous
            events.append(made)
        return events

    return build


SCENARIOS: dict[str, Callable[[datetime], list[ReceivedEvent]]] = {
    # Its machine died after the first heartbeat: nothing more will come.
    "silent complaint run": run_events(
        "complaint-lifecycle", [("Pending", 0), ("Running", 100), ("heartbeat", 130)]
    ),
    "complaint run that suspended": run_events(
        "complaint-lifecycle", [("Pending", 0), ("Running", 100), ("heartbeat", 130), ("Suspended", 400)]
    ),
    "complaint run that completed": run_events(
        "complaint-lifecycle", [("Pending", 0), ("Running", 100), ("heartbeat", 130), ("Completed", 400)]
    ),
    # A sweep with nothing to do ends before its heartbeat thread has sent the first heartbeat,
    # which then occurs after the run's Completed state.
    "sweep that completed before its heartbeat": run_events(
        "escalation-sweep", [("Pending", 0), ("Running", 100), ("Completed", 120), ("heartbeat", 150)]
    ),
}


async def firings(automation: ServerAutomation, events: list[ReceivedEvent]) -> int:
    """How often the automation fires once these events were evaluated in this order."""
    db = provide_database_interface()
    async with db.session_context(begin_transaction=True) as session:
        for table in (db.AutomationBucket, db.AutomationHeldEvent):
            await session.execute(table.__table__.delete())
    FIRED.clear()
    for item in events:
        await triggers.reactive_evaluation(item)
    for follower in await triggers.get_lost_followers():
        await triggers.reactive_evaluation(follower)
    # The events happened an hour ago: evaluate as of now, every window long over.
    await triggers.reset_events_clock()
    triggers.next_proactive_runs.clear()
    await triggers.evaluate_proactive_triggers()
    return len(FIRED)


async def main() -> dict[str, list[int]]:
    db = provide_database_interface()
    await db.create_db()
    wanted = zombie_automation(WITHIN, "complaint-lifecycle")
    automation = ServerAutomation.model_validate(
        {**wanted.model_dump(mode="json", exclude={"id"}), "id": str(uuid.uuid4())}
    )
    async with db.session_context(begin_transaction=True) as session:
        session.add(db.Automation(**automation.model_dump()))
    triggers.clear_loaded_automations()
    triggers.load_automation(automation)
    triggers.act = record  # type: ignore[assignment]
    start = prefect_now("UTC") - timedelta(hours=1)
    results: dict[str, list[int]] = {}
    for name, build in SCENARIOS.items():
        events = build(start)
        results[name] = [await firings(automation, order) for order in arrivals(events)]
    return results


def arrivals(events: list[ReceivedEvent]) -> list[list[ReceivedEvent]]:
    """The orders the server may evaluate a run's events in: its state events in order (each waits
    for the one it follows), the heartbeat, sent by the engine apart from them, anywhere between."""
    states = [e for e in events if e.event != "prefect.flow-run.heartbeat"]
    beats = [e for e in events if e.event == "prefect.flow-run.heartbeat"]
    return [states[:at] + beats + states[at:] for at in range(len(states) + 1)]


def report() -> dict[str, Any]:
    return asyncio.run(main())


if __name__ == "__main__":
    print(json.dumps(report()))
