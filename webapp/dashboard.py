"""The Collector's and the DM's dashboard: today and the last 10 days, each figure a link to its cases."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any

from babel.numbers import format_decimal as format_decimal_in
from flask import Blueprint, current_app, g, render_template, request, url_for
from flask_babel import format_percent, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from models.cases.lifecycle import State, Step
from models.outbox import parked_count
from models.oversight.acknowledgement import acknowledgement
from models.oversight.days import Day, overview
from models.oversight.feedback import feedback
from models.oversight.stats import (
    AGES,
    Pending,
    Tally,
    Window,
    WindowStats,
    age_range,
    call_counts,
    pending,
    window_stats,
)
from models.reference.tables import Block, Category, Role, User
from webapp.auth import roles_required
from webapp.dates import day, short_day, when
from webapp.db import get_session
from webapp.labels import ROLE_LABELS, STATE_LABELS, localized

bp = Blueprint("dashboard", __name__)

DAYS = 10  # the dashboard's longer window, ending today
PERIODS = {"today": 1, "recent": DAYS}
STEP_LABELS = {
    Step.dm: _l("Waiting for the DM"),
    Step.officer: _l("With the officer"),
    Step.callback: _l("Waiting for a call back to the caller"),
    Step.collector: _l("Waiting for the Collector"),
}
AGE_LABELS = {
    "1h": _l("under 1 hour"),
    "3h": _l("1 to 3 hours"),
    "6h": _l("3 to 6 hours"),
    "1d": _l("6 to 24 hours"),
    "older": _l("over a day"),
}
# Stacking order of the daily chart, bottom up: done first, then what still waits.
DAY_STATES = (
    State.closed,
    State.rejected,
    State.merged,
    State.resolved,
    State.callback,
    State.assigned,
    State.awaiting_assignment,
)


@dataclass(frozen=True)
class Figure:
    """A number and the list of cases behind it."""

    label: str
    text: str
    url: str | None  # None: there is no list of it (calls)


@dataclass(frozen=True)
class Bar:
    """A bar or a segment of one: its count, length as a share of the chart's longest, and its list."""

    label: str
    count: int
    percent: str  # CSS length, e.g. "42.5%"
    url: str
    css: str = ""


@dataclass(frozen=True)
class Row:
    """One bar of a chart: its total and its segments."""

    label: str
    total: Figure
    segments: list[Bar]
    note: Figure | None = None  # a figure beside the bar


@dataclass(frozen=True)
class Line:
    """One line of a breakdown table: a category, block or officer and its figures."""

    name: str
    cells: list[Figure]


def case_list(**params: Any) -> str:
    """The URL of the case list with these filters (names as the list reads them).

    Values are ids, ISO dates and state or step names, so nothing needs escaping; the page
    has hundreds of links, and url_for with a query for each cost more than the queries.
    """
    if "case_list" not in g:
        g.case_list = (
            url_for("caselist.index") if "caselist.index" in current_app.view_functions else "/cases"
        )
    query = "&".join(f"{k}={v}" for k, v in params.items() if v is not None and v != "")
    return f"{g.case_list}?{query}" if query else str(g.case_list)


@lru_cache(maxsize=4096)
def _number(value: int, locale: str) -> str:
    return format_decimal_in(value, locale=locale)


def number(value: int) -> str:
    """A count in the reader's locale (Hindi groups lakhs: 1,00,000)."""
    if "locale" not in g:
        g.locale = str(get_locale())
    return _number(value, g.locale)


def span(first: date, last: date) -> dict[str, str]:
    return {"from": first.isoformat(), "to": last.isoformat()}


