"""Prefect's data pruned (flows/prune.py): a run whose step results were deleted resumes, runs those
steps again and sends nothing twice; a case whose run Prefect deleted still shows its history."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from scripts.stack import Stack
from tests.e2e.test_complaint_flow import wait_for_mails, waiting_for_the_dm
from tests.e2e.web import PrefectApi, WebUser, texts_about, wait_until

pytestmark = pytest.mark.e2e


def result_files(stack: Stack) -> set[Path]:
    return {p for p in (stack.instance / "prefect" / "storage").rglob("*") if p.is_file()}


def test_a_run_whose_results_were_pruned_resumes_and_sends_nothing_twice(
    stack: Stack, users: dict[str, WebUser], cmho_id: str
) -> None:
    prefect = PrefectApi(stack.api_url)
    number, run = waiting_for_the_dm(stack, users, prefect, "Pruned early")
    logged = wait_until(
        lambda: [t for t in prefect.task_runs(run["id"]) if t["state_name"] == "Completed"], what="its step"
    )
    assert [t["name"].rsplit("-", 1)[0] for t in logged] == ["log_complaint"]
    before = result_files(stack)
    assert before, "the step persisted no result: the pruning would test nothing"

    # As if the retention period were over: everything written up to now goes.
    cutoff = datetime.now(UTC) + timedelta(seconds=1)
    pruned = prefect.run_deployment("prune-results/prune-results", {"before": cutoff.isoformat()})
    assert pruned["state_type"] == "COMPLETED"
    assert result_files(stack) & before == set()

    # The DM decides: the run replays log_complaint from scratch (its result is gone), which finds its
    # event recorded and its messages sent, and goes on to the officer.
    users["dm"].decide(number, "assign", officer=cmho_id)
    mails = wait_for_mails(stack, number, 2)
    assert [to for to, _ in mails] == ["dm@demo.local", "cmho@demo.local"]

    def completed() -> Counter[str]:
        tasks = prefect.task_runs(run["id"])
        return Counter(t["name"].rsplit("-", 1)[0] for t in tasks if t["state_name"] == "Completed")

    replayed = {"log_complaint": 2, "assign_officer": 1}
    wait_until(lambda: completed() == replayed, timeout=60, what="the replay")
    assert len(wait_for_mails(stack, number, 2)) == 2  # nobody mailed twice
    wait_until(lambda: len(texts_about(stack.instance / "mail", number)) >= 2, what="the caller's texts")
    texts = [text for _, text in texts_about(stack.instance / "mail", number)]
    assert len(texts) == 2, texts  # registered, then assigned: once each

    # Prefect's db_vacuum deletes a finished run after the same period: the case keeps its history.
    assert prefect.http.delete(f"/flow_runs/{run['id']}").status_code == 204
    timeline = users["collector"].http.get(f"/cases/{number}/timeline")
    assert timeline.status_code == 200
    assert "no longer keeps this run" in timeline.text and "Assigned to an officer" in timeline.text
