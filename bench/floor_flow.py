"""Prefect's own floor for one complaint: the same start and four suspends, no tasks, no database."""

from __future__ import annotations

from prefect import flow
from prefect.flow_runs import suspend_flow_run
from prefect.input import RunInput


class Step(RunInput):
    """The same shape as flows.complaint.Decision, so each resume carries as much."""

    action: str
    event_id: int = 0
    by_user: str = ""
    note: str = ""


# Async, as flows/complaint.py is: the same engine.
@flow(name="bench-floor", flow_run_name="{case_number}", persist_result=True)
async def floor_flow(case_id: int, case_number: str, event_id: int) -> str:
    """Suspend four times (assign, resolve, the call back, confirm) as a complaint does, then finish."""
    last = ""
    for decision in range(4):
        step = await suspend_flow_run(wait_for_input=Step, key=f"decision-{decision}", timeout=None)
        last = step.action
    return last
