"""The case state machine: which actions move a case, and who may take them. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class State(StrEnum):
    awaiting_assignment = "awaiting_assignment"  # logged; waits on the DM
    assigned = "assigned"  # waits on the officer
    callback = "callback"  # officer acted; waits on an operator ringing the caller back
    resolved = "resolved"  # the caller confirmed; waits on the Collector
    closed = "closed"  # Collector confirmed
    rejected = "rejected"  # DM rejected it (not a grievance, duplicate, ...)
    merged = "merged"  # the DM or the Collector merged it into another case, which carries the problem


class Action(StrEnum):
    assign = "assign"
    reject = "reject"
    resolve = "resolve"
    send_back = "send_back"
    satisfied = "satisfied"  # an operator rang the caller back: resolved, with their 1-5 rating
    not_satisfied = "not_satisfied"  # the caller says it is not resolved: back to the officer
    unreachable = "unreachable"  # the caller did not answer: one more try later
    close_unverified = "close_unverified"  # the Collector closes after the tries, with a reason
    confirm = "confirm"
    reopen = "reopen"
    reopen_closed = "reopen_closed"  # an operator, on the caller's new complaint about a closed case
    merge = "merge"  # the DM or the Collector: the same problem as another open case (MERGE)
    unmerge = "unmerge"  # the merge undone within its shift: back to the step it had reached


class Step(StrEnum):
    """The human step a case waits on, named by who acts."""

    dm = "dm"
    officer = "officer"
    callback = "callback"  # an operator rings the caller back
    collector = "collector"


@dataclass(frozen=True)
class Transition:
    action: Action
    source: State
    target: State
    role: str  # the Role value allowed to take it


TRANSITIONS: dict[Action, Transition] = {
    t.action: t
    for t in (
        Transition(Action.assign, State.awaiting_assignment, State.assigned, "dm"),
        Transition(Action.reject, State.awaiting_assignment, State.rejected, "dm"),
        Transition(Action.resolve, State.assigned, State.callback, "officer"),
        Transition(Action.send_back, State.assigned, State.awaiting_assignment, "officer"),
        Transition(Action.satisfied, State.callback, State.resolved, "operator"),
        Transition(Action.not_satisfied, State.callback, State.assigned, "operator"),
        Transition(Action.unreachable, State.callback, State.callback, "operator"),  # a try; waits on
        # After the category's callback_tries unanswered tries (models/cases/decisions.py).
        Transition(Action.close_unverified, State.callback, State.closed, "collector"),
        Transition(Action.confirm, State.resolved, State.closed, "collector"),
        Transition(Action.reopen, State.resolved, State.assigned, "collector"),
        # Within the category's reopen_days of the closure; starts a new run of the case's flow.
        Transition(Action.reopen_closed, State.closed, State.awaiting_assignment, "operator"),
    )
}

WAITING_ON: dict[State, Step] = {
    State.awaiting_assignment: Step.dm,
    State.assigned: Step.officer,
    State.callback: Step.callback,
    State.resolved: Step.collector,
}

# A case's flow run ends in these; a closed case may be reopened, by a new run.
FINAL = frozenset({State.closed, State.rejected, State.merged})

# Any open case, whatever step it waits on, may be merged into another open case by these roles:
# its run ends, merged. Undone within the shift (models/cases/merging.py), a new run carries it on
# from the step it had reached. Neither is in TRANSITIONS: they answer every step.
MERGE_ROLES = frozenset({"dm", "collector"})


class InvalidTransition(ValueError):
    """The action does not apply to a case in its current state."""

    def __init__(self, action: Action, state: State) -> None:
        super().__init__(f"cannot {action.value} a case that is {state.value}")
        self.action = action
        self.state = state


def apply(state: State, action: Action) -> State:
    """Return the state after action, or raise InvalidTransition.

    An unmerge is refused here whatever the state: its target is the state the case had before its
    merge, which only its history knows (models/cases/merging.unmerge).
    """
    if Action(action) in (Action.merge, Action.unmerge):
        if Action(action) == Action.unmerge or State(state) not in WAITING_ON:
            raise InvalidTransition(Action(action), State(state))
        return State.merged
    transition = TRANSITIONS[Action(action)]
    if State(state) != transition.source:
        raise InvalidTransition(Action(action), State(state))
    return transition.target


def allowed_actions(state: State) -> list[Action]:
    """The actions open on a case in state, in display order."""
    return [t.action for t in TRANSITIONS.values() if t.source == state]


def role_for(action: Action) -> str:
    """The role that takes action (a merge or its undoing: any of MERGE_ROLES)."""
    return TRANSITIONS[Action(action)].role


def step_for(action: Action) -> Step | None:
    """The step an action answers (the step its source state waits on); None: any step (a merge)."""
    if Action(action) in (Action.merge, Action.unmerge):
        return None
    return WAITING_ON[TRANSITIONS[Action(action)].source]
