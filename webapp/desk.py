"""The desk: the call log (one screen per call) and the field directory of every village."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from models.desk.calls import caller_history, log_call, recent_calls
from models.desk.contacts import export_contacts, load_contacts, roles_listed, search_contacts
from models.desk.tables import Call, CallKind
from models.normalize import e164
from models.reference.tables import Role, Village
from models.reference.villages import find_villages
from webapp.auth import roles_required
from webapp.db import get_session
from webapp.forms import CALL_KIND_LABELS, CallForm, ContactImportForm, IntakeForm
from webapp.guards import row_id
from webapp.labels import localized
from webapp.uploads import read_csv_upload, upload_page

bp = Blueprint("desk", __name__)

IMPORT_MAX_BYTES = 16 * 1024 * 1024  # a district's directory: 50,000 contacts are about 4 MB


@bp.url_value_preprocessor
def allow_large_imports(endpoint: str | None, _values: dict[str, Any] | None) -> None:
    # The app caps forms at 1 MB. This hook runs before every before_request function, so
    # before CSRFProtect parses the upload: raise the cap for the import only.
    if endpoint == "desk.import_contacts":
        request.max_content_length = IMPORT_MAX_BYTES


def village_label(village: Village) -> str:
    """How the call form names a village: "Chando (Pratappur)", in the reader's language."""
    return f"{localized(village)} ({localized(village.block)})"


@bp.route("/calls", methods=["GET", "POST"])
@roles_required(Role.operator, Role.admin)
def calls() -> Any:
    """Log a call; "Look up" (without JavaScript) shows the caller's history and keeps the form."""
    form = CallForm()
    db = get_session()
    if form.is_submitted() and "lookup" in request.form:
        return render_calls(form, history_of(form.phone.data or ""), 200)
    if form.validate_on_submit():
        call = log_call(
            db,
            phone=form.phone.data,
            kind=CallKind(form.kind.data),
            by=current_user,
            now=datetime.now(UTC),
            caller_name=(form.caller_name.data or "").strip(),
            village_id=form.village_id,
            note=(form.note.data or "").strip(),
            duration_seconds=form.duration_seconds,
        )
        db.commit()
        if call.kind == CallKind.complaint:
            flash(_("Call logged. Now open the complaint's case."), "success")
            return redirect(url_for("cases.new", call=call.id))
        if call.kind == CallKind.emergency:
            flash(_("Call logged. Send the emergency to the officer on duty now."), "error")
            return redirect(url_for("emergency.new", call=call.id))
        flash(_("Call logged."), "success")
        return redirect(url_for("desk.calls"))
    if form.is_submitted():
        return render_calls(form, history_of(form.phone.data or ""), 400)
    return render_calls(form, None, 200)


def render_calls(form: CallForm, history: dict[str, Any] | None, status: int) -> tuple[str, int]:
    recent = recent_calls(get_session(), current_user)
    return render_template("desk/calls.html", form=form, recent=recent, **(history or {})), status


def history_of(typed: str) -> dict[str, Any]:
    """Template values for the history of a typed phone number (nothing if it is not one yet)."""
    try:
        phone = e164(typed)
    except ValueError:
        return {"phone": "", "history": None}
    return {"phone": phone, "history": caller_history(get_session(), phone)}


@bp.route("/calls/history")
@roles_required(Role.operator, Role.admin)
def history() -> str:
    """The earlier calls and cases of ?phone=, as a fragment for the call form."""
    return render_template("desk/_history.html", **history_of(request.args.get("phone", "")[:30]))


@bp.route("/calls/villages")
@roles_required(Role.operator, Role.admin)
def villages() -> Response:
    """Villages starting with ?q=, labelled as the call form's village field accepts them."""
    typed = request.args.get("q", "")[:120]
    found = find_villages(get_session(), typed) if len(typed.strip()) >= 2 else []
    return jsonify([village_label(v) for v in found])


def call_for_intake(form: IntakeForm) -> Call | None:
    """The call a complaint form comes from (?call=<id>); on GET it pre-fills the form.

    :raise 404: no such call. :raise 403: another operator's call.
    """
    call_id = form.call.data if form.is_submitted() else request.args.get("call", type=row_id)
    if not call_id:
        return None
    call = get_session().get(Call, call_id)
    if call is None:
        abort(404, _("Call %(id)s doesn't exist.", id=call_id))
    if call.by_user_id != current_user.id:
        abort(403)
    if not form.is_submitted():
        form.call.data = call.id
        form.caller_name.data = call.caller_name
        form.phone.data = call.phone
        form.village.data = call.village_id or 0
        form.description.data = call.note
    return call


@bp.route("/directory")
@login_required
def directory() -> str:
    """Field contacts by role, village, name or phone (?q=), or all of one village (?village=<id>)."""
    db = get_session()
    typed = request.args.get("q", "")[:100]
    village = db.get(Village, request.args.get("village", type=row_id) or 0)
    contacts = search_contacts(db, typed, village_id=village.id if village else None)
    # Before anything is typed, the roles as links: "who is the Sarpanch" is the usual question.
    roles = roles_listed(db) if not typed.strip() and village is None else []
    template = "desk/_contacts.html" if request.args.get("partial") else "desk/directory.html"
    return render_template(template, contacts=contacts, q=typed, village=village, roles=roles)


@bp.route("/directory/export.csv")
@roles_required(Role.admin)
def export() -> Response:
    """Every contact as CSV (UTF-8 with a byte order mark, so spreadsheets show Hindi)."""
    out = io.StringIO()
    out.write("\ufeff")
    export_contacts(get_session(), out)
    name = f"contacts-{datetime.now(UTC):%Y-%m-%d}.csv"
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename={name}"},
    )


@bp.route("/directory/import", methods=["GET", "POST"])
@roles_required(Role.admin)
def import_contacts() -> Any:
    """Load a contacts CSV: all rows or none, each bad row listed with its line."""
    form = ContactImportForm()
    errors: list[str] = []
    if form.validate_on_submit():
        db = get_session()
        report, errors = read_csv_upload(form, lambda stream: load_contacts(db, stream))
        if report is not None:
            db.commit()
            flash(
                _(
                    "%(total)d contacts imported: %(created)d new, %(updated)d already listed.",
                    total=report.created + report.updated,
                    created=report.created,
                    updated=report.updated,
                ),
                "success",
            )
            return redirect(url_for("desk.directory"))
        db.rollback()
    return upload_page("desk/import.html", form, errors)


@bp.app_context_processor
def desk_labels() -> dict[str, Any]:
    return {"call_kinds": CALL_KIND_LABELS, "village_label": village_label}
