"""Emergencies: an urgent case that skips the DM's queue and goes to the admission officer on duty."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from models.emergency.cases import open_emergency
from models.reference.tables import Role
from models.reference.villages import by_block
from webapp.auth import roles_required
from webapp.db import get_session
from webapp.desk import call_for_intake
from webapp.forms import EmergencyForm, village_choices

bp = Blueprint("emergency", __name__)


@bp.route("/emergencies/new", methods=["GET", "POST"])
@roles_required(Role.operator, Role.admin)
def new() -> Any:
    db = get_session()
    form = EmergencyForm()
    form.village.choices = village_choices(by_block(db))
    call = call_for_intake(form)  # type: ignore[arg-type]  # an emergency call logged on the desk
    if not form.token.data:
        form.token.data = secrets.token_urlsafe(24)
    if form.validate_on_submit():
        case = open_emergency(
            db,
            caller_name=form.caller_name.data.strip(),
            phone=form.phone.data,
            village_id=form.village.data,
            description=form.description.data.strip(),
            by=current_user,
            prefix=current_app.config["SETTINGS"].district_prefix,
            now=datetime.now(UTC),
            token=form.token.data,
        )
        if call is not None:
            call.case_id = case.id
        db.commit()
        if case.officer is not None:
            flash(
                _(
                    "Emergency %(number)s sent to %(officer)s, on duty for hospital admission. "
                    "The DM and the Collector have been alerted.",
                    number=case.number,
                    officer=case.officer.name,
                ),
                "success",
            )
        else:
            flash(
                _(
                    "Emergency %(number)s opened, but nobody is on duty for hospital admission: "
                    "the DM and the Collector have been alerted to assign it now.",
                    number=case.number,
                ),
                "error",
            )
        return redirect(url_for("cases.view", number=case.number))
    status = 400 if form.is_submitted() else 200
    return render_template("emergency/new.html", form=form), status
