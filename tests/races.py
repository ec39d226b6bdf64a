"""Races for tests: run calls at once in threads, and make them meet just before they write."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event

TIMEOUT = 30  # seconds: a race that hangs fails instead


def race(*calls: Callable[[], Any]) -> list[Any]:
    """Run each call in its own thread, all at once; return what each returned or raised."""
    outcomes: list[Any] = [None] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        try:
            outcomes[index] = call()
        except BaseException as exc:  # noqa: BLE001 - handed to the test's assertions
            outcomes[index] = exc

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT * 2)
    assert not any(t.is_alive() for t in threads), "a racer hangs"
    return outcomes


@contextmanager
def meeting_before(engine: Engine, statement: str, parties: int = 2) -> Iterator[threading.Barrier]:
    """Each thread waits for the others at its first SQL statement starting with `statement`.

    So every racer has read (and found nothing to stop it) before any of them writes: the
    database's guard, not luck in the timing, decides which one wins.
    """
    barrier = threading.Barrier(parties, timeout=TIMEOUT)
    met = threading.local()

    def meet(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        if not getattr(met, "done", False) and sql.lstrip().upper().startswith(statement.upper()):
            met.done = True
            barrier.wait()

    event.listen(engine, "before_cursor_execute", meet)
    try:
        yield barrier
    finally:
        event.remove(engine, "before_cursor_execute", meet)
