"""The shift handover, prepared at each shift's end (prefect.yaml: hourly, a minute past the hour)."""

from __future__ import annotations

from datetime import UTC, datetime

from prefect import flow

from models.config import Settings
from models.db import get_sessionmaker
from models.desk.handover import prepare, previous_shift


@flow(name="shift-handover", log_prints=True)
def shift_handover(now: datetime | None = None) -> int:
    """Freeze the figures of the shift that just ended into its handover (once, however many runs).

    Hourly, so shift starts on any whole hours (SHIFT_STARTS) are served: the run after a start makes
    the handover of the shift it ended, the others find it made.

    The page prepares it too when someone opens it first; either way there is one row per shift.
    Returns the handover's id.
    """
    moment = now or datetime.now(UTC)
    settings = Settings.from_env()
    with get_sessionmaker(settings.database_url).begin() as session:
        handover = prepare(session, previous_shift(moment, settings.shifts), moment)
        print(f"the handover of the shift from {handover.shift_start}: {handover.id}")  # log_prints
        return handover.id
