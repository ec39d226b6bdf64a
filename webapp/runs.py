"""The one module of the web app that reads Prefect: a case's run history, for the Collector's timeline,
and Prefect's health and its workers, for the admin's health page.

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
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from models.cases.tables import Case
from models.config import Settings
from models.messages import Delivery
from models.times import aware as as_utc

READERS = 4  # Prefect reads in flight at once, per web process: a hung server ties up no more threads
WORK_POOL = "control-room"  # the work pool of prefect.yaml, whose workers run the flows
T = TypeVar("T")

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
    gone: bool = False  # Prefect no longer has the run: pruned after its retention period (flows/prune.py)


@dataclass
class Worker:
    """A worker of the work pool, as Prefect sees it from its heartbeats."""

    name: str
    status: str  # Prefect's WorkerStatus: "ONLINE" or "OFFLINE"
    last_heartbeat: datetime | None


@dataclass
class EngineHealth:
    """Prefect's API server and the work pool's workers; `error` set when Prefect did not answer."""

    workers: list[Worker] = field(default_factory=list)
    pool_found: bool = True  # False: the server answered, but it has no work pool WORK_POOL
    error: str = ""


def run_history(flow_run_id: str | None, settings: Settings) -> RunHistory | None:
    """Read the run's state history and task runs; None if no run yet, error set if unreachable or slow.

    Call it holding no database connection: it may wait the whole `prefect_read_timeout`.
    """
    if not flow_run_id:
        return None
    url = f"{settings.prefect_ui_url}/runs/flow-run/{flow_run_id}"
    deadline = settings.prefect_read_timeout
    import prefect.client.orchestration  # noqa: F401 - here, so a first import does not eat the deadline

    try:
        return _in_time(_read, settings, flow_run_id, url, settings)
    except Busy:
        return RunHistory(flow_run_id, "", "", url, error="the earlier reads are still waiting for Prefect")
    except TimeoutError:  # concurrent.futures.TimeoutError is this one since Python 3.11
        return RunHistory(flow_run_id, "", "", url, error=f"no answer within {deadline:g} s")
    except Exception as exc:  # noqa: BLE001 - show the rest of the timeline without it
        from prefect.exceptions import ObjectNotFound

        if isinstance(exc, ObjectNotFound):
            return RunHistory(flow_run_id, "", "", url, gone=True)
        return RunHistory(flow_run_id, "", "", url, error=_reason(exc))


def engine_health(settings: Settings) -> EngineHealth:
    """Whether Prefect's API server answers its health check, and the workers of the work pool.

    Answers within `prefect_read_timeout` whatever Prefect does; `error` says why when it did not
    answer. Call it holding no database connection.
    """
    import prefect.client.orchestration  # noqa: F401 - here, so a first import does not eat the deadline

    try:
        return _in_time(_read_engine, settings, settings)
    except Busy:
        return EngineHealth(error="the earlier reads are still waiting for Prefect")
    except TimeoutError:
        return EngineHealth(error=f"no answer within {settings.prefect_read_timeout:g} s")
    except Exception as exc:  # noqa: BLE001 - the page shows the rest without it
        return EngineHealth(error=_reason(exc))


class Busy(Exception):
    """Every reader thread is still waiting for Prefect: a new read would only queue behind them."""


def _in_time(read: Callable[..., T], settings: Settings, *args: Any) -> T:
    """read(*args) on a reader thread; wait for it at most `prefect_read_timeout` seconds.

    :raise Busy: every reader is taken. :raise TimeoutError: no answer in time. Else what read raised.
    """
    if not _slots.acquire(blocking=False):
        raise Busy
    try:
        future = _readers().submit(read, *args)
    except BaseException:
        _slots.release()
        raise
    # The slot stays taken until the read itself ends, not when this page stops waiting for it.
    future.add_done_callback(_free_slot)
    return future.result(timeout=settings.prefect_read_timeout)


def _reason(exc: Exception) -> str:
    # Prefect's ObjectNotFound (a run it no longer has) reads "None".
    return str(exc) if str(exc) not in {"", "None"} else type(exc).__name__


def _free_slot(_future: Future[Any]) -> None:
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
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with _client(settings) as client:
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


def _read_engine(settings: Settings) -> EngineHealth:
    """Prefect's health check, then the work pool's workers: one try each, `prefect_read_timeout` each."""
    from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError

    with _client(settings) as client:
        failed = client.api_healthcheck()  # GET /health; returns what it raised
        if failed is not None:
            raise failed
        try:
            workers = client.read_workers_for_work_pool(WORK_POOL)
        except ObjectNotFound:
            return EngineHealth(pool_found=False)
        except PrefectHTTPStatusError as exc:  # this client passes the server's 404 on as it came
            if exc.response.status_code == 404:
                return EngineHealth(pool_found=False)
            raise
    return EngineHealth(
        workers=[
            Worker(name=w.name, status=w.status.value, last_heartbeat=w.last_heartbeat_time)
            for w in sorted(workers, key=lambda w: w.name)
        ]
    )


@contextmanager
def _client(settings: Settings) -> Iterator[Any]:
    """Prefect's sync client for `prefect_api_url`, with no retries and `prefect_read_timeout` per request."""
    import httpx
    from prefect.client.orchestration import get_client
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
        yield client


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
