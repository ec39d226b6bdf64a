"""The dispatcher's talk with Prefect: start runs by deployment name, resume them, revive crashed ones.

Prefect is imported inside the functions: `python -m dispatch --help` and the tests of the claim
logic need none of it. One Prefect client serves the whole process (`client()`): a client per
row cost a CSRF-token request (a 422 on a server without CSRF protection) and a new connection
each time, and a start by name one more look-up of the deployment, which is remembered instead.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

from models.config import URGENT_QUEUE, Settings
from models.homecare.schedule import request_key
from models.outbox import Outbox
from models.times import INDIA

log = logging.getLogger("control_room.dispatch")

REVIVED = "Control Room: "  # the start of the message of every state the dispatcher sets
REVIVE_LIMIT = 5  # revivals in a row: a run that crashes this often has a fault retrying will not mend
# A worker marks a run Pending as it takes it and the run's process marks it Running: a run Pending
# this long lost its worker in between (killed, its machine gone), which no heartbeat will show.
STUCK_PENDING = timedelta(minutes=2)
# A run Running this long lost its process too, if the zombie automation (flows/automations.py) missed
# it: one execution of the complaint flow replays its steps and runs one or two (a step's retries take
# about a minute), then suspends or ends. Reviving a run that was only slow is safe: its steps skip
# what they finished and claim each message before sending it.
STUCK_RUNNING = timedelta(minutes=6)
# A run Suspended this long without its input schema lost its process before it could save it.
SCHEMA_GRACE = timedelta(seconds=20)


_clients: dict[str, Any] = {}  # this process's Prefect client, by API URL
_deployments: dict[tuple[str, str], Any] = {}  # (API URL, "flow/deployment") -> the deployment's id


@contextmanager
def failing_fast() -> Iterator[None]:
    """Within it (the dispatcher's thread), Prefect's client tries a call twice, not six times.

    Once connected, the client retries a refused connection or a 503 five times with growing waits,
    ~60 s in all: the dispatcher would block that long on a Prefect that is down before it recorded
    the outage on its rows, which retry by themselves (dispatch/loop.py). Prefect's settings are a
    context variable: the worker's event loop, in the same process, keeps its own retries.
    """
    from prefect.settings import PREFECT_CLIENT_MAX_RETRIES, temporary_settings

    with temporary_settings(updates={PREFECT_CLIENT_MAX_RETRIES: 1}):
        yield


def client() -> Any:
    """This process's Prefect client (sync), made on first use; the dispatcher is one thread."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL

    url = str(PREFECT_API_URL.value())
    if url not in _clients:
        made = get_client(sync_client=True)
        made.__enter__()
        _clients[url] = made
    return _clients[url]


def create_run(deployment: str, parameters: dict[str, Any], key: str, tags: list[str], **options: Any) -> Any:
    """A run of `deployment` ("flow/deployment"), as run_deployment(timeout=0) makes it, on
    this process's client: the same key returns the run made the first time.

    :raise ObjectNotFound: no such deployment.
    """
    from prefect.exceptions import ObjectNotFound
    from prefect.states import Scheduled

    api = client()
    cached = (str(api.api_url), deployment)

    def create() -> Any:
        if cached not in _deployments:
            _deployments[cached] = api.read_deployment_by_name(deployment).id
        return api.create_flow_run_from_deployment(
            _deployments[cached],
            parameters=parameters,
            state=Scheduled(),
            idempotency_key=key,
            tags=tags,
            **options,
        )

    try:
        return create()
    except ObjectNotFound:  # deployed again under a new id since it was looked up: look it up again
        _deployments.pop(cached, None)
        return create()


def stuck(state: Any, now: datetime | None = None) -> bool:
    """Whether a run in `state` has lost its process: Pending or Running far too long."""
    from prefect.client.schemas.objects import StateType

    age = (now or datetime.now(UTC)) - state.timestamp
    if state.type == StateType.PENDING:
        return bool(age > STUCK_PENDING)
    return bool(state.type == StateType.RUNNING and age > STUCK_RUNNING)


class NotReady(Exception):
    """The run is not yet where this row expects it; try again shortly."""


class NeverContinues(Exception):
    """Prefect says the run will not go on (cancelled, ended, missing, crashed too often): park the row."""


def start_case(row: Outbox, settings: Settings, urgent: bool = False) -> str:
    """Start the case's run (or its next run: a reopened or restarted case); return the run's id.

    An urgent case's run (an emergency's too) goes to the pool's urgent queue, which workers take
    from first (flows/automations.URGENT_QUEUE): at its start and at each resume, before routine runs.
    """
    number = row.payload["case_number"]
    parameters: dict[str, Any] = {
        "case_id": row.case_id,
        "case_number": number,
        "event_id": row.payload["event_id"],
    }
    first = int(row.payload.get("first_decision", 0))
    if first:  # a closed case reopened, or a case restarted at its current step
        parameters["first_decision"] = first
    key = f"case-{number}" + (f"-from-{first}" if first else "")
    if row.kind == "restart":
        parameters |= {"step": row.payload["step"], "restart": True}
        key = f"case-{number}-restart-{row.id}"
    flow_run = create_run(
        settings.deployment,
        parameters,
        # The key makes a repeated start (a retry after a lost reply) return the same run.
        key,
        [f"case:{number}"],
        name=number,
        **({"work_queue_name": URGENT_QUEUE} if urgent else {}),
    )
    return str(flow_run.id)


def other_run(row: Outbox, settings: Settings, now: datetime) -> tuple[str, dict[str, Any], str] | None:
    """The deployment, parameters and idempotency key of a row that is not a case's; None: start nothing."""
    if row.kind == "follow-up-list":  # a person's "Make today's list now" (models/homecare/schedule.py)
        day, slot = row.payload["day"], row.payload["slot"]
        if day != now.astimezone(INDIA).date().isoformat():
            return None  # asked for on a day that is over (Prefect was down): nobody would see that list
        key = request_key(date.fromisoformat(day), slot)  # the row's own: two rows never start two runs
        return settings.follow_up_deployment, {"slot": slot, "day": day}, key
    if row.kind == "advisory":
        advisory_id = int(row.payload["advisory_id"])
        return settings.advisory_deployment, {"advisory_id": advisory_id}, f"advisory-{advisory_id}"
    return settings.retries_deployment, {}, f"retries-{row.id}"  # "retries": a person's Send again


def start_other(row: Outbox, settings: Settings) -> str:
    """Start an advisory's run, a follow-up list asked for now, or the message retries; say what was done."""
    target = other_run(row, settings, datetime.now(UTC))
    if target is None:
        return f"not started: {row.kind} {row.payload} is of a day that is over"
    name, parameters, key = target
    # As for a case: a repeated start returns the run made the first time.
    flow_run = create_run(name, parameters, key, [row.kind])
    return f"{row.kind} run {flow_run.id}"


def resume(flow_run_id: str | None, row: Outbox) -> str:
    """Resume the run waiting at the row's pause key with its decision.

    :raise NotReady: the run is not yet waiting there. :raise NeverContinues: it never will.
    """
    from prefect.client.schemas.objects import StateType
    from prefect.client.schemas.responses import SetStateStatus
    from prefect.exceptions import ObjectNotFound

    if not flow_run_id:
        raise NotReady("the run has not been created yet")
    api = client()
    try:
        run = api.read_flow_run(flow_run_id)  # type: ignore[arg-type]
    except ObjectNotFound:
        raise NeverContinues(f"Prefect has no run {flow_run_id}") from None
    state = run.state
    seen = set(run.empirical_policy.pause_keys or ())
    if state is not None and state.is_paused() and state.state_details.pause_key == row.pause_key:
        result = api.resume_flow_run(run.id, run_input=row.payload)
        if result.status != SetStateStatus.ACCEPT and restore_schema(api, run.id, state):
            result = api.resume_flow_run(run.id, run_input=row.payload)
        if result.status != SetStateStatus.ACCEPT:
            raise NotReady(f"resume not accepted: {result.details}")
        return "resumed"
    kind = state.type if state is not None else None
    # Before the pause keys: a run reaches a key when it suspends there, so a run cancelled
    # or crashed while it waited has "seen" the key this decision was never delivered to.
    if kind in (StateType.CANCELLED, StateType.CANCELLING):
        raise NeverContinues(f"the run was cancelled in Prefect ({state.name if state else ''})")
    if kind in (StateType.CRASHED, StateType.FAILED) or (state is not None and stuck(state)):
        raise NotReady(f"run was {state.name if state else ''}; {revive(api, run.id)}")
    if row.pause_key in seen:
        return "already resumed"  # a reply lost after an earlier resume; the run went on
    if kind == StateType.COMPLETED:
        raise NeverContinues(f"the run had already ended before {row.pause_key}")
    raise NotReady(f"run is {state.name if state else 'unknown'}, not yet waiting at {row.pause_key}")


def restore_schema(api: Any, run_id: Any, state: Any) -> bool:
    """Save the input schema of a run that died between suspending and saving it; true if it did.

    Prefect's suspend sets the Suspended state first and saves the schema of the input it waits
    for after: a process killed in between (its worker's machine died) leaves a run that refuses
    every resume ("Run input schema not found"). The schema saved here lets the decision through;
    the flow validates the decision itself as it loads it (flows/complaint.Decision). Not before the
    run has been Suspended for SCHEMA_GRACE: a run whose process lives saves its own a moment after
    the state, and a schema saved first would make its save fail.
    """
    import httpx

    keyset = state.state_details.run_input_keyset
    if not keyset or datetime.now(UTC) - state.timestamp < SCHEMA_GRACE:
        return False  # a live process saves it a moment after the state: the resume is tried again
    try:
        api.read_flow_run_input(run_id, keyset["schema"])
        return False  # the schema is there: the resume was refused for another reason
    except httpx.HTTPStatusError as exc:
        if exc.response.status_code != 404:
            raise
    api.create_flow_run_input(run_id, key=keyset["schema"], value=json.dumps({"type": "object"}))
    log.warning(
        "run %s had no input schema at %s (its process died as it suspended); saved one",
        run_id,
        keyset["schema"],
    )
    return True


def revive(client: Any, run_id: Any, force: bool = False) -> str:
    """Bring a crashed or failed run back; say how.

    Crashed while waiting on a person (Prefect's zombie automation can mistake a run
    that has just suspended for a dead one, when its start-up heartbeat reaches the
    server after its suspension): put the same suspension back, so the decision can
    resume it. Crashed or failed while running: Prefect's own "Retry", the run replays
    from the top on a worker, completed tasks and suspends from their stored results.

    :raise NeverContinues: it crashed REVIVE_LIMIT times in a row (unless `force`: a person said so).
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
    if tries >= REVIVE_LIMIT and not force:
        raise NeverContinues(f"the run crashed or failed {tries + 1} times in a row")
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


def crashed_runs(settings: Settings, limit: int = 200) -> list[str]:
    """Ids of the complaint flow's runs Prefect holds as crashed, or Pending or Running since their
    process died (stuck)."""
    from prefect.client.schemas.filters import (
        FlowFilter,
        FlowFilterName,
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    flow_name = settings.deployment.split("/")[0]
    runs = client().read_flow_runs(
        flow_filter=FlowFilter(name=FlowFilterName(any_=[flow_name])),
        flow_run_filter=FlowRunFilter(
            state=FlowRunFilterState(
                type=FlowRunFilterStateType(any_=[StateType.CRASHED, StateType.PENDING, StateType.RUNNING])
            )
        ),
        limit=limit,
    )
    return [
        str(run.id)
        for run in runs
        if run.state is not None and (run.state.type == StateType.CRASHED or stuck(run.state))
    ]


def revive_run(flow_run_id: str, force: bool = False) -> str:
    """Revive one crashed run (see revive). :raise NeverContinues: as revive, or no such run."""
    from prefect.exceptions import ObjectNotFound

    try:
        return revive(client(), flow_run_id, force)
    except ObjectNotFound:
        raise NeverContinues(f"Prefect has no run {flow_run_id}") from None
