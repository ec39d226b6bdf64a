"""The complaint lifecycle: one Prefect flow run per case."""

from __future__ import annotations

from typing import Any

from prefect import Task, flow, get_run_logger, runtime
from prefect.flow_runs import suspend_flow_run
from prefect.input import RunInput

from flows.tasks import RECORD, WrongEvent, completed, log_complaint, rejoin_case
from models.cases.decisions import pause_key
from models.cases.lifecycle import FINAL, TRANSITIONS, WAITING_ON, Action, State, Step, step_for


class Decision(RunInput):
    """A human decision, written by the web app and handed over by its dispatcher."""

    action: Action
    event_id: int
    by_user: str
    note: str = ""


# An async flow (its tasks are plain functions, run in turn): Prefect's sync engine keeps each step's
# process ~1 s past its suspension, joining a heartbeat thread that sleeps in whole seconds, and a
# worker takes no resume of a run whose last process is alive; the async engine does not wait for it
# (docs/performance.md, goal 2).
@flow(name="complaint-lifecycle", flow_run_name="{case_number}", persist_result=True, log_prints=True)
async def complaint_lifecycle(
    case_id: int,
    case_number: str,
    event_id: int,
    first_decision: int = 0,
    step: str = Step.dm.value,
    restart: bool = False,
) -> str:
    """Carry one complaint from logging to closure.

    1. log_complaint records the operator's case (or its reopening after closure, in a
       new run whose suspends go on from `first_decision`) and tells the DMs. A `restart`
       (a person started a new run for a case whose run could not go on) instead rejoins
       the case at `step` with rejoin_case: the latest event's messages not yet sent go out.
    2. Suspend for the DM: assign (-> 3) or reject (ends, rejected).
    3. Suspend for the officer: resolve (-> 4) or send back (-> 2).
    4. Suspend for the callback, an operator ringing the caller: satisfied (-> 5), not satisfied
       (-> 3), not reachable (-> 4 again, one more try) or, after the tries, the Collector's
       closure without the caller's word (ends, closed).
    5. Suspend for the Collector: confirm (ends, closed) or reopen (-> 3).
    At any of 2-5, the DM or the Collector may merge the case into another (ends, merged); undone
    within the shift, a new run (a `restart`) rejoins the case at the step it had reached.

    The web app has already applied each decision to the case; the run records it and
    sends its hand-off notifications in one task per step, and waits for the next. A resumed run replays
    from the top: completed tasks come from their persisted results and completed
    suspends return their stored input, so nothing runs twice.
    """
    logger = get_run_logger()
    await _step(rejoin_case if restart else log_complaint, case_id, event_id)
    waiting_on = Step(step)
    decisions = first_decision
    while True:
        # No timeout: a timed-out suspend fails the run for good. Time limits are the app's.
        decision = await suspend_flow_run(wait_for_input=Decision, key=pause_key(decisions), timeout=None)
        decisions += 1
        action = Action(decision.action)
        if step_for(action) not in (waiting_on, None):  # None: a merge answers any step
            raise ValueError(f"{action.value} does not answer the {waiting_on.value} step")
        logger.info("%s: %s by %s", case_number, action.value, decision.by_user)
        await _step(RECORD[action], case_id, decision.event_id)
        target = State.merged if action == Action.merge else TRANSITIONS[action].target
        if target in FINAL:
            return State(target).value
        waiting_on = WAITING_ON[target]


async def _step(record: Task[..., dict[str, Any]], case_id: int, event_id: int) -> None:
    # A notification that still fails after its retries must not fail the case:
    # its delivery rows show the failure and a later replay or a manual retry sends it.
    # An event that does not belong to the step is a fault: it fails the run.
    if await completed(record, runtime.flow_run.id, case_id, event_id):
        return  # in an earlier process of this run, which is replaying it
    state = record(case_id, event_id, return_state=True)
    if state.is_completed():
        return
    error = await state.aresult(raise_on_failure=False)
    if isinstance(error, WrongEvent):
        raise error
    get_run_logger().warning("notifications for event %s failed: %s", event_id, state.message)
