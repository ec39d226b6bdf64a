"""The one module of the web app that reads Prefect: a case's run history, for the Collector's timeline.

The web app never starts or resumes a run itself: a form handler writes its decision and an
outbox row, and the dispatcher (dispatch/) hands the row to Prefect. Prefect is imported lazily:
pages that never show a run do not pay for the import.

Prefect may be down or hung; a page must not wait on it. Each read runs on one of a few reader
threads and the page waits for it at most `Settings.prefect_read_timeout` seconds; a read has
that same timeout on every request and is never retried, so a reader thread is soon free again.
When every reader is still busy with a hung server, a page does not queue behind them.
"""

from __future__ import annotations

import ssl
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from models.cases.tables import Case
from models.config import Settings
from models.messages import Delivery
from models.times import aware as as_utc

READERS = 4  # Prefect reads in flight at once, per web process: a hung server ties up no more threads

_slots = threading.BoundedSemaphore(READERS)
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


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
    state_type: str = ""  # Prefect's StateType of `state` (COMPLETED, ...), for names it adds later


def run_history(flow_run_id: str | None, settings: Settings) -> RunHistory | None:
    """Read the run's state history and task runs; None if no run yet, error set if unreachable or slow.

    Call it holding no database connection: it may wait the whole `prefect_read_timeout`.
    """
    if not flow_run_id:
        return None
    url = f"{settings.prefect_ui_url}/runs/flow-run/{flow_run_id}"
    deadline = settings.prefect_read_timeout
    import prefect.client.orchestration  # noqa: F401 - here, so a first import does not eat the deadline

    if not _slots.acquire(blocking=False):
        return RunHistory(flow_run_id, "", "", url, error="the earlier reads are still waiting for Prefect")
    try:
        future = _readers().submit(_read, flow_run_id, url, settings)
    except BaseException:
        _slots.release()
        raise
    # The slot stays taken until the read itself ends, not when this page stops waiting for it.
    future.add_done_callback(_free_slot)
    try:
        return future.result(timeout=deadline)
    except TimeoutError:  # concurrent.futures.TimeoutError is this one since Python 3.11
        return RunHistory(flow_run_id, "", "", url, error=f"no answer within {deadline:g} s")
    except Exception as exc:  # noqa: BLE001 - show the rest of the timeline without it
        # Prefect's ObjectNotFound (a run it no longer has) reads "None".
        error = str(exc) if str(exc) not in {"", "None"} else type(exc).__name__
        return RunHistory(flow_run_id, "", "", url, error=error)


def _free_slot(_future: Future[RunHistory]) -> None:
    _slots.release()


def _readers() -> ThreadPoolExecutor:
    """The process's reader threads, started on first use (so not before a server forks its workers)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=READERS, thread_name_prefix="prefect-read")
        return _pool


def _read(flow_run_id: str, url: str, settings: Settings) -> RunHistory:
    """Ask Prefect for the run, its states and its task runs: one try each, `prefect_read_timeout` each."""
    import httpx
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.settings import PREFECT_API_URL, PREFECT_CLIENT_MAX_RETRIES, temporary_settings

    # Prefect's client retries a timeout 5 times with backoff (a hung server held a page over 45 s)
    # and httpcore retries a refused connection 3 times (1.5 s). Prefect's settings live in a
    # context variable, so this changes them for this thread only.
    no_retries = {PREFECT_API_URL: settings.prefect_api_url, PREFECT_CLIENT_MAX_RETRIES: 0}
    httpx_settings = {
        "timeout": httpx.Timeout(settings.prefect_read_timeout),
        "transport": httpx.HTTPTransport(retries=0, verify=_verify(settings.prefect_api_url)),
    }
    with temporary_settings(updates=no_retries), get_client(httpx_settings, sync_client=True) as client:
        run = client.read_flow_run(flow_run_id)  # type: ignore[arg-type]
        states = client.read_flow_run_states(flow_run_id)  # type: ignore[arg-type]
        tasks = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run.id])))
    return RunHistory(
        id=flow_run_id,
        name=run.name,
        state=run.state.name if run.state else "",
        url=url,
        states=[
            {"at": s.timestamp, "name": s.name, "type": s.type.value, "message": s.message or ""}
            for s in states
        ],
        tasks=[
            {
                "at": t.start_time or t.expected_start_time,
                "name": t.name,
                "state": t.state.name if t.state else "",
                "type": t.state.type.value if t.state else "",
            }
            for t in tasks
        ],
        state_type=run.state.type.value if run.state else "",
    )


def _verify(api_url: str) -> ssl.SSLContext | bool:
    """Prefect's own TLS settings, which a transport of our own would otherwise leave out."""
    if not api_url.startswith("https:"):
        return True  # unused over plain HTTP
    import certifi
    from prefect.settings import PREFECT_API_SSL_CERT_FILE, PREFECT_API_TLS_INSECURE_SKIP_VERIFY

    if PREFECT_API_TLS_INSECURE_SKIP_VERIFY.value():
        return False
    return ssl.create_default_context(cafile=PREFECT_API_SSL_CERT_FILE.value() or certifi.where())


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
