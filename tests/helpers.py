"""Real peers for tests: a free port, an SMTP server (our Maildir sink), an HTTP sink."""

from __future__ import annotations

import json
import os
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


def artifacts() -> Path:
    """Where tests leave screenshots and logs for CI to keep."""
    path = Path(os.environ.get("TEST_ARTIFACTS") or "test-artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class HttpSink:
    """An HTTP server that records every JSON body POSTed to it (Apprise json:// target)."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length", 0))
                sink.received.append(json.loads(self.rfile.read(length) or b"{}"))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def mail_url(port: int, to: str) -> str:
    return f"mailto://127.0.0.1:{port}?from=control-room@test.local&to={to}"


def maildir_count(path: Path) -> int:
    new = path / "new"
    return len(list(new.iterdir())) if new.exists() else 0


def kill_tree(pid: int) -> int:
    """SIGKILL a process and all its descendants, as a machine dying would. Return how many."""
    import psutil

    try:
        root = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return 0
    victims = [root, *root.children(recursive=True)]
    for process in victims:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(victims, timeout=10)
    return len(victims)
