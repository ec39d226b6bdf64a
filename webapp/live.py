"""GET /live/pulse: what an open page polls to redraw itself (webapp/static/site.js).

The answer is small and cheap (models/cases/pulse.py): a stamp that moves when anything changed, the
count for the tab's title, and the emergencies in progress for the banner and its sound.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, url_for
from flask_login import current_user, login_required

from models.cases.pulse import Pulse, stamp
from models.cases.pulse import pulse as read_pulse
from models.reference.tables import User
from webapp.db import get_session
from webapp.labels import STATE_LABELS, localized

bp = Blueprint("live", __name__, url_prefix="/live")


def current_pulse(session: Any, user: User) -> Pulse:
    """The user's pulse, from their last answer while the stamp stands.

    The answer is a function of the user and the data, and any change to the data moves the stamp:
    a screen that asks again before anything moved costs the stamp's three index lookups, not the
    counts (15-25 ms for the Collector at a million cases). Kept per app (per database).
    """
    answers: dict[tuple[int, str], Pulse] = current_app.extensions.setdefault("live_pulse", {})
    now = stamp(session)
    key = (user.id, user.role)
    held = answers.get(key)
    if held is None or held.stamp != now:
        held = answers[key] = read_pulse(session, user, now)
    return held


@bp.route("/pulse")
@login_required
def pulse() -> Any:
    now = current_pulse(get_session(), current_user)
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
