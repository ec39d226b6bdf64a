"""The case list with its filters, its CSV export, the daily report and the audit log."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote_plus

from flask import Blueprint, Response, current_app, render_template, request, stream_with_context, url_for
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import func, select

from models import spreadsheet
from models.cases.lifecycle import WAITING_ON, State, Step
from models.cases.listing import (
    CaseFilter,
    CasePage,
    FilterError,
    page,
    parse_day,
    parse_id,
    stream,
)
from models.cases.sla import overdue
from models.db import get_sessionmaker
from models.oversight.audit import record
from models.oversight.feedback import feedback
from models.oversight.report import OVERDUE_LISTED, daily_report
from models.oversight.tables import AuditEntry
from models.reference.tables import Block, Category, Role, User
from models.times import FIRST_DAY, INDIA, LAST_DAY, DayOutOfRange, day_start, db_time
from webapp.auth import roles_required
from webapp.db import get_session
from webapp.labels import PRIORITY_LABELS, STATE_LABELS, clock_label, localized, waiting_label

bp = Blueprint("caselist", __name__)

LIST_ROLES = (Role.dm, Role.collector, Role.admin, Role.officer)
AUDIT_PAGE = 50
INDIA_OFFSET = timedelta(hours=5, minutes=30)

PARAM_LABELS = {
    "state": _l("Status"),
    "step": _l("Waiting on"),
    "category": _l("Category"),
    "block": _l("Block"),
    "officer": _l("Officer"),
    "from": _l("Opened from"),
    "to": _l("Opened to"),
    "overdue": _l("Overdue only"),
    "q": _l("Search"),
    "sort": _l("Order"),
    "page": _l("Page"),
    "per_page": _l("Rows per page"),
}
REASONS = {
    "choice": _l("%(field)s: “%(value)s” is not one of the choices."),
    "number": _l("%(field)s: “%(value)s” is not a valid number."),
    "date": _l("%(field)s: “%(value)s” is not a date; write it as YYYY-MM-DD."),
    "flag": _l("%(field)s: “%(value)s” should be 1 or 0."),
    "long": _l("%(field)s: the text is too long."),
    "range": _l("%(field)s: the date is before the “from” date."),
    "day_range": _l("%(field)s: “%(value)s” is not between %(first)s and %(last)s."),
}
STEP_LABELS = {
    Step.dm: _l("The DM"),
    Step.officer: _l("The officer"),
    Step.callback: _l("An operator (call back)"),
    Step.collector: _l("The Collector"),
}
AUDIT_ACTIONS = {
    "view": _l("Viewed a case"),
    "list": _l("Listed cases"),
    "export": _l("Exported cases"),
    "report": _l("Opened the daily report"),
    "login": _l("Signed in"),
    "login-failed": _l("Failed sign-in"),
    "logout": _l("Signed out"),
    "password": _l("Changed their password"),
    "sign-out-everywhere": _l("Signed a user out everywhere"),
    "board-link-made": _l("Made a board link"),
    "board-link-revoked": _l("Revoked a board link"),
    "api-request": _l("Filed a case through the Open311 API"),
    "api-refused": _l("Open311 API request refused"),
    "act-link": _l("Decided through a one-tap link"),
}
# Actions whose target is a name or an address, not something to open again.
NO_LINK = {"login", "login-failed", "logout", "password", "sign-out-everywhere"}
NO_LINK |= {"board-link-made", "board-link-revoked"}
NO_LINK |= {"api-refused"}  # an API client's refused request: the reason, nothing to open
SORT_LABELS = {
    "": _l("Open cases first, longest waiting first"),
    "opened": _l("Opened, oldest first"),
    "-opened": _l("Opened, newest first"),
    "waited": _l("Waiting since, oldest first"),
    "-waited": _l("Waiting since, newest first"),
    "due": _l("Time limit, earliest first"),
    "-due": _l("Time limit, latest first"),
    "number": _l("Case number"),
    "-number": _l("Case number, descending"),
}
EXPORT_COLUMNS = (
    "number",
    "opened",
    "state",
    "step",
    "category",
    "block",
    "village",
    "caller",
    "phone",
    "priority",
    "officer",
    "due",
    "overdue",
    "resolved",
    "closed",
    "description",
)


def audited(action: str, target: str) -> None:
    """Record that the current user did action on target, and commit it (GET pages commit nothing else)."""
    db = get_session()
    record(db, current_user, action, target, datetime.now(UTC))
    db.commit()


def error_messages(errors: list[FilterError]) -> list[str]:
    bounds = {"first": FIRST_DAY.isoformat(), "last": LAST_DAY.isoformat()}
    return [
        str(REASONS[e.code] % {"field": PARAM_LABELS[e.param], "value": e.value, **bounds}) for e in errors
    ]


def filter_choices(viewer: User) -> dict[str, Any]:
    """The options of the filter form's selects, as (value, label) pairs."""
    db = get_session()
    officers = []
    if viewer.role != Role.officer:
        officers = [
            (str(u.id), u.name)
            for u in db.scalars(select(User).where(User.role == Role.officer).order_by(User.name))
        ]
    return {
        "states": [("open", _l("Any open state"))] + [(s.value, STATE_LABELS[s.value]) for s in State],
        "steps": [(s.value, STEP_LABELS[s]) for s in Step],
        "categories": [
            (str(c.id), localized(c)) for c in db.scalars(select(Category).order_by(Category.name))
        ],
        "blocks": [(str(b.id), localized(b)) for b in db.scalars(select(Block).order_by(Block.name))],
        "officers": officers,
        "sorts": list(SORT_LABELS.items()),
    }


