"""Dates and times on the pages, in the reader's language: the Jinja filters over models/times."""

from __future__ import annotations

from datetime import date, datetime

from flask import Flask
from flask_babel import get_locale

from models import times


def language() -> str:
    """The reader's language code ("en" or "hi")."""
    locale = get_locale()
    return locale.language if locale is not None else "en"


def when(moment: datetime | None, seconds: bool = False) -> str:
    """29/11/2026, 10:10 pm (Hindi: 22:10), India time; "" for no moment."""
    return "" if moment is None else times.when(moment, language(), seconds)


def day(value: date | None) -> str:
    """29/11/2026 (a moment gives its India date); "" for no date."""
    return "" if value is None else times.day(value)


def clock(moment: datetime | None, seconds: bool = False) -> str:
    """10:10 pm (Hindi: 22:10), India time; "" for no moment."""
    return "" if moment is None else times.clock(moment, language(), seconds)


def short_day(value: date, weekday: bool = False) -> str:
    """29/11, or "Sun 29/11" (Hindi "रवि 29/11") with its weekday, for a chart's axis."""
    return times.short_day(value, language(), weekday)


def register(app: Flask) -> None:
    """The filters |when, |day and |clock, after Flask-Babel's init_app.

    Flask-Babel's |datetimeformat and |dateformat are replaced by |when and |day too: a template
    still calling them (whatever pattern it passes) shows the same India style, never Babel's
    US-style "11/29/26, 10:10 PM".
    """
    app.jinja_env.filters.update(
        when=when,
        day=day,
        clock=clock,
        datetimeformat=lambda moment, _pattern=None: when(moment),
        dateformat=lambda value, _pattern=None: day(value),
    )
