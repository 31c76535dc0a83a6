"""The event source mapping state machine and Lambda's batch rules."""

from __future__ import annotations

import pytest

from ember.control.mappings import (
    SETTLED,
    TRANSITIONS,
    InvalidStateTransitionError,
    MappingState,
    SourceFacts,
    _check_fifo,
    _check_window,
    _moved,
)
from ember.errors import InvalidParameterValueError

S = MappingState


def test_every_state_has_its_moves() -> None:
    assert set(TRANSITIONS) == set(MappingState)
    assert TRANSITIONS[S.DELETING] == frozenset()
    for state in MappingState:
        if state is not S.DELETING:
            assert S.DELETING in TRANSITIONS[state], state  # anything may be deleted
    for transient in set(MappingState) - SETTLED - {S.DELETING}:
        assert TRANSITIONS[transient] & SETTLED, transient  # every change settles


@pytest.mark.parametrize(
    ("old", "new"),
    [(S.CREATING, S.UPDATING), (S.DELETING, S.ENABLED), (S.ENABLED, S.ENABLED),
     (S.DISABLED, S.DISABLING), (S.ENABLING, S.DISABLED)],
)  # fmt: skip
def test_illegal_moves_are_refused(old: MappingState, new: MappingState) -> None:
    with pytest.raises(InvalidStateTransitionError):
        _moved(old, new)


def test_batch_rules() -> None:
    _check_window(10, 0)
    _check_window(10_000, 1)
    with pytest.raises(InvalidParameterValueError, match="must be greater than 0"):
        _check_window(11, 0)
    _check_fifo(SourceFacts("sqs", fifo=True), 10, 0)
    with pytest.raises(InvalidParameterValueError):
        _check_fifo(SourceFacts("sqs", fifo=True), 10, 5)
