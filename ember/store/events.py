"""What the durable queue holds: one asynchronous event, its states and their legal moves.

    READY ──claim──▶ IN_FLIGHT ──retry / backoff / restart──▶ READY
                         │
                         ├──succeeded──▶ DONE
                         └──gave up────▶ FAILED

DONE and FAILED are terminal: the transaction that records them also removes the event's
row (and hands any follow-up events over), so the queue holds only live events.
"""

from __future__ import annotations

import dataclasses
import enum

from ember.errors import ServiceError


class EventState(enum.StrEnum):
    READY = "ready"
    IN_FLIGHT = "in_flight"
    DONE = "done"
    FAILED = "failed"


# state -> the states it may move to; everything else is an InvalidEventTransition.
TRANSITIONS: dict[EventState, frozenset[EventState]] = {
    EventState.READY: frozenset({EventState.IN_FLIGHT}),
    EventState.IN_FLIGHT: frozenset({EventState.READY, EventState.DONE, EventState.FAILED}),
    EventState.DONE: frozenset(),
    EventState.FAILED: frozenset(),
}


class InvalidEventTransition(ServiceError):
    """An event was asked to move where its state machine does not allow (a bug)."""


def check_transition(source: EventState, target: EventState) -> None:
    if target not in TRANSITIONS[source]:
        raise InvalidEventTransition(f"an event cannot move from {source} to {target}")


@dataclasses.dataclass(frozen=True, slots=True)
class NewEvent:
    """An event to be written: accepted from a caller, or handed over to a destination."""

    request_id: str
    target: str  # the function's name
    qualifier: str | None
    payload: bytes
    received: float  # wall seconds when it was accepted
    context: str | None = None  # client context JSON text, passed to the function as is


@dataclasses.dataclass(frozen=True, slots=True)
class QueuedEvent:
    """An event as the queue holds it, with what its earlier attempts left behind."""

    id: int
    request_id: str
    target: str
    qualifier: str | None
    payload: bytes
    received: float
    context: str | None
    attempts: int  # invocations that ran the function (what Lambda's invoke count counts)
    backoffs: int  # consecutive throttles and system errors (they grow the backoff)
    outcome: bytes | None  # the last attempt's outcome, opaque to the store (JSON)


@dataclasses.dataclass(frozen=True, slots=True)
class TargetDepth:
    """One function's share of the queue."""

    target: str
    ready: int
    in_flight: int
    oldest_received: float | None  # wall seconds of its oldest live event
    dropped: int  # events that ended FAILED, since the queue was created
