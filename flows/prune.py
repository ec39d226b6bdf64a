"""Task results that no run will read again, deleted after Prefect's retention period (prefect.yaml:
daily).

Prefect prunes its own database: its db_vacuum service (PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED
"events,flow_runs", which the stack sets) deletes finished runs, with their states, task runs,
inputs and logs, once they ended PREFECT_SERVER_SERVICES_DB_VACUUM_RETENTION_PERIOD ago (the stack:
30 days), and events after theirs. The results its engine persisted (PREFECT_LOCAL_STORAGE_PATH, a
file per step of each run) it leaves for ever: this flow deletes those not written for the same
period. A finished run's results are never read again. A run still waiting on a person after that
long reads its steps' results when it resumes: without them it runs those steps again, which is
safe (each step finds its event recorded and its messages claimed: nothing is sent twice), only
slower. The app's own history (events, messages, callers) is never pruned: the Collector reads it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from prefect import flow


@dataclass
class Pruned:
    files: int = 0
    bytes: int = 0
    kept: int = 0  # result files younger than the cut-off


def prune_folder(folder: Path, before: datetime) -> Pruned:
    """Delete the regular files under `folder` last written before `before`.

    Several runs at once (or workers sharing the folder over NFS) are harmless: a file another
    deleted first is skipped.
    """
    cutoff = before.timestamp()
    pruned = Pruned()
    if not folder.is_dir():
        return pruned
    for path in folder.rglob("*"):
        try:
            stat = path.lstat()
            if not path.is_file() or path.is_symlink():
                continue
            if stat.st_mtime >= cutoff:
                pruned.kept += 1
                continue
            path.unlink()
        except FileNotFoundError:
            continue
        pruned.files += 1
        pruned.bytes += stat.st_size
    return pruned


def retention() -> timedelta:
    """Prefect's own retention period for finished runs (its db_vacuum service's setting)."""
    from prefect.settings import get_current_settings

    return get_current_settings().server.services.db_vacuum.retention_period


@flow(name="prune-results", log_prints=True)
def prune_results(before: datetime | None = None, now: datetime | None = None) -> dict[str, int]:
    """Delete the task results not written since `before` (default: Prefect's retention period ago,
    as of `now`). Returns how many files and bytes went, and how many files are kept."""
    from prefect.settings import get_current_settings

    cutoff = before or (now or datetime.now(UTC)) - retention()
    folder = Path(get_current_settings().results.local_storage_path).expanduser()
    pruned = prune_folder(folder, cutoff)
    print(  # log_prints
        f"{pruned.files} result files ({pruned.bytes / 1e6:.1f} MB) not written since "
        f"{cutoff:%Y-%m-%d %H:%M} UTC deleted from {folder}; {pruned.kept} kept"
    )
    return asdict(pruned)
