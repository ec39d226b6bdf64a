"""Time: UTC in the database and aware in Python; India time only where a person reads it."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import DateTime, Dialect
from sqlalchemy.types import TypeDecorator

# The district's clock, for days and deadlines shown to people; everything stored is UTC.
INDIA = ZoneInfo("Asia/Kolkata")


def utcnow() -> datetime:
    return datetime.now(UTC)


def aware(moment: datetime) -> datetime:
    """A moment as an aware UTC datetime; a naive one is read as UTC (the way columns store it)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def from_india(typed: datetime) -> datetime:
    """A wall-clock time a person typed (India time, no zone) as an aware UTC datetime."""
    return typed.replace(tzinfo=INDIA).astimezone(UTC)


def db_time(moment: datetime) -> datetime:
    """A moment as the columns store it: UTC without a zone (SQLite keeps none)."""
    return aware(moment).replace(tzinfo=None)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp column: naive UTC in the database, aware UTC in Python.

    Written naive, so neither SQLite (which keeps no zone) nor psycopg (which would convert an
    aware value through the session's time zone) can shift it.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else db_time(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # SQLite returns aggregates (min, max) of a column as text
            value = datetime.fromisoformat(value)
        return aware(value)


def india_day(moment: datetime) -> date:
    """The India date of a moment."""
    return aware(moment).astimezone(INDIA).date()


def day_start(day: date) -> datetime:
    """Midnight at the start of an India date, in UTC."""
    return datetime.combine(day, time(), INDIA).astimezone(UTC)
