"""The Runtime API's transition table, on its own."""

from __future__ import annotations

import itertools

import pytest

from ember.runtime_api.errors import InvalidStateTransitionError, RequestRejectedError
from ember.runtime_api.states import TRANSITIONS, RuntimeEvent, RuntimeState, transition

S = RuntimeState
E = RuntimeEvent

# Written out again on purpose: a change to the table has to be made twice.
LEGAL = {
    (S.STARTING, E.NEXT): S.IDLE,
    (S.STARTING, E.INIT_ERROR): S.INIT_FAILED,
    (S.IDLE, E.NEXT): S.IDLE,
    (S.IDLE, E.DISPATCH): S.INVOKING,
    (S.INVOKING, E.RESPONSE): S.RESPONDED,
    (S.INVOKING, E.ERROR): S.RESPONDED,
    (S.INVOKING, E.ABANDON): S.ABANDONED,
    (S.INVOKING, E.STREAM): S.STREAMING,
    (S.STREAMING, E.RESPONSE): S.RESPONDED,
    (S.STREAMING, E.ABANDON): S.ABANDONED,
    (S.RESPONDED, E.NEXT): S.IDLE,
    **{(state, E.CLOSE): S.CLOSED for state in S},
}
ILLEGAL = sorted(set(itertools.product(S, E)) - set(LEGAL))


def test_the_table_is_exactly_the_legal_moves() -> None:
    assert dict(TRANSITIONS) == LEGAL


@pytest.mark.parametrize(("state", "event"), sorted(LEGAL))
def test_legal_transition(state: RuntimeState, event: RuntimeEvent) -> None:
    assert transition(state, event) is LEGAL[state, event]


@pytest.mark.parametrize(("state", "event"), ILLEGAL)
def test_illegal_transition_raises_typed_error(state: RuntimeState, event: RuntimeEvent) -> None:
    with pytest.raises(InvalidStateTransitionError) as caught:
        transition(state, event)
    assert caught.value.state is state
    assert caught.value.event is event


def test_illegal_transition_renders_as_the_rie_does() -> None:
    with pytest.raises(RequestRejectedError) as caught:
        transition(S.IDLE, E.INIT_ERROR)
    error = caught.value
    assert (error.status, error.error_type) == (403, "InvalidStateTransition")
    assert error.message == (
        "State transition from Ready to InitError failed for runtime. "
        "Error: State transition is not allowed"
    )


def test_the_table_cannot_be_changed_at_run_time() -> None:
    with pytest.raises(TypeError):
        TRANSITIONS[S.CLOSED, E.NEXT] = S.IDLE  # type: ignore[index]


def test_state_and_event_names_are_the_ries() -> None:
    # They appear in 403 bodies: "State transition from <state> to <event> failed ...".
    assert [str(s) for s in (S.STARTING, S.IDLE, S.INVOKING, S.RESPONDED, S.INIT_FAILED)] == [
        "Started",
        "Ready",
        "Running",
        "RuntimeResponseSentState",
        "InitError",
    ]
    assert [str(e) for e in (E.NEXT, E.RESPONSE, E.ERROR, E.INIT_ERROR)] == [
        "Ready",
        "InvocationResponse",
        "InvocationErrorResponse",
        "InitError",
    ]


def test_a_warm_environment_walks_round_the_table() -> None:
    state = S.STARTING
    for event in (E.NEXT, E.DISPATCH, E.RESPONSE, E.NEXT, E.DISPATCH, E.ERROR, E.NEXT):
        state = transition(state, event)
    assert state is S.IDLE


@pytest.mark.parametrize("state", [S.INIT_FAILED, S.ABANDONED, S.CLOSED])
def test_finished_states_take_no_runtime_request(state: RuntimeState) -> None:
    for event in (E.NEXT, E.RESPONSE, E.ERROR, E.INIT_ERROR, E.DISPATCH):
        with pytest.raises(InvalidStateTransitionError):
            transition(state, event)
