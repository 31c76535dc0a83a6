"""Recursive loop detection: hop counts carried by trace headers, the 16th hop stopped
unless the function allows loops (pure logic, no server)."""

from __future__ import annotations

from typing import Any, cast

from ember.control.recursion import RecursiveLoop
from ember.invoke.recursion import MAX_HOPS, RecursionGuard, trace_header


class Loops:
    def __init__(self, allowed: set[str]) -> None:
        self.allowed = allowed

    def loop_of(self, name: str) -> RecursiveLoop:
        return RecursiveLoop.ALLOW if name in self.allowed else RecursiveLoop.TERMINATE


def guard(*allowed: str, capacity: int = 1000) -> RecursionGuard:
    return RecursionGuard(cast(Any, Loops(set(allowed))), capacity=capacity)


def chain(g: RecursionGuard, function: str, hops: int) -> list[str | None]:
    """Invoke `function` over and over, each time for a message its last run sent."""
    ids: list[str | None] = []
    header: str | None = None
    for _ in range(hops):
        request_id = g.start(function, [header])
        ids.append(request_id)
        if request_id is None:
            break
        header = trace_header(request_id, 1_700_000_000.0)
    return ids


def test_a_loop_is_stopped_at_its_sixteenth_hop() -> None:
    ids = chain(guard(), "f", 40)
    assert len(ids) == MAX_HOPS + 1
    assert None not in ids[:MAX_HOPS]  # hops 0..15 run
    assert ids[MAX_HOPS] is None  # the 16th is dropped


def test_allow_lets_the_loop_go_on() -> None:
    assert None not in chain(guard("f"), "f", 40)


def test_messages_from_outside_start_a_chain() -> None:
    g = guard()
    first = g.start("f", [None])
    assert first is not None
    assert g.hop_of(trace_header(first, 0.0)) == 0
    # A header of an invocation Ember does not remember (a client's own call): hop 0 sent it.
    unknown = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    second = g.start("f", [unknown])
    assert second is not None
    assert g.hop_of(trace_header(second, 0.0)) == 1
    assert g.hop_of("not a trace header") is None


def test_a_batch_counts_its_deepest_message() -> None:
    g = guard()
    ids = chain(g, "f", 5)
    deepest = trace_header(str(ids[-1]), 0.0)
    shallow = trace_header(str(ids[0]), 0.0)
    started = g.start("g", [shallow, None, deepest])
    assert started is not None
    assert g.hop_of(trace_header(started, 0.0)) == 5


def test_headers_with_more_fields_still_parse() -> None:
    g = guard()
    request_id = g.start("f", [])
    assert request_id is not None
    header = trace_header(request_id, 0.0)
    assert g.hop_of(f"Self=1-abc;{header};Lineage=a87bd80c:3") == 0


def test_only_the_latest_request_ids_are_remembered() -> None:
    g = guard(capacity=2)
    ids = chain(g, "f", 3)
    assert g.hop_of(trace_header(str(ids[0]), 0.0)) == 0  # forgotten: counts as a start
    assert g.hop_of(trace_header(str(ids[2]), 0.0)) == 2
