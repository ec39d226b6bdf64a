"""The case state machine: every allowed and every forbidden transition."""

from __future__ import annotations

import itertools

import pytest

from models.cases.lifecycle import (
    FINAL,
    MERGE_ROLES,
    TRANSITIONS,
    WAITING_ON,
    Action,
    InvalidTransition,
    State,
    allowed_actions,
    apply,
    role_for,
)

ALLOWED = {
    (State.awaiting_assignment, Action.assign): State.assigned,
    (State.awaiting_assignment, Action.reject): State.rejected,
    (State.assigned, Action.resolve): State.callback,
    (State.assigned, Action.send_back): State.awaiting_assignment,
    (State.callback, Action.satisfied): State.resolved,
    (State.callback, Action.not_satisfied): State.assigned,
    (State.callback, Action.unreachable): State.callback,
    (State.callback, Action.close_unverified): State.closed,
    (State.resolved, Action.confirm): State.closed,
    (State.resolved, Action.reopen): State.assigned,
    (State.closed, Action.reopen_closed): State.awaiting_assignment,
    # Any open case may be merged (an unmerge's target comes from the case's history: never from apply).
    (State.awaiting_assignment, Action.merge): State.merged,
    (State.assigned, Action.merge): State.merged,
    (State.callback, Action.merge): State.merged,
    (State.resolved, Action.merge): State.merged,
}
FORBIDDEN = [pair for pair in itertools.product(State, Action) if pair not in ALLOWED]


@pytest.mark.parametrize(("state", "action"), list(ALLOWED))
def test_it_allows(state: State, action: Action) -> None:
    assert apply(state, action) == ALLOWED[(state, action)]


@pytest.mark.parametrize(("state", "action"), FORBIDDEN)
def test_it_forbids(state: State, action: Action) -> None:
    with pytest.raises(InvalidTransition):
        apply(state, action)


def test_it_lists_actions_per_state() -> None:
    assert allowed_actions(State.awaiting_assignment) == [Action.assign, Action.reject]
    assert allowed_actions(State.assigned) == [Action.resolve, Action.send_back]
    assert allowed_actions(State.callback) == [
        Action.satisfied,
        Action.not_satisfied,
        Action.unreachable,
        Action.close_unverified,
    ]
    assert allowed_actions(State.resolved) == [Action.confirm, Action.reopen]
    assert allowed_actions(State.closed) == [Action.reopen_closed]
    assert allowed_actions(State.rejected) == []
    assert allowed_actions(State.merged) == []
    assert FINAL == {State.closed, State.rejected, State.merged}


def test_it_gives_each_action_to_one_role() -> None:
    assert MERGE_ROLES == {"dm", "collector"}
    assert {a: role_for(a) for a in TRANSITIONS} == {
        Action.assign: "dm",
        Action.reject: "dm",
        Action.resolve: "officer",
        Action.send_back: "officer",
        Action.satisfied: "operator",
        Action.not_satisfied: "operator",
        Action.unreachable: "operator",
        Action.close_unverified: "collector",
        Action.confirm: "collector",
        Action.reopen: "collector",
        Action.reopen_closed: "operator",
    }
    assert len(TRANSITIONS) == len(ALLOWED) - len(WAITING_ON)  # the merges apart
