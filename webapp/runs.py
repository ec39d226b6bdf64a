"""The one module of the web app that talks to Prefect.

The app database is the system of record. Form handlers write a decision and an
outbox row in one transaction; the dispatcher below hands each row to Prefect
(start the case's run by deployment name, or resume it with the decision) and
retries until Prefect accepts, one row at a time so a busy server is not flooded.
Prefect is imported lazily: pages that never touch it do not pay for the import.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from models.cases.tables import Case
from models.config import Settings
from models.db import get_sessionmaker
from models.messages import Delivery
from models.outbox import Outbox
from models.times import aware as as_utc

log = logging.getLogger("control_room.dispatcher")
BATCH = 50


class NotReady(Exception):
    """The run is not yet waiting at the step this row answers; try again shortly."""


def _start(session: Session, row: Outbox, settings: Settings) -> None:
    from prefect.deployments import run_deployment

    number = row.payload["case_number"]
    parameters = {"case_id": row.case_id, "case_number": number, "event_id": row.payload["event_id"]}
    first = int(row.payload.get("first_decision", 0))
    if first:  # a closed case reopened: its next run
        parameters["first_decision"] = first
    flow_run = run_deployment(
        name=settings.deployment,
        parameters=parameters,
        timeout=0,
        # The key makes a repeated start (a retry after a lost reply) return the same run.
        idempotency_key=f"case-{number}" + (f"-from-{first}" if first else ""),
        flow_run_name=number,
        tags=[f"case:{number}"],
        as_subflow=False,
    )
    session.execute(update(Case).where(Case.id == row.case_id).values(flow_run_id=str(flow_run.id)))


def _start_advisory(session: Session, row: Outbox, settings: Settings) -> str:
    from prefect.deployments import run_deployment

    advisory_id = int(row.payload["advisory_id"])
    flow_run = run_deployment(
        name=settings.advisory_deployment,
        parameters={"advisory_id": advisory_id},
        timeout=0,
        # As for a case: a repeated start returns the run made the first time.
        idempotency_key=f"advisory-{advisory_id}",
        tags=["advisory"],
        as_subflow=False,
    )
    return f"advisory run {flow_run.id}"


def _resume(session: Session, row: Outbox) -> str:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.objects import StateType
    from prefect.client.schemas.responses import SetStateStatus

    case = session.get_one(Case, row.case_id)
    if not case.flow_run_id:
        raise NotReady("the run has not been created yet")
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(case.flow_run_id)  # type: ignore[arg-type]
        state = run.state
        seen = set(run.empirical_policy.pause_keys or ())
        if state is not None and state.is_paused() and state.state_details.pause_key == row.pause_key:
            result = client.resume_flow_run(run.id, run_input=row.payload)
            if result.status != SetStateStatus.ACCEPT:
                raise NotReady(f"resume not accepted: {result.details}")
            return "resumed"
        if row.pause_key in seen:
            return "already resumed"  # a reply lost after an earlier resume
        if state is not None and state.type in (StateType.CRASHED, StateType.FAILED):
            raise NotReady(f"run was {state.type.value}; {_revive(client, run.id)}")
        raise NotReady(f"run is {state.name if state else 'unknown'}, not yet waiting at {row.pause_key}")


def dispatch_once(factory: sessionmaker, settings: Settings) -> int:  # type: ignore[type-arg]
    """Hand pending outbox rows to Prefect, oldest first, one per case at a time. Return how many."""
    now = datetime.now(UTC)
    handed = 0
    with factory() as session:
        rows = session.scalars(
            select(Outbox).where(Outbox.done_at.is_(None)).order_by(Outbox.id).limit(BATCH)
        ).all()
        cases_seen: set[int] = set()
        for row in rows:
            if row.case_id is not None:  # an advisory is no case's: it goes in any order
                if row.case_id in cases_seen:
                    continue  # a case's rows go in order: the start before its resumes
                cases_seen.add(row.case_id)
            if row.next_attempt_at > now:
                continue
            try:
                if row.kind == "advisory":
                    outcome: str | None = _start_advisory(session, row, settings)
                else:
                    outcome = _start(session, row, settings) if row.kind == "start" else _resume(session, row)
            except NotReady as exc:
                _retry_later(row, str(exc), seconds=min(5.0, 0.25 * (row.attempts + 1)))
                session.commit()
                continue
            except Exception as exc:  # noqa: BLE001 - the server is down or refusing: back off
                _retry_later(
                    row, f"{type(exc).__name__}: {exc}", seconds=min(30.0, 2.0 ** min(row.attempts, 5))
                )
                session.commit()
                log.warning("outbox %s for case %s: %s", row.id, row.case_id, exc)
                break  # do not hammer a server that is down with every row
            row.done_at = datetime.now(UTC)
            row.attempts += 1
            row.last_error = ""
            session.commit()
            handed += 1
            log.info("outbox %s (%s, case %s): %s", row.id, row.kind, row.case_id, outcome or "started")
    return handed


def _retry_later(row: Outbox, error: str, seconds: float) -> None:
    row.attempts += 1
    row.last_error = error[:2000]
    row.next_attempt_at = datetime.now(UTC) + timedelta(seconds=seconds)


REVIVED = "Control Room: "  # the start of the message of every state the dispatcher sets
REVIVE_LIMIT = 5  # revivals in a row: a run that crashes this often has a fault retrying will not mend
WATCH_EVERY = 15.0  # seconds between looks for crashed runs


def _revive(client: Any, run_id: Any) -> str:
    """Bring a crashed or failed run back; say how.

    Crashed while waiting on a person (Prefect's zombie automation can mistake a run
    that has just suspended for a dead one, when its start-up heartbeat reaches the
    server after its suspension): put the same suspension back, so the decision can
    resume it. Crashed or failed while running: Prefect's own "Retry", the run replays
    from the top on a worker, completed tasks and suspends from their stored results.
    """
    from prefect.client.schemas.objects import StateType
    from prefect.states import Scheduled

    states = sorted(client.read_flow_run_states(run_id), key=lambda s: s.timestamp)
    tries = 0  # revivals since the run last suspended by itself
    for state in reversed(states):
        if (state.message or "").startswith(REVIVED):
            tries += 1
        elif state.type == StateType.PAUSED:
            break
    if tries >= REVIVE_LIMIT:
        log.error("run %s crashed or failed %d times; left as it is", run_id, tries + 1)
        return f"left as it is after {tries} revivals"
    before = states[-2] if len(states) > 1 else None
    if before is not None and before.type == StateType.PAUSED:
        key = before.state_details.pause_key
        again = before.fresh_copy()
        again.message = f"{REVIVED}waiting again at {key} after a false crash"
        client.set_flow_run_state(run_id, again, force=True)
        log.warning("run %s was marked crashed while waiting at %s; put it back", run_id, key)
        return f"put back to wait at {key}"
    client.set_flow_run_state(run_id, Scheduled(message=f"{REVIVED}rescheduled after a crash"), force=True)
    log.warning("run %s had crashed or failed; rescheduled it (%d)", run_id, tries + 1)
    return "rescheduled it"


def revive_crashed(factory: sessionmaker, settings: Settings) -> int:  # type: ignore[type-arg]
    """Bring back the crashed runs of cases (see _revive); return how many.

    A run crashes when its worker cannot submit it (Prefect on SQLite answers 503
    under a burst of new runs), when its worker dies mid-step, or falsely while it
    waits (flows/automations.py). The case is safe in the app database either way, but
    its notifications would wait for the next decision.
    """
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowFilter,
        FlowFilterName,
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    flow_name = settings.deployment.split("/")[0]
    with get_client(sync_client=True) as client:
        crashed = client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=[flow_name])),
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.CRASHED]))
            ),
            limit=200,
        )
        if not crashed:
            return 0
        with factory() as session:
            # A closed case's run too: it may have crashed before the closing notice went out.
            ours = set(
                session.scalars(
                    select(Case.flow_run_id).where(Case.flow_run_id.in_([str(run.id) for run in crashed]))
                )
            )
        revived = 0
        for run in crashed:
            if str(run.id) in ours:
                _revive(client, run.id)
                revived += 1
    return revived


def run_dispatcher(settings: Settings, stop_after: float | None = None) -> None:
    """Dispatch until interrupted (or for stop_after seconds); look for crashed runs now and then."""
    factory = get_sessionmaker(settings.database_url)
    deadline = time.monotonic() + stop_after if stop_after else None
    log.info("dispatcher started (every %.2fs)", settings.dispatch_interval)
    next_watch = time.monotonic() + WATCH_EVERY
    while deadline is None or time.monotonic() < deadline:
        if time.monotonic() >= next_watch:
            next_watch = time.monotonic() + WATCH_EVERY
            try:
                revive_crashed(factory, settings)
            except Exception as exc:  # noqa: BLE001 - Prefect down: look again later
                log.warning("could not look for crashed runs: %s", exc)
        if dispatch_once(factory, settings) == 0:
            time.sleep(settings.dispatch_interval)


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