def duration(value: timedelta | None) -> str:
    """A time to resolve in days, hours and minutes, the two largest units."""
    if value is None:
        return "–"
    minutes = int(value.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return _("%(days)d d %(hours)d h", days=days, hours=hours)
    if hours:
        return _("%(hours)d h %(minutes)d min", hours=hours, minutes=minutes)
    return _("%(minutes)d min", minutes=minutes)


def share(value: float | None) -> str:
    return "–" if value is None else format_percent(value)


def length(count: int, longest: int) -> str:
    return f"{100 * count / longest:.1f}%" if longest else "0%"


def headline(stats: WindowStats) -> list[Figure]:
    """The window's headline numbers."""
    cohort = span(stats.window.first, stats.window.last)
    t = stats.total
    return [
        Figure(_("Calls"), number(stats.calls), None),
        Figure(_("Complaints opened"), number(t.opened), case_list(**cohort)),
        Figure(_("Closed"), number(t.by_state[State.closed]), case_list(state="closed", **cohort)),
        Figure(_("Rejected"), number(t.by_state[State.rejected]), case_list(state="rejected", **cohort)),
        Figure(_("Merged"), number(t.by_state[State.merged]), case_list(state="merged", **cohort)),
        Figure(_("Overdue now"), number(t.overdue), case_list(overdue=1, **cohort)),
        Figure(_("Resolved within the limit"), share(t.within_share), case_list(**cohort)),
        Figure(_("Median time to resolve"), duration(t.median), case_list(**cohort)),
        Figure(_("90th percentile"), duration(t.p90), case_list(**cohort)),
    ]


def step_rows(open_now: Pending) -> list[Row]:
    """Open cases by the step they wait on, the overdue part of each as its own segment."""
    longest = max(open_now.by_step.values(), default=0)
    rows = []
    for step in Step:
        count, late = open_now.by_step[step], open_now.overdue[step]
        rows.append(
            Row(
                str(STEP_LABELS[step]),
                Figure(str(STEP_LABELS[step]), number(count), case_list(step=step.value)),
                [
                    Bar(
                        _("Overdue"),
                        late,
                        length(late, longest),
                        case_list(step=step.value, overdue=1),
                        "late",
                    ),
                    Bar(
                        _("Within the limit"),
                        count - late,
                        length(count - late, longest),
                        case_list(step=step.value),
                    ),
                ],
                note=Figure(
                    _("Overdue"),
                    _("%(count)s overdue", count=number(late)),
                    case_list(step=step.value, overdue=1),
                ),
            )
        )
    return rows


def age_rows(open_now: Pending, now: datetime) -> list[Row]:
    """Open cases by time since they were opened, each bar split by the step they wait on."""
    longest = max((sum(by.values()) for by in open_now.by_age.values()), default=0)
    rows = []
    for _bound, key in AGES:
        first, last = age_range(key, now)
        dates = {"from": first.isoformat() if first else None, "to": last.isoformat()}
        by = open_now.by_age[key]
        rows.append(
            Row(
                str(AGE_LABELS[key]),
                Figure(str(AGE_LABELS[key]), number(sum(by.values())), case_list(state="open", **dates)),
                [
                    Bar(
                        str(STEP_LABELS[s]),
                        by[s],
                        length(by[s], longest),
                        case_list(step=s.value, **dates),
                        s.value,
                    )
                    for s in Step
                ],
            )
        )
    return rows


def day_rows(days: list[Day]) -> list[Row]:
    """Complaints opened each day, stacked by where they stand now; calls beside them."""
    longest = max((d.opened for d in days), default=0)
    return [
        Row(
            short_day(d.day, weekday=True),
            Figure(short_day(d.day), number(d.opened), case_list(**span(d.day, d.day))),
            [
                Bar(
                    str(STATE_LABELS[s]),
                    d.by_state[s],
                    length(d.by_state[s], longest),
                    case_list(state=s.value, **span(d.day, d.day)),
                    s.value,
                )
                for s in DAY_STATES
            ],
            note=Figure(_("Calls"), _("%(count)s calls", count=number(d.calls)), None),
        )
        for d in days
    ]


def table(stats: WindowStats, kind: str, names: dict[int, str]) -> list[Line]:
    """The breakdown of a window by category, block or officer, most complaints first."""
    groups: dict[int, Tally] = {
        "category": stats.by_category,
        "block": stats.by_block,
        "officer": stats.by_officer,
    }[kind]
    cohort = span(stats.window.first, stats.window.last)
    lines = []
    for key, t in sorted(groups.items(), key=lambda item: (-item[1].opened, names.get(item[0], ""))):
        mine = {kind: key, **cohort}
        counts: list[tuple[int, dict[str, Any]]] = [
            (t.opened, {}),
            (t.by_state[State.closed], {"state": "closed"}),
            (t.by_state[State.rejected], {"state": "rejected"}),
            *((t.by_step[s], {"step": s.value}) for s in Step),
            (t.overdue, {"overdue": 1}),
        ]
        cells = [Figure("", number(n), case_list(**extra, **mine)) for n, extra in counts]
        times = (share(t.within_share), duration(t.median), duration(t.p90))
        cells += [Figure("", value, case_list(**mine)) for value in times]
        lines.append(Line(names.get(key, f"#{key}"), cells))
    return lines


def names_of(stats: WindowStats) -> dict[str, dict[int, str]]:
    """Display names of the categories, blocks and officers in stats."""
    db = get_session()
    categories = db.scalars(select(Category).where(Category.id.in_(list(stats.by_category))))
    blocks = db.scalars(select(Block).where(Block.id.in_(list(stats.by_block))))
    officers = db.execute(select(User.id, User.name).where(User.id.in_(list(stats.by_officer))))
    return {
        "category": {c.id: localized(c) for c in categories},
        "block": {b.id: localized(b) for b in blocks},
        "officer": {i: n for i, n in officers},
    }


def period_label(name: str, w: Window) -> str:
    if name == "today":
        return _("Today, %(day)s", day=day(w.last))
    return _(
        "Last %(days)d days, %(first)s to %(last)s",
        days=len(w.days),
        first=day(w.first),
        last=day(w.last),
    )


def chosen_period() -> str:
    """The period the breakdown is of (?period=today|recent; anything else: recent)."""
    period = request.args.get("period", "recent")
    return period if period in PERIODS else "recent"


@bp.route("/dashboard")
@roles_required(Role.dm, Role.collector, Role.admin)
def index() -> str:
    """Today and the last 10 days in all, each day, and what is open now.

    The breakdown of the period chosen (?period=today|recent), the callers' feedback and the
    hand-offs seen are parts of their own, which the page loads as soon as it is shown (each a page
    of its own without scripts): at a state's size each reads tens of thousands of rows, and the
    figures above them need not wait for that.
    """
    now = datetime.now(UTC)
    period = chosen_period()
    db = get_session()
    # The calls of the longest window, read once: each period's and each day's come from them.
    calls = call_counts(db, Window.ending(now, DAYS))
    days, totals = overview(db, now, DAYS, PERIODS.values(), calls)
    windows = {name: totals[n] for name, n in PERIODS.items()}
    open_now = pending(db, now)
    labels = {name: period_label(name, stats.window) for name, stats in windows.items()}
    return render_template(
        "dashboard/index.html",
        as_of=when(now),
        headlines=[(labels[name], headline(stats)) for name, stats in windows.items()],
        days=day_rows(days),
        day_legend=[(s.value, STATE_LABELS[s]) for s in DAY_STATES],
        steps=step_rows(open_now),
        step_legend=[("late", _("Overdue")), ("", _("Within the limit"))],
        pending_total=Figure(_("Open now"), number(open_now.total), case_list(state="open")),
        stuck=parked_count(db),
        ages=age_rows(open_now, now),
        age_legend=[(s.value, STEP_LABELS[s]) for s in Step],
        chosen_label=labels[period],
        period_links=[
            Figure(labels[name], labels[name], None if name == period else url_for(".index", period=name))
            for name in PERIODS
        ],
        breakdown_url=url_for(".breakdown", period=period),
        feedback_url=url_for(".callers", period=period),
        seen_url=url_for(".seen", period=period),
    )


@bp.route("/dashboard/breakdown")
@roles_required(Role.dm, Role.collector, Role.admin)
def breakdown() -> str:
    """The period's complaints by category, block and officer."""
    now = datetime.now(UTC)
    period = chosen_period()
    db = get_session()
    chosen = window_stats(db, now, PERIODS[period], with_calls=False)
    names = names_of(chosen)
    return render_template(
        "dashboard/breakdown.html",
        chosen_label=period_label(period, chosen.window),
        tables=[
            (_("By category"), table(chosen, "category", names["category"])),
            (_("By block"), table(chosen, "block", names["block"])),
            (_("By officer"), table(chosen, "officer", names["officer"])),
        ],
        columns=[
            _("Opened"),
            _("Closed"),
            _("Rejected"),
            *(str(STEP_LABELS[s]) for s in Step),  # as table() counts them
            _("Overdue now"),
            _("Within the limit"),
            _("Median"),
            _("90th percentile"),
        ],
    )


@bp.route("/dashboard/feedback")
@roles_required(Role.dm, Role.collector, Role.admin)
def callers() -> str:
    """The callers' word on the call backs that ended in the period (not a cohort: a call back ends
    after its case opened)."""
    period = chosen_period()
    window = Window.ending(datetime.now(UTC), PERIODS[period])
    return render_template(
        "dashboard/feedback.html",
        chosen_label=period_label(period, window),
        feedback=feedback(get_session(), window.start, window.end),
    )


@bp.route("/dashboard/seen")
@roles_required(Role.dm, Role.collector, Role.admin)
def seen() -> str:
    """Each person's hand-offs sent in the period: how many were seen, and how soon."""
    period = chosen_period()
    window = Window.ending(datetime.now(UTC), PERIODS[period])
    people = acknowledgement(get_session(), window.start, window.end)
    return render_template(
        "dashboard/seen.html",
        chosen_label=period_label(period, window),
        seen=[
            (p.name, ROLE_LABELS[p.role], number(p.sent), number(p.seen), duration(p.median), duration(p.p90))
            for p in people
        ],
    )
