"""The one module of the web app that reads Prefect: a case's run history, for the Collector's timeline.

The web app never starts or resumes a run itself: a form handler writes its decision and an
outbox row, and the dispatcher (dispatch/) hands the row to Prefect. Prefect is imported lazily:
pages that never show a run do not pay for the import.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from models.cases.tables import Case
from models.config import Settings
from models.messages import Delivery
from models.times import aware as as_utc


@dataclass
class RunHistory:
    """What Prefect knows of a case's run, for the Collector's timeline."""

    id: str
    name: str
    state: str
    url: str
    states: list[dict[str, Any]] = field(default_factory=list)
    tasks: list[dict[str, Any]] = field(default_factory=list)
    error: str = ""


def run_history(flow_run_id: str | None, settings: Settings | None = None) -> RunHistory | None:
    """Read the run's state history and task runs; None if no run yet, error set if unreachable."""
    if not flow_run_id:
        return None
    settings = settings or Settings.from_env()
    url = f"{settings.prefect_ui_url}/runs/flow-run/{flow_run_id}"
    try:
        from prefect.client.orchestration import get_client
        from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

        with get_client(sync_client=True) as client:
            run = client.read_flow_run(flow_run_id)  # type: ignore[arg-type]
            states = client.read_flow_run_states(flow_run_id)  # type: ignore[arg-type]
            tasks = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run.id])))
    except Exception as exc:  # noqa: BLE001 - show the rest of the timeline without it
        return RunHistory(id=flow_run_id, name="", state="", url=url, error=str(exc) or type(exc).__name__)
    return RunHistory(
        id=flow_run_id,
        name=run.name,
        state=run.state.name if run.state else "",
        url=url,
        states=[{"at": s.timestamp, "name": s.name, "message": s.message or ""} for s in states],
        tasks=[
            {
                "at": t.start_time or t.expected_start_time,
                "name": t.name,
                "state": t.state.name if t.state else "",
            }
            for t in tasks
        ],
    )


def merge_timeline(
    case: Case, deliveries: list[Delivery] | Any, run: RunHistory | None
) -> list[dict[str, Any]]:
    """Case events, deliveries and Prefect states/tasks in time order."""

    def aware(at: datetime | None) -> datetime:
        return as_utc(at) if at is not None else datetime.min.replace(tzinfo=UTC)

    entries: list[dict[str, Any]] = []
    for event in case.events:
        entries.append({"at": aware(event.created_at), "source": "case", "event": event})
    for delivery in deliveries:
        entries.append(
            {"at": aware(delivery.sent_at or delivery.created_at), "source": "delivery", "delivery": delivery}
        )
    if run is not None:
        for state in run.states:
            entries.append({"at": aware(state["at"]), "source": "state", **state})
        for task in run.tasks:
            entries.append({"at": aware(task["at"]), "source": "task", **task})
    entries.sort(key=lambda e: e["at"])
    return entries
