"""Start flow-run processes by forking a warm server instead of a cold interpreter.

Every start and every resume of a case runs Prefect's engine in a new process,
and a cold `python -m prefect.engine` spends most of its ~3 CPU-seconds importing
Prefect. The worker's command (prefect.yaml) is instead `python -m flows.launcher`:
this small client hands its arguments, environment, working directory and
standard streams to the launch server over a Unix socket. The server imported
Prefect's engine and the flow code once; it forks a child that runs Prefect's
own entrypoint (`prefect.engine` as __main__) with them and reports the exit
status, which the client exits with. Signals the worker sends the client reach
the child. With no server listening, the client execs `python -m prefect.engine`
itself: the same run, only slower.

The server must run with the worker's environment (Prefect reads its settings
when it is imported) and be restarted when the flow code changes. Flow runs run
below the web app's priority (CONTROL_ROOM_FLOW_NICE, default 10): a burst of runs
then takes the cores only when operators' requests leave them free.

    python -m flows.launcher serve      # beside the worker, a process of its own
    python -m dispatch --worker POOL --launcher   # forked from the worker (fork_server): what
                                                  # scripts/start runs

Forked from the worker after the imports, the server and the worker share those pages instead of
each holding its own copy (~65 MB less on one machine, PSS; docs/performance.md, goal 6).
"""

from __future__ import annotations

import ctypes
import gc
import json
import os
import selectors
import signal
import socket
import struct
import sys

HEADER = struct.Struct("!I")
FLOW_RUN_NAME = b"flow-run"  # a forked flow-run process's name (Linux: /proc/PID/comm)
PR_SET_PDEATHSIG, PR_SET_NAME = 1, 15  # linux/prctl.h


def socket_path() -> str:
    default = os.path.join(os.environ.get("PREFECT_HOME", os.path.expanduser("~/.prefect")), "launcher.sock")
    return os.environ.get("CONTROL_ROOM_LAUNCHER_SOCKET", default)


# --- client: what the worker runs for each start and resume -----------------------------------


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("launch server went away")
        data += chunk
    return data


def lower_priority() -> None:
    """Run flow steps at CONTROL_ROOM_FLOW_NICE (default 10): behind the web app, not starved."""
    os.nice(int(os.environ.get("CONTROL_ROOM_FLOW_NICE", "10")))


def client(argv: list[str]) -> int:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(socket_path())
    except OSError:
        sock.close()
        lower_priority()
        os.execv(sys.executable, [sys.executable, "-m", "prefect.engine", *argv])
    payload = json.dumps({"argv": argv, "env": dict(os.environ), "cwd": os.getcwd()}).encode()
    socket.send_fds(sock, [HEADER.pack(len(payload))], [0, 1, 2])
    sock.sendall(payload)
    # Forward what the worker sends us (cancellation, shutdown) to the child.
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, lambda n, _f: sock.sendall(HEADER.pack(n)))
    status = HEADER.unpack(_recv_exactly(sock, HEADER.size))[0]
    return status


# --- server ------------------------------------------------------------------------------------


def _warm_up() -> None:
    """Import what every run needs, once. Nothing here may start a thread (we fork)."""
    import prefect.engine  # noqa: F401
    import prefect.flow_engine  # noqa: F401
    import prefect.task_engine  # noqa: F401
    from apprise.manager_plugins import NotificationManager
    from sqlalchemy.orm import configure_mappers

    import flows.advisory  # noqa: F401
    import flows.complaint  # noqa: F401
    import flows.escalation  # noqa: F401
    import flows.follow_up  # noqa: F401
    import flows.retries  # noqa: F401
    import notifications.delivery  # noqa: F401
    from notifications.render import warm_templates

    # Work each step would otherwise redo on first use, ~0.15 CPU-s in all: Apprise finding
    # its plugins, SQLAlchemy configuring the mappers, Jinja compiling the message templates.
    NotificationManager().load_modules()
    configure_mappers()
    warm_templates()
    # Out of the collector's sight: its passes would write to (and so copy) every object shared
    # with the forked children.
    gc.freeze()