def pager(flt: CaseFilter, result: CasePage) -> dict[str, str | None]:
    """Links to the previous and next pages, keeping the filter."""
    args = flt.to_args()
    last = min(result.pages, result.page - 1) if result.page > 1 else None
    more = result.page < result.pages
    return {
        "previous": url_for("caselist.index", **args, page=last) if last else None,
        "next": url_for("caselist.index", **args, page=result.page + 1) if more else None,
    }


def render_list(flt: CaseFilter, errors: list[FilterError], result: CasePage | None, now: datetime) -> Any:
    cases = result.rows if result else []
    rows = [(case, clock_label(case, now), waiting_label(case, now)) for case in cases]
    return render_template(
        "caselist/list.html",
        flt=flt,
        errors=error_messages(errors),
        result=result,
        rows=rows,
        pager=pager(flt, result) if result else {},
        export_url=url_for("caselist.export", **flt.to_args()),
        **filter_choices(current_user),
    )


@bp.route("/cases")
@roles_required(*LIST_ROLES)
def index() -> Any:
    """The cases this user may see, filtered, sorted and paged. :raise 400: a bad filter value."""
    flt, errors = CaseFilter.from_args(request.args)
    now = datetime.now(UTC)
    if errors:
        return render_list(flt, errors, None, now), 400
    result = page(get_session(), flt, current_user, now)
    audited("list", flt.describe())
    return render_list(flt, [], result, now)


@bp.route("/cases/export.csv")
@roles_required(*LIST_ROLES)
def export() -> Any:
    """The filtered list (every page) as CSV, streamed. :raise 400: a bad filter value."""
    flt, errors = CaseFilter.from_args(request.args)
    now = datetime.now(UTC)
    if errors:
        return render_list(flt, errors, None, now), 400
    # The row count is not known before the stream ends, so the log keeps the filter.
    audited("export", flt.describe())
    with force_locale("en"):
        states = {state: str(label) for state, label in STATE_LABELS.items()}
        priorities = {value: str(label) for value, label in PRIORITY_LABELS.items()}
    factory = get_sessionmaker(current_app.config["SETTINGS"].database_url)
    rows = own_session(factory, flt, current_user._get_current_object(), now)
    response = Response(stream_with_context(csv_chunks(rows, now, states, priorities)), mimetype="text/csv")
    today = now.astimezone(INDIA).date().isoformat()
    response.headers["Content-Disposition"] = f"attachment; filename=cases-{today}.csv"
    return response


def own_session(factory: Any, flt: CaseFilter, viewer: User, now: datetime) -> Iterator[Any]:
    """The export's rows, read in a session of their own: the request's session is closed at
    teardown, which can come before the server has sent the last row."""
    with factory() as db:
        yield from stream(db, flt, viewer, now)


