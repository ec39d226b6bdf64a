"""GET /live/pulse: what an open page polls to redraw itself (webapp/static/site.js).

The answer is small and cheap (models/cases/pulse.py): a stamp that moves when anything changed, the
count for the tab's title, and the emergencies in progress for the banner and its sound.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, url_for
from flask_login import current_user, login_required

from models.cases.pulse import pulse as read_pulse
from webapp.db import get_session
from webapp.labels import STATE_LABELS, localized

bp = Blueprint("live", __name__, url_prefix="/live")


@bp.route("/pulse")
@login_required
def pulse() -> Any:
    now = read_pulse(get_session(), current_user)
    response = jsonify(
        stamp=now.stamp,
        waiting=now.waiting,
        emergencies=[
            {
                "number": e.number,
                "url": url_for("cases.view", number=e.number),
                "village": localized(e.village),
                "state": str(STATE_LABELS[e.state]),
            }
            for e in now.emergencies
        ],
    )
    response.headers["Cache-Control"] = "no-store"
    return response
