"""The stack runner's commands, and the README's manual route running the same ones."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

from gunicorn.config import Config

from scripts.stack import ROOT, Stack

README = (ROOT / "README.md").read_text()


def stack(tmp_path: Path) -> Stack:
    return Stack(instance=tmp_path, database_url=f"sqlite:///{tmp_path / 'db.sqlite'}", work_limit=4)


def manual_commands() -> list[list[str]]:
    """The commands of the README's "Running the parts yourself" blocks, `${NAME:-default}` as its default."""
    section = README.split("## Running the parts yourself", 1)[1].split("\n## ", 1)[0]
    script = "\n".join(re.findall(r"```sh\n(.*?)```", section, re.S)).replace("\\\n", " ")
    script = re.sub(r'"\$\{\w+:-([^}]*)\}"', r"\1", script)
    commands = []
    for line in script.splitlines():
        words = shlex.split(line, comments=True)
        while words and re.fullmatch(r"\w+=.*", words[0]):  # VAR=value before a command
            words.pop(0)
        if words:
            commands.append(words)
    return commands


def manual(program: str, *first: str) -> list[str]:
    """The README's one command running program with these first arguments."""
    found = [c for c in manual_commands() if c[0] == program and c[1 : 1 + len(first)] == list(first)]
    assert len(found) == 1, f"{program} {' '.join(first)}: {found}"
    return found[0]


def gunicorn_options(args: list[str]) -> dict[str, Any]:
    """gunicorn's own reading of its command line (an unknown flag fails it), the address aside."""
    options = vars(Config().parser().parse_args(args[1:]))
    options.pop("bind")
    return options


def test_it_serves_the_web_app_without_a_control_socket_shared_by_the_user(tmp_path: Path) -> None:
    options = gunicorn_options(stack(tmp_path).web_command())
    assert options["control_socket_disable"] is True
    assert (options["threads"], options["accesslog"]) == (16, "-")


def test_it_documents_the_web_app_as_the_stack_runs_it(tmp_path: Path) -> None:
    assert gunicorn_options(manual("gunicorn")) == gunicorn_options(stack(tmp_path).web_command())


def test_it_documents_the_worker_with_the_stack_s_work_limit(tmp_path: Path) -> None:
    assert manual("prefect", "worker", "start")[1:] == stack(tmp_path).worker_command()[1:]


def test_it_runs_the_same_worker_in_a_dispatcher_s_process(tmp_path: Path) -> None:
    """scripts/start's worker: Prefect's process worker of the same pool and limit, in `dispatch --worker`."""
    worker, merged = stack(tmp_path).worker_command(), stack(tmp_path).dispatching_worker_command()
    assert merged[1:5] == ["-m", "dispatch", "--worker", worker[worker.index("--pool") + 1]]
    assert merged[merged.index("--limit") + 1] == worker[worker.index("--limit") + 1] == "4"
    assert "python -m dispatch --worker control-room --limit 4" in README


def test_it_refuses_a_time_limit_on_a_dispatcher_that_runs_a_worker() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "dispatch", "--worker", "control-room", "--seconds", "5"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "--seconds stops a dispatcher alone" in done.stderr


def test_it_documents_the_prefect_server_on_the_port_the_workers_use() -> None:
    server = manual("prefect", "server", "start")
    assert server[server.index("--port") + 1] == "4200"
    assert "PREFECT_API_URL=http://prefect-host:4200/api" in README


def test_it_documents_a_demo_whose_mail_reaches_the_sink() -> None:
    sink = manual("python", "-m", "notifications.mailsink")
    seed = manual("flask", "--app", "webapp", "seed-demo")
    port = sink[sink.index("--port") + 1]
    assert seed[seed.index("--mail-sink") + 1].endswith(f":{port}")
    assert f"mailto://web-host:{port}?" in README  # the demo's text messages too
    assert "export APP_ENV=development CONTROL_ROOM_DEMO=true" in README  # demo mode is refused in production


def test_it_documents_the_stack_s_heartbeat_and_retention(tmp_path: Path) -> None:
    """The manual route sets what the stack sets for the crash watch and for Prefect's retention."""
    exported = dict(
        word.split("=", 1) for command in manual_commands() if command[0] == "export" for word in command[1:]
    )
    env = stack(tmp_path).env()
    for name in (
        "PREFECT_FLOWS_HEARTBEAT_FREQUENCY",
        "PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED",
        "PREFECT_SERVER_SERVICES_DB_VACUUM_RETENTION_PERIOD",
    ):
        assert exported[name] == env[name], name