def csv_chunks(
    rows: Iterable[Any], now: datetime, states: dict[str, str], priorities: dict[str, str]
) -> Iterator[str]:
    """CSV text in chunks of 500 rows; a byte order mark first, so Excel reads UTF-8 (Hindi)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow(EXPORT_COLUMNS)
    for count, row in enumerate(rows, 1):
        step = WAITING_ON.get(State(row.state))
        values = (
            row.number,
            india(row.created_at),
            states.get(row.state, row.state),
            step.value if step else "",
            row.category,
            row.block or "",
            row.village,
            row.caller_name,
            row.phone,
            priorities.get(row.priority, row.priority),
            row.officer or "",
            india(row.due_at),
            "yes" if overdue(row.state, row.due_at, now) else "no",
            india(row.resolved_at),
            india(row.closed_at),
            row.description,
        )
        writer.writerow(spreadsheet.row(values))  # every cell inert: names and text are typed by callers
        if count % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def india(moment: datetime | None) -> str:
    """A stored UTC time as India time, to the minute (India keeps no summer time: a fixed +05:30)."""
    if moment is None:
        return ""
    return (db_time(moment) + INDIA_OFFSET).isoformat(" ", "minutes")


@bp.route("/reports/daily")
@roles_required(Role.collector, Role.dm, Role.admin)
def daily() -> Any:
    """The printable report of one India day for the review meeting. :raise 400: a bad or future date."""
    now = datetime.now(UTC)
    today = now.astimezone(INDIA).date()
    raw = request.args.get("date", "").strip()
    try:
        day = parse_day(raw) if raw else today
    except DayOutOfRange as exc:
        day = exc.day  # the year 9999 is "not yet" like any other future day
        if day < FIRST_DAY:
            first = FIRST_DAY.isoformat()
            error = _l("There is no report for %(day)s: choose a day from %(first)s.", day=raw, first=first)
            return render_template("caselist/report.html", report=None, error=error, today=today), 400
    except ValueError:
        error = _l("“%(value)s” is not a date; write it as YYYY-MM-DD.", value=raw)
        return render_template("caselist/report.html", report=None, error=error, today=today), 400
    if day > today:
        error = _l("There is no report yet for %(day)s.", day=day.isoformat())
        return render_template("caselist/report.html", report=None, error=error, today=today), 400
    report = daily_report(get_session(), day, now)
    audited("report", day.isoformat())
    overdue = [(p, report.cases[p.case_id], report.at - p.due) for p in report.overdue[:OVERDUE_LISTED]]
    return render_template(
        "caselist/report.html",
        report=report,
        overdue=overdue,
        overdue_more=len(report.overdue) - len(overdue),
        steps=STEP_LABELS,
        today=today,
        error=None,
        feedback=feedback(get_session(), day_start(day), report.at),
    )


@bp.route("/audit")
@roles_required(Role.collector, Role.admin)
def audit_log() -> Any:
    """Who viewed, listed, exported and printed what, newest first; optionally one user's."""
    db = get_session()
    try:
        user_id = parse_id(request.args["user"]) if request.args.get("user") else None
        number = parse_id(request.args["page"]) if request.args.get("page") else 1
    except ValueError:
        return render_template("caselist/audit.html", error=_l("Bad user or page."), rows=[]), 400
    query = select(AuditEntry)
    if user_id:
        query = query.where(AuditEntry.user_id == user_id)
    total = db.scalar(select(func.count()).select_from(query.subquery())) or 0
    entries = db.scalars(
        query.order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
        .limit(AUDIT_PAGE)
        .offset((number - 1) * AUDIT_PAGE)
    ).all()
    pages = max(1, -(-total // AUDIT_PAGE))
    rows = [(e, AUDIT_ACTIONS.get(e.action, e.action), audit_link(e), audit_target(e)) for e in entries]
    args = {"user": user_id} if user_id else {}
    return render_template(
        "caselist/audit.html",
        error=None,
        rows=rows,
        users=db.scalars(select(User).order_by(User.name)).all(),
        user_id=user_id,
        page=number,
        pages=pages,
        previous=url_for("caselist.audit_log", **args, page=number - 1) if number > 1 else None,
        next=url_for("caselist.audit_log", **args, page=number + 1) if number < pages else None,
    )


def audit_target(entry: AuditEntry) -> str:
    """An entry's target as a person reads it: a list's or an export's query string decoded (q=राशन)."""
    if entry.action in ("list", "export"):
        return unquote_plus(entry.target)  # stored as the browser sent it, percent-encoded
    return entry.target


def audit_link(entry: AuditEntry) -> str:
    """Where an audit entry's target can be seen again ("" for sign-ins)."""
    if entry.action in NO_LINK:
        return ""
    if entry.action in ("view", "api-request"):  # a case number
        return url_for("cases.view", number=entry.target)
    if entry.action == "report":
        return url_for("caselist.daily", date=entry.target)
    return url_for("caselist.index") + (f"?{entry.target}" if entry.target else "")
