"""`python -m dispatch --worker POOL`: a dispatcher and Prefect's process worker in one process.

On one machine the dispatcher and the worker each held Prefect's client and its ~1,100 modules
(~110 MB apiece, idle). Run together they hold them once: the worker's loops in this process's
event loop, as `prefect worker start --type process` runs them, and the dispatch loop in a thread
beside it with its own synchronous client. Nothing else changes: the dispatcher claims its rows in
the database, so more dispatchers (this kind or `python -m dispatch` alone) may run anywhere, and
the worker is an ordinary worker of the pool. Stopping the process stops both; a dispatcher cut off
mid-row loses nothing (its lease runs out and another takes the row). With --launcher the worker's
launch server is forked off this process after Prefect and the flows are imported, and shares those
pages with it (what scripts/start runs; the server stops with the process).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading

from dispatch import loop
from models.config import Settings

log = logging.getLogger("control_room.dispatch")
DISPATCHER = "dispatcher"  # the dispatch loop's thread


def run(settings: Settings, pool: str, limit: int | None, launcher: bool = False) -> None:
    """Dispatch in a thread and run the pool's process worker here until SIGINT or SIGTERM; with
    launcher, fork the worker's launch server off this process first (flows/launcher.py)."""
    from prefect.utilities.processutils import setup_signal_handlers_worker

    if launcher:  # before any thread starts: forking a process that runs other threads is unsafe
        from flows.launcher import fork_server, socket_path

        log.info("launch server %s forked on %s", fork_server(socket_path()), socket_path())
    # httpx logs each request at INFO: the dispatcher's, as alone; not the worker's poll every second.
    logging.getLogger("httpx").addFilter(lambda record: record.threadName == DISPATCHER)
    dispatcher = threading.Thread(target=_dispatch, args=(settings,), name=DISPATCHER, daemon=True)
    dispatcher.start()
    # As the CLI's worker does: the first SIGTERM or SIGINT stops taking runs, a second kills.
    setup_signal_handlers_worker(os.getpid(), "the process worker", print)
    try:
        asyncio.run(_work(pool, limit))
    except KeyboardInterrupt:
        pass


def _dispatch(settings: Settings) -> None:
    try:
        loop.run(settings)
    except BaseException:
        # The loop outlives any one failure; should it end, the process must not go on half-alive
        # (a worker without its dispatcher): stop it, and whatever restarts it brings both back.
        log.exception("the dispatch loop ended; stopping this process")
        os.kill(os.getpid(), signal.SIGTERM)


async def _work(pool: str, limit: int | None) -> None:
    from prefect.settings import PREFECT_WORKER_HEARTBEAT_SECONDS
    from prefect.workers.process import ProcessWorker

    worker = ProcessWorker(
        work_pool_name=pool,
        limit=limit,
        heartbeat_interval_seconds=int(PREFECT_WORKER_HEARTBEAT_SECONDS.value()),
    )
    await worker.start()
