"""A local SMTP server that keeps every message in a Maildir: the demo's (and tests') inbox."""

from __future__ import annotations

import argparse
import mailbox
import signal
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


class MaildirHandler:
    """aiosmtpd handler: store each accepted message in a Maildir."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.box = mailbox.Maildir(self.path, create=True)
        for sub in ("tmp", "new", "cur"):  # create=True skips them when the folder exists
            (self.path / sub).mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        message = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        # Arrival to the microsecond: the Date header counts whole seconds, and the order of the
        # messages of one moment matters (an emergency's duty officer is told first).
        message["X-Received-At"] = datetime.now(UTC).isoformat()
        with self._lock:
            self.box.add(message)
        return "250 Message accepted for delivery"


def read_messages(path: str | Path) -> list[EmailMessage]:
    """All messages in the Maildir at path, oldest first."""
    box = mailbox.Maildir(Path(path), factory=None, create=True)
    messages = []
    for key in box.keys():
        with box.get_file(key) as fh:
            messages.append(message_from_bytes(fh.read(), policy=policy.default))
    messages.sort(key=arrived)  # undated ones first
    return messages  # type: ignore[return-value]


def arrived(message: EmailMessage) -> datetime:
    """When the sink took the message (to the microsecond), else its Date; undated ones first."""
    try:
        return datetime.fromisoformat(str(message["X-Received-At"]))
    except ValueError:
        return sent_at(message) or datetime.min.replace(tzinfo=UTC)


def sent_at(message: EmailMessage) -> datetime | None:
    """The moment in the message's Date header (aware UTC), or None when it has none or not a date."""
    header = message.get("Date")
    moment = getattr(header, "datetime", None)  # None for a header like "garbage" (a defect)
    if moment is None:
        return None
    # "-0000" gives a naive one: UTC. (Not models.times.aware: importing `models` loads SQLAlchemy
    # and every table, half this demo process's memory.)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def body_text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    return part.get_content() if part is not None else ""


def mail_addresses(urls: Iterable[str]) -> set[str]:
    """The addresses these Apprise URLs mail to, lower-cased (URLs of other kinds give none)."""
    from apprise import Apprise  # here: the sink itself needs no Apprise (the web app's inbox page does)
    from apprise.plugins.email import NotifyEmail

    found = set()
    for url in urls:
        plugin = Apprise.instantiate(url)
        if isinstance(plugin, NotifyEmail):
            found.update(address.lower() for _name, address in plugin.targets)
    return found


def recipients(message: EmailMessage) -> set[str]:
    """Whom the sink received a message for (its envelope), lower-cased."""
    envelope = message.get("X-Envelope-To") or message.get("To", "")
    return {address.strip().lower() for address in str(envelope).split(",") if address.strip()}


def start(path: str | Path, host: str = "127.0.0.1", port: int = 8025) -> Controller:
    controller = Controller(MaildirHandler(path), hostname=host, port=port)
    controller.start()
    return controller


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    args = parser.parse_args()
    controller = start(args.dir, args.host, args.port)
    print(f"mail sink on {args.host}:{args.port}, storing in {args.dir}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
