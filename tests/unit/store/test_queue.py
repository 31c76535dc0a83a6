"""The durable event queue: states, transitions, atomic hand-over, crash recovery."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ember.store.events import (
    TRANSITIONS,
    EventState,
    InvalidEventTransition,
    NewEvent,
    check_transition,
)
from ember.store.queue import Claim, Depths, Enqueue, EventQueue, Finish, Op, Reschedule


def event(n: int, target: str = "fn", received: float = 100.0) -> NewEvent:
    return NewEvent(f"req-{n}", target, None, b'{"n": %d}' % n, received)


def one(queue: EventQueue, op: Op) -> Any:
    """Apply one op in its own transaction; raise what it raised."""
    (result,) = queue.apply([op])
    if isinstance(result, BaseException):
        raise result
    return result


def test_claim_takes_due_events_oldest_first_and_once(tmp_path: Path) -> None:
    queue = EventQueue(tmp_path / "q.db")
    one(queue, Enqueue([event(1, received=10.0), event(2, received=5.0), event(3, received=50.0)]))
    claimed, next_due = one(queue, Claim(now=20.0, limit=10))
    assert [e.request_id for e in claimed] == ["req-2", "req-1"]
    assert next_due == 50.0
    again, _ = one(queue, Claim(now=20.0, limit=10))
    assert again == []  # in flight: not handed out twice


def test_claim_respects_the_limit(tmp_path: Path) -> None:
    queue = EventQueue(tmp_path / "q.db")
    one(queue, Enqueue([event(n) for n in range(5)]))
    claimed, next_due = one(queue, Claim(now=100.0, limit=2))
    assert len(claimed) == 2
    assert next_due == 100.0  # more are due right now


def test_a_rescheduled_event_keeps_its_request_id_and_waits(tmp_path: Path) -> None:
    queue = EventQueue(tmp_path / "q.db")
    one(queue, Enqueue([event(1)]))
    (first,), _ = one(queue, Claim(now=100.0, limit=1))
    one(queue, Reschedule(first.id, not_before=160.0, attempts=1, backoffs=0, outcome=b"{}"))
    assert one(queue, Claim(now=159.0, limit=1)) == ([], 160.0)
    (second,), _ = one(queue, Claim(now=160.0, limit=1))
    assert (second.id, second.request_id, second.attempts, second.outcome) == (
        first.id, "req-1", 1, b"{}",
    )  # fmt: skip


def test_finishing_hands_follow_ups_over_in_the_same_transaction(tmp_path: Path) -> None:
    queue = EventQueue(tmp_path / "q.db")
    one(queue, Enqueue([event(1)]))
    (claimed,), _ = one(queue, Claim(now=100.0, limit=1))
    one(queue, Finish(claimed.id, "fn", EventState.FAILED, [event(9, target="dlq")]))
    (dead_letter,), _ = one(queue, Claim(now=100.0, limit=5))
    assert (dead_letter.target, dead_letter.request_id) == ("dlq", "req-9")
    depths = {d.target: d for d in one(queue, Depths())}
    assert depths["fn"].dropped == 1
    assert depths["fn"].ready == depths["fn"].in_flight == 0
    assert depths["dlq"].in_flight == 1


def test_an_illegal_move_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    queue = EventQueue(tmp_path / "q.db")
    (event_id,) = one(queue, Enqueue([event(1)]))
    with pytest.raises(InvalidEventTransition):  # READY -> DONE skips IN_FLIGHT
        one(queue, Finish(event_id, "fn", EventState.DONE, [event(2)]))
    claimed, _ = one(queue, Claim(now=100.0, limit=5))
    assert [e.request_id for e in claimed] == ["req-1"]  # the follow-up was not written


def test_one_failing_op_does_not_undo_the_rest_of_its_batch(tmp_path: Path) -> None:
    queue = EventQueue(tmp_path / "q.db")
    results = queue.apply(
        [Enqueue([event(1)]), Finish(12345, "fn", EventState.DONE), Enqueue([event(2)])]
    )
    assert isinstance(results[1], InvalidEventTransition)
    claimed, _ = one(queue, Claim(now=100.0, limit=5))
    assert sorted(e.request_id for e in claimed) == ["req-1", "req-2"]


def test_events_in_flight_at_a_crash_are_ready_again_after_reopening(tmp_path: Path) -> None:
    queue = EventQueue(tmp_path / "q.db")
    one(queue, Enqueue([event(1), event(2), event(3)]))
    claimed, _ = one(queue, Claim(now=100.0, limit=2))
    (done, _) = claimed
    one(queue, Finish(done.id, "fn", EventState.DONE))
    queue.close()  # no orderly hand-back: as if the process died here
    reopened = EventQueue(tmp_path / "q.db")
    assert reopened.recover() == 1
    again, _ = one(reopened, Claim(now=100.0, limit=5))
    assert sorted(e.request_id for e in again) == sorted(
        {"req-1", "req-2", "req-3"} - {done.request_id}
    )


def test_the_transition_table_allows_only_lambdas_moves() -> None:
    assert TRANSITIONS[EventState.DONE] == TRANSITIONS[EventState.FAILED] == frozenset()
    check_transition(EventState.READY, EventState.IN_FLIGHT)
    for source, target in [
        (EventState.READY, EventState.DONE),
        (EventState.READY, EventState.FAILED),
        (EventState.DONE, EventState.READY),
        (EventState.FAILED, EventState.IN_FLIGHT),
    ]:
        with pytest.raises(InvalidEventTransition):
            check_transition(source, target)
