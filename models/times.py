"""Time: UTC in the database and aware in Python; India time only where a person reads it."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import DateTime, Dialect
from sqlalchemy.types import TypeDecorator

# The district's clock, for days and deadlines shown to people; everything stored is UTC.
INDIA = ZoneInfo("Asia/Kolkata")
# Every date a person enters (a form, a query string, a CSV cell) lies between these. The calendar
# itself runs from year 1 to 9999, but a day at either end cannot be moved to India time or have a
# week added (OverflowError), and none of the control room's work falls outside this range: such a
# year is a typo.
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2099, 12, 31)


class DayOutOfRange(ValueError):
    """A date a person entered outside FIRST_DAY..LAST_DAY."""

    def __init__(self, day: date) -> None:
        super().__init__(f"{day} is not between {FIRST_DAY} and {LAST_DAY}")
        self.day = day


def entered_day(day: date) -> date:
    """day, if a person may enter it (see FIRST_DAY). :raise DayOutOfRange: a year like 1 or 9999."""
    if not FIRST_DAY <= day <= LAST_DAY:
        raise DayOutOfRange(day)
    return day


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


# Shown to people: one style for every date and time the app, its mail and its SMS print.
# Day first and numeric, 29/11/2026, as Indian offices write it in both languages (and in the
# international digits that Hindi government text uses); never the US 11/29/26. The clock is India
# time. English takes 12 hours with a lower-case "pm" (10:10 pm), the way Indian English prints it;
# Hindi takes 24 hours (22:10), as railway timetables and government notices in Hindi do: it needs
# no पूर्वाह्न/अपराह्न, words a reader takes longer to read than the hour itself.
WEEKDAYS = {
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
    "hi": ("सोम", "मंगल", "बुध", "गुरु", "शुक्र", "शनि", "रवि"),
}


def day(value: date) -> str:
    """A date as 29/11/2026; a moment (a datetime) gives its India date."""
    if isinstance(value, datetime):
        value = india_day(value)
    return f"{value.day:02d}/{value.month:02d}/{value.year}"


def short_day(value: date, language: str = "en", weekday: bool = False) -> str:
    """A date without its year for a chart's axis: 29/11, or "Sun 29/11" with its weekday."""
    if isinstance(value, datetime):
        value = india_day(value)
    short = f"{value.day:02d}/{value.month:02d}"
    return f"{WEEKDAYS.get(language, WEEKDAYS['en'])[value.weekday()]} {short}" if weekday else short


def clock(moment: datetime, language: str = "en", seconds: bool = False) -> str:
    """A moment's India time: 10:10 pm in English, 22:10 in Hindi (with :11 seconds if asked)."""
    local = aware(moment).astimezone(INDIA)
    rest = f"{local.minute:02d}" + (f":{local.second:02d}" if seconds else "")
    if language == "hi":
        return f"{local.hour:02d}:{rest}"
    return f"{local.hour % 12 or 12}:{rest} {'am' if local.hour < 12 else 'pm'}"


def when(moment: datetime, language: str = "en", seconds: bool = False) -> str:
    """A moment as its India date and time: 29/11/2026, 10:10 pm (English), 29/11/2026, 22:10 (Hindi)."""
    return f"{day(moment)}, {clock(moment, language, seconds)}"
