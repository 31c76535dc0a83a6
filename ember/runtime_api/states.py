"""The Runtime API state machine of one environment: its states and the one table of moves.

Values are the state names of AWS's Runtime Interface Emulator (`lambda/core`) where it
has one, because they appear in the 403 body a runtime gets for an illegal transition:
"State transition from <state> to <event> failed for runtime. Error: ...".

    STARTING ───next───▶ IDLE ◀──────next────── RESPONDED
        │               │  ▲ └─next (re-park)     ▲   ▲
        │           dispatch                       │   │
        │               ▼                          │   │
        │            INVOKING ──response / error───┘   │ response (the body's end)
        │               │    └──stream──▶ STREAMING ───┘
    init_error       abandon                 │
        ▼               ▼                    │
    INIT_FAILED      ABANDONED ◀──abandon────┘      (any state) ──close──▶ CLOSED
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

from ember.runtime_api.errors import InvalidStateTransitionError


class RuntimeState(StrEnum):
    # The process was launched and has not asked for work yet: Init is running.
    STARTING = "Started"
    # Init is done and no invocation is out: the runtime is parked in GET /next.
    IDLE = "Ready"
    # An invocation was handed to the runtime; its /response or /error is awaited.
    INVOKING = "Running"
    # The runtime is streaming its response (POST /response in streaming mode, unfinished).
    STREAMING = "Streaming"
    # The runtime reported the result and has not come back to GET /next yet.
    RESPONDED = "RuntimeResponseSentState"
    # The runtime POSTed /init/error: it will never take work.
    INIT_FAILED = "InitError"
    # The platform gave up on an invocation in flight (timeout, process died).
    ABANDONED = "Abandoned"
    # The endpoint was closed.
    CLOSED = "Closed"


class RuntimeEvent(StrEnum):
    # Requests from the runtime; values are the RIE's target names in its 403 messages.
    NEXT = "Ready"
    RESPONSE = "InvocationResponse"
    ERROR = "InvocationErrorResponse"
    INIT_ERROR = "InitError"
    # The head of a streamed POST /response: its body is relayed as it comes.
    STREAM = "InvocationResponseStream"
    # Moves made by the platform.
    DISPATCH = "Dispatch"
    ABANDON = "Abandon"
    CLOSE = "Close"


_S = RuntimeState
_E = RuntimeEvent

# (state, event) -> next state; a pair not listed is an illegal transition.
TRANSITIONS: Mapping[tuple[RuntimeState, RuntimeEvent], RuntimeState] = MappingProxyType(
    {
        (_S.STARTING, _E.NEXT): _S.IDLE,
        (_S.STARTING, _E.INIT_ERROR): _S.INIT_FAILED,
        # A runtime may poll again, e.g. after its parked connection dropped (AWS allows it).
        (_S.IDLE, _E.NEXT): _S.IDLE,
        (_S.IDLE, _E.DISPATCH): _S.INVOKING,
        (_S.INVOKING, _E.RESPONSE): _S.RESPONDED,
        (_S.INVOKING, _E.ERROR): _S.RESPONDED,
        (_S.INVOKING, _E.ABANDON): _S.ABANDONED,
        (_S.INVOKING, _E.STREAM): _S.STREAMING,
        # The end of the streamed body (its trailers may name an error: still a response).
        (_S.STREAMING, _E.RESPONSE): _S.RESPONDED,
        (_S.STREAMING, _E.ABANDON): _S.ABANDONED,
        (_S.RESPONDED, _E.NEXT): _S.IDLE,
    }
    | {(state, _E.CLOSE): _S.CLOSED for state in RuntimeState}
)


def transition(state: RuntimeState, event: RuntimeEvent) -> RuntimeState:
    """The state `event` moves `state` to; InvalidStateTransitionError if it may not."""
    try:
        return TRANSITIONS[state, event]
    except KeyError:
        raise InvalidStateTransitionError(state, event) from None
