"""The demo's inbox: every message the local mail sink received, readable in the app."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template
from flask_login import login_required

from notifications.mailsink import body_text, read_messages

bp = Blueprint("mailbox", __name__)


@bp.route("/mailbox")
@login_required
def index() -> str:
    """:raise 404: outside demo mode, where mail goes to real inboxes."""
    settings = current_app.config["SETTINGS"]
    if not settings.demo:
        abort(404)
    messages = [
        {
            "to": m.get("X-Envelope-To") or m.get("To", ""),
            "subject": m.get("Subject", ""),
            "date": m.get("Date", ""),
            "body": body_text(m),
        }
        for m in reversed(read_messages(settings.mail_dir))
    ]
    return render_template("mailbox/index.html", messages=messages[:200])
