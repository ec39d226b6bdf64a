"""The result pruning (flows/prune.py) on real files: what goes, what stays, two runs at once."""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

from flows.prune import Pruned, prune_folder

NOW = datetime(2027, 3, 10, 6, 0, tzinfo=UTC)


def write(path: Path, age: timedelta, size: int = 10) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    moment = (NOW - age).timestamp()
    os.utime(path, (moment, moment))
    return path


def test_it_deletes_the_results_not_written_since_the_cutoff_and_keeps_the_rest(tmp_path: Path) -> None:
    old = [write(tmp_path / f"old{i}", timedelta(days=31), size=100) for i in range(3)]
    nested = write(tmp_path / "sub" / "old", timedelta(days=40), size=50)
    young = write(tmp_path / "young", timedelta(days=29))
    elsewhere = write(tmp_path.parent / f"{tmp_path.name}-outside" / "old", timedelta(days=90))
    link = tmp_path / "link"
    link.symlink_to(elsewhere)

    pruned = prune_folder(tmp_path, NOW - timedelta(days=30))

    assert pruned == Pruned(files=4, bytes=350, kept=1)
    assert not any(p.exists() for p in [*old, nested])
    assert young.exists() and elsewhere.exists() and link.is_symlink()  # a link is not followed
    assert prune_folder(tmp_path, NOW - timedelta(days=30)) == Pruned(files=0, bytes=0, kept=1)


def test_two_runs_at_once_delete_each_file_once(tmp_path: Path) -> None:
    for i in range(2000):
        write(tmp_path / f"{i % 10}" / f"r{i}", timedelta(days=60), size=1)
    results: list[Pruned] = []
    runs = [threading.Thread(target=lambda: results.append(prune_folder(tmp_path, NOW))) for _ in range(2)]
    for run in runs:
        run.start()
    for run in runs:
        run.join()
    assert sum(r.files for r in results) == 2000 and sum(r.bytes for r in results) == 2000
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_a_missing_folder_prunes_nothing(tmp_path: Path) -> None:
    assert prune_folder(tmp_path / "never-made", NOW) == Pruned()


def test_it_is_deployed_daily() -> None:
    config = yaml.safe_load((Path(__file__).resolve().parent.parent / "prefect.yaml").read_text())
    (deployment,) = [d for d in config["deployments"] if d["name"] == "prune-results"]
    assert deployment["entrypoint"] == "flows/prune.py:prune_results"
    ((schedule,),) = [deployment["schedules"]]
    assert schedule == {"cron": "30 3 * * *", "timezone": "Asia/Kolkata"}
