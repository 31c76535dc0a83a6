"""Claims go round robin over the functions with due events: a deep backlog of one
function cannot keep another function's events waiting behind it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ember.store.events import NewEvent
from ember.store.queue import Claim, Enqueue, EventQueue


def one(queue: EventQueue, op: Any) -> Any:
    (result,) = queue.apply([op])
    if isinstance(result, BaseException):
        raise result
    return result


def events(target: str, count: int, received: float = 1.0) -> list[NewEvent]:
    return [NewEvent(f"{target}-{n}", target, None, b"{}", received + n) for n in range(count)]


def test_a_backlog_does_not_starve_a_late_function(tmp_path: Path) -> None:
    queue = EventQueue(tmp_path / "q.db")
    one(queue, Enqueue(events("busy", 1000)))
    one(queue, Enqueue(events("quiet", 1, received=5000.0)))
    claimed, _ = one(queue, Claim(now=10_000.0, limit=2))
    assert sorted(e.target for e in claimed) == ["busy", "quiet"]


def test_round_robin_goes_on_after_the_last_target_served(tmp_path: Path) -> None:
    queue = EventQueue(tmp_path / "q.db")
    for target in ("a", "b", "c"):
        one(queue, Enqueue(events(target, 3)))
    first, _ = one(queue, Claim(now=100.0, limit=2))
    assert [e.target for e in first] == ["a", "b"]
    second, _ = one(queue, Claim(now=100.0, limit=2, after=first[-1].target))
    assert [e.target for e in second] == ["c", "a"]
    # Within one function, oldest first.
    assert [e.request_id for e in (first[0], second[1])] == ["a-0", "a-1"]


def test_every_due_event_is_claimed_once(tmp_path: Path) -> None:
    queue = EventQueue(tmp_path / "q.db")
    one(queue, Enqueue(events("a", 5) + events("b", 2) + events("c", 1, received=500.0)))
    claimed, next_due = one(queue, Claim(now=100.0, limit=100))
    assert sorted(e.request_id for e in claimed) == sorted(
        [f"a-{n}" for n in range(5)] + ["b-0", "b-1"]
    )
    assert [e.target for e in claimed][:2] == ["a", "b"]  # interleaved
    assert next_due == 500.0  # c is not due yet
    assert one(queue, Claim(now=100.0, limit=100))[0] == []
