"""The control room's shifts: 8-hour blocks of India time. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from models.times import INDIA, aware

# When each shift starts, India time, in order: the default of the SHIFT_STARTS setting (a district's own).
SHIFT_STARTS: tuple[time, ...] = (time(0), time(8), time(16))


def parse_starts(text: str) -> tuple[time, ...]:
    """Shift starts written "06:00,14:00,22:00": whole hours, India time, at least one.

    :raise ValueError: a start is not a whole hour, or one is given twice.
    """
    starts = []
    for part in text.split(","):
        hours, _, minutes = part.strip().partition(":")
        if not (hours.isdigit() and minutes in ("00", "") and 0 <= int(hours) <= 23):
            raise ValueError(f"{part.strip()!r} is not a whole hour such as 08:00")
        starts.append(time(int(hours)))
    if len(set(starts)) != len(starts):
        raise ValueError("a shift start is given twice")
    return tuple(sorted(starts))


@dataclass(frozen=True)
class Shift:
    """One shift: [start, end), aware UTC."""

    start: datetime
    end: datetime


def current_shift(now: datetime, starts: tuple[time, ...] = SHIFT_STARTS) -> Shift:
    """The shift `now` falls in: from the latest start at or before it to the next start."""
    local = aware(now).astimezone(INDIA)
    today = local.date()
    moments = sorted(
        datetime.combine(today + timedelta(days=offset), start, INDIA)
        for offset in (-1, 0, 1)
        for start in starts
    )
    start = max(m for m in moments if m <= local)
    end = min(m for m in moments if m > local)
    return Shift(start.astimezone(UTC), end.astimezone(UTC))


def current_hour(now: datetime) -> datetime:
    """The start of `now`'s clock hour on India's clock (India is 5:30 ahead: not the UTC hour), in UTC."""
    local = aware(now).astimezone(INDIA)
    return local.replace(minute=0, second=0, microsecond=0).astimezone(UTC)