def _child(request: dict[str, object], fds: list[int]) -> None:
    """In the forked child: become the flow-run process and run Prefect's engine entrypoint."""
    import runpy
    import warnings

    code = 1
    try:
        os.setsid()
        _prctl(PR_SET_NAME, FLOW_RUN_NAME)  # ps, top and the benches tell a run from its server
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        sys.stdin = os.fdopen(0, "r", closefd=False)
        sys.stdout = os.fdopen(1, "w", buffering=1, closefd=False)
        sys.stderr = os.fdopen(2, "w", buffering=1, closefd=False)
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
            signal.signal(signum, signal.SIG_DFL)
        os.chdir(str(request["cwd"]))
        os.environ.clear()
        os.environ.update(request["env"])  # type: ignore[arg-type]
        sys.argv = ["prefect.engine", *request["argv"]]  # type: ignore[misc]
        # As `python -m prefect.engine` does after `import prefect`: run the already
        # imported module's source again as __main__. runpy warns about exactly that.
        warnings.filterwarnings("ignore", "'prefect.engine' found in sys.modules", RuntimeWarning)
        runpy.run_module("prefect.engine", run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # noqa: BLE001 - report it like a crashed interpreter would
        import traceback

        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def fork_server(path: str) -> int:
    """Import what every run needs here, then fork the launch server off this process; its pid.

    This process (the worker) and the server, and every flow-run process the server forks, then
    share the imported modules' memory, copy-on-write, instead of each importing its own. Call it
    before this process starts any thread. The server ends when this process does (Linux: a
    parent-death signal; elsewhere when its socket's clients are gone and it is told to stop).
    """
    _warm_up()
    parent = os.getpid()
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        _stop_with(parent)
        serve(path, warm=False)
        code = 0
    except BaseException:  # noqa: BLE001 - a forked child must never return into the worker's code
        import traceback

        traceback.print_exc()
    finally:
        os._exit(code)


def _prctl(option: int, arg: int | bytes) -> None:
    """Linux's prctl(2); nothing elsewhere."""
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except AttributeError:
        return
    prctl(option, arg)


def _stop_with(parent: int) -> None:
    """SIGTERM this process when the parent (the thread that forked it) ends."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    _prctl(PR_SET_NAME, b"launch-server")  # what ps and top show, not the worker's "python"
    if os.getppid() != parent:  # it ended before the signal was armed
        os.kill(os.getpid(), signal.SIGTERM)


def serve(path: str, warm: bool = True) -> None:
    lower_priority()  # the children inherit it
    if warm:
        _warm_up()
    if os.path.exists(path):
        os.unlink(path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    os.chmod(path, 0o600)
    bound = os.stat(path).st_ino
    listener.listen(64)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    children: dict[int, socket.socket] = {}  # pid -> the client waiting for it
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"launch server ready on {path}", flush=True)
    # One thread on purpose: forking a process that runs other threads is unsafe.
    while not stopping or children:
        for key, _ in selector.select(timeout=0.05 if children else 0.5):
            if key.fileobj is listener:
                if stopping:
                    continue
                conn, _ = listener.accept()
                try:
                    header, fds, _, _ = socket.recv_fds(conn, HEADER.size, 3)
                    request = json.loads(_recv_exactly(conn, HEADER.unpack(header)[0]))
                except (OSError, ValueError, struct.error):
                    conn.close()
                    continue
                pid = os.fork()
                if pid == 0:
                    listener.close()
                    _child(request, fds)
                for fd in fds:
                    os.close(fd)
                children[pid] = conn
                selector.register(conn, selectors.EVENT_READ, pid)
            else:
                conn, pid = key.fileobj, key.data
                try:
                    data = conn.recv(HEADER.size)  # type: ignore[union-attr]
                except OSError:
                    data = b""
                if len(data) == HEADER.size:
                    try:
                        os.killpg(pid, HEADER.unpack(data)[0])
                    except ProcessLookupError:
                        pass
                elif not data:  # the client died: so must its run, as with a plain subprocess
                    selector.unregister(conn)
                    try:
                        os.killpg(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
        while children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            conn = children.pop(pid, None)
            if conn is not None:
                code = os.waitstatus_to_exitcode(status)
                try:
                    conn.sendall(HEADER.pack(code if code >= 0 else 128 - code))
                except OSError:
                    pass
                if conn.fileno() != -1:
                    try:
                        selector.unregister(conn)
                    except (KeyError, ValueError):
                        pass
                conn.close()
    listener.close()
    # A server started since (the worker restarted) may have bound the path anew: leave its socket.
    if os.path.exists(path) and os.stat(path).st_ino == bound:
        os.unlink(path)


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        serve(socket_path())
    else:
        sys.exit(client(sys.argv[1:]))
