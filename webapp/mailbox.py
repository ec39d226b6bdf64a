"""The demo's inbox: the mail the local mail sink received, readable in the app."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template
from flask_login import current_user, login_required

from models.reference.tables import Role
from notifications.mailsink import body_text, mail_addresses, read_messages, recipients, sent_at
from webapp.dates import when

bp = Blueprint("mailbox", __name__)


@bp.route("/mailbox")
@login_required
def index() -> str:
    """The mail sent to the signed-in user. :raise 404: outside demo mode, where mail goes to real inboxes.

    Each person reads only what was addressed to them (their own notify URLs), as in a real
    inbox: a case's mail names the caller, and a DM has no business reading an officer's. The
    admin, who sets the demo up and checks that every message goes out, reads all of it, the
    patients' SMS (sent to the sink in the demo) included; the Collector sees their own, like
    everyone else, and follows the others' work on the dashboard and the case timelines.
    """
    settings = current_app.config["SETTINGS"]
    if not settings.demo:
        abort(404)
    mine = None if current_user.role == Role.admin else mail_addresses(current_user.channel_urls)
    messages = [
        {
            "to": m.get("X-Envelope-To") or m.get("To", ""),
            "subject": m.get("Subject", ""),
            "date": when(sent_at(m)),  # India time, not the header's +0000
            "body": body_text(m),
        }
        for m in reversed(read_messages(settings.mail_dir))
        if mine is None or recipients(m) & mine
    ]
    return render_template("mailbox/index.html", messages=messages[:200], everyone=mine is None)
