"""CPU seconds, RSS and process counts of the stack's process trees (psutil).

A component is one process the Stack spawned (prefect-server, worker, dispatcher, ...)
and all its descendants. Its CPU time is the sum over the live tree of user+system
plus children_user+children_system: a child that exited and was reaped (a flow run
the worker waited for) is in its parent's children_* fields, so the total neither
loses nor double-counts it between two snapshots.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import psutil


def tree(pid: int) -> list[psutil.Process]:
    """The process and its live descendants ([] if it is gone)."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def cpu_seconds(procs: Iterable[psutil.Process]) -> float:
    total = 0.0
    for proc in procs:
        try:
            t = proc.cpu_times()
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
        total += t.user + t.system + t.children_user + t.children_system
    return total


def rss_bytes(proc: psutil.Process) -> int:
    try:
        return int(proc.memory_info().rss)
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return 0


def is_flow_run(proc: psutil.Process) -> bool:
    """A flow-run process: forked by a launch server (named so), or a cold `python -m prefect.engine`."""
    try:
        return proc.name() == "flow-run" or "prefect.engine" in proc.cmdline()
    except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
        return False


def pss_bytes(proc: psutil.Process) -> int:
    """Proportional set size: shared pages (a forked flow run's) split among their sharers."""
    try:
        return int(proc.memory_full_info().pss)
    except (psutil.AccessDenied, AttributeError):
        return rss_bytes(proc)
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return 0


@dataclass
class Snapshot:
    at: float
    cpu: dict[str, float]  # component -> CPU seconds so far
    count: dict[str, int]  # component -> live processes
    rss: dict[str, int]  # component -> bytes, whole tree
    biggest: dict[str, int]  # component -> bytes of its largest process
    pss: dict[str, int] = field(default_factory=dict)  # component -> bytes, whole tree

    def __sub__(self, earlier: Snapshot) -> Snapshot:
        """CPU used between two snapshots (counts and RSS are this snapshot's)."""
        return Snapshot(
            at=self.at - earlier.at,
            cpu={k: v - earlier.cpu.get(k, 0.0) for k, v in self.cpu.items()},
            count=self.count,
            rss=self.rss,
            biggest=self.biggest,
            pss=self.pss,
        )

    def total_cpu(self, components: Iterable[str] | None = None) -> float:
        return sum(v for k, v in self.cpu.items() if components is None or k in components)


def snapshot(pids: Mapping[str, int]) -> Snapshot:
    """CPU, process count and memory of each component's tree, now."""
    at = time.monotonic()
    cpu, count, rss, biggest, pss = {}, {}, {}, {}, {}
    for name, pid in pids.items():
        procs = tree(pid)
        cpu[name] = cpu_seconds(procs)
        count[name] = len(procs)
        sizes = [rss_bytes(p) for p in procs]
        rss[name] = sum(sizes)
        biggest[name] = max(sizes, default=0)
        pss[name] = sum(pss_bytes(p) for p in procs)
    return Snapshot(at, cpu, count, rss, biggest, pss)


@dataclass
class Peaks:
    """Largest values seen by a Sampler."""

    rss: dict[str, int] = field(default_factory=dict)
    biggest: dict[str, int] = field(default_factory=dict)
    count: dict[str, int] = field(default_factory=dict)
    runs: dict[str, int] = field(default_factory=dict)  # flow-run processes at once (is_flow_run)
    run_rss: dict[str, int] = field(default_factory=dict)  # the largest flow-run process
    total_rss: int = 0
    total_pss: int = 0
    total_count: int = 0
    samples: int = 0


class Sampler:
    """Samples RSS and process counts in a thread (for peaks), every `every` seconds."""

    def __init__(self, pids: Mapping[str, int], every: float = 0.25) -> None:
        self.pids = dict(pids)
        self.every = every
        self.peaks = Peaks()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="sampler", daemon=True)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def sample(self) -> None:
        total_rss = total_count = total_pss = 0
        for name, pid in self.pids.items():
            procs = tree(pid)
            sizes = [rss_bytes(p) for p in procs]
            p = self.peaks
            p.rss[name] = max(p.rss.get(name, 0), sum(sizes))
            p.biggest[name] = max(p.biggest.get(name, 0), max(sizes, default=0))
            p.count[name] = max(p.count.get(name, 0), len(procs))
            runs = [(proc, size) for proc, size in zip(procs, sizes, strict=True) if is_flow_run(proc)]
            p.runs[name] = max(p.runs.get(name, 0), len(runs))
            p.run_rss[name] = max(p.run_rss.get(name, 0), max((size for _, size in runs), default=0))
            total_rss += sum(sizes)
            total_pss += sum(pss_bytes(proc) for proc in procs)
            total_count += len(procs)
        self.peaks.total_rss = max(self.peaks.total_rss, total_rss)
        self.peaks.total_pss = max(self.peaks.total_pss, total_pss)
        self.peaks.total_count = max(self.peaks.total_count, total_count)
        self.peaks.samples += 1

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.every)


MB = 1024 * 1024
