"""The Runtime API's view of one environment: its state, the parked poll, the invocation in flight.

The runtime's requests arrive from the handlers (`next`, `complete`, `init_error`); the
platform's calls come from RuntimeEndpoint (`wait_ready`, `wait_idle`, `invoke`, `close`).
Everything runs on the event loop's thread, so no locks: each method is one step.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from ember.runtime_api.errors import (
    EndpointBusyError,
    EndpointClosedError,
    InitFailedError,
    InvalidRequestIDError,
)
from ember.runtime_api.invocation import InitError, Invocation, RuntimeResponse
from ember.runtime_api.messages import Reply, Request, invocation_reply
from ember.runtime_api.states import RuntimeEvent, RuntimeState, transition
from ember.runtime_api.streaming import ResponseStream

_S = RuntimeState
_FINISHED = frozenset({_S.INIT_FAILED, _S.ABANDONED, _S.CLOSED})
_RUNNING = frozenset({_S.INVOKING, _S.STREAMING})  # an invocation is out


class _InFlight:
    """An invocation from invoke() until its result: waiting for a poll, then for the result."""

    __slots__ = ("dispatched", "future", "invocation", "reply")

    def __init__(self, invocation: Invocation, future: asyncio.Future[RuntimeResponse]) -> None:
        self.invocation = invocation
        self.reply = invocation_reply(invocation)  # rendered before any poll waits on it
        self.future = future
        self.dispatched = False


class Lifecycle:
    """State, parked poll and in-flight invocation of one environment's runtime."""

    def __init__(self) -> None:
        self.state = _S.STARTING
        self.invocations = 0  # handed to the runtime, ever
        self.polls_dropped = 0  # parked GET /next whose connection went away
        self._poll: Request | None = None
        self._in_flight: _InFlight | None = None
        # The id last handed out: the only one /response and /error may name (the RIE's
        # GetCurrentInvokeID), kept after the result so a duplicate gets 403, not 400.
        self._current_id: str | None = None
        self._init_settled = False
        self._init_error: InitError | None = None
        # Platform calls waiting for a state change; all are woken on every change.
        self._waiters: list[asyncio.Future[None]] = []

    @property
    def parked(self) -> bool:
        return self._poll is not None

    # -- requests from the runtime --------------------------------------------------

    def next(self, poll: Request) -> Reply | None:
        """GET /next: deliver the waiting invocation at once, or park the poll until one comes."""
        state = transition(self.state, RuntimeEvent.NEXT)
        previous = self._poll
        if previous is not None and previous is not poll:
            # Only the newest poll is served; an older one is likely half-dead.
            self._poll = None
            previous.channel.close()
        if self.state is _S.STARTING:
            self._init_settled = True
        self._set_state(state)
        in_flight = self._in_flight
        if in_flight is not None and not in_flight.dispatched:
            return self._dispatch(in_flight)
        self._poll = poll
        poll.on_drop = self._poll_dropped
        return None

    def complete(self, request_id: str, event: RuntimeEvent, response: RuntimeResponse) -> None:
        """POST /response or /error for `request_id` (event RESPONSE or ERROR)."""
        # Like the RIE, the id is checked before the state: a wrong id never moves it.
        if request_id != self._current_id:
            raise InvalidRequestIDError()
        self._set_state(transition(self.state, event))
        in_flight, self._in_flight = self._in_flight, None
        if in_flight is not None and not in_flight.future.done():
            in_flight.future.set_result(response)

    def open_stream(self, request_id: str, content_type: str | None) -> ResponseStream | None:
        """The head of a streamed POST /response: the stream its body goes to as it comes,
        or None when the invoker wants the response whole (then the body is buffered as
        any other and complete() checks it)."""
        if request_id != self._current_id:
            raise InvalidRequestIDError()
        in_flight = self._in_flight
        stream = in_flight.invocation.stream if in_flight is not None else None
        if stream is None:
            return None
        self._set_state(transition(self.state, RuntimeEvent.STREAM))
        stream.open(content_type)
        return stream

    def check_complete(self, request_id: str, event: RuntimeEvent) -> None:
        """Raise what complete() would raise now, without moving: a large result is
        refused before it is read."""
        if request_id != self._current_id:
            raise InvalidRequestIDError()
        transition(self.state, event)

    def check_init_error(self) -> None:
        """Raise what init_error() would raise now, without moving."""
        transition(self.state, RuntimeEvent.INIT_ERROR)

    def init_error(self, error: InitError) -> None:
        """POST /init/error."""
        self._set_state(transition(self.state, RuntimeEvent.INIT_ERROR))
        self._init_settled = True
        self._init_error = error
        self._fail_in_flight(InitFailedError(error))

    # -- calls from the platform --------------------------------------------------

    async def wait_ready(self) -> InitError | None:
        """Init's outcome: None once the runtime first polls, or its InitError."""
        await self._wait_until(lambda: self._init_settled or self.state is _S.CLOSED)
        if not self._init_settled:
            raise EndpointClosedError("the endpoint closed before the runtime finished Init")
        return self._init_error

    async def wait_idle(self) -> None:
        """Until the runtime is parked in GET /next with no invocation out."""
        await self._wait_until(lambda: self.state is _S.IDLE or self.state in _FINISHED)
        self._check_usable()

    async def invoke(self, invocation: Invocation) -> RuntimeResponse:
        """Hand `invocation` to the runtime's poll (now or when it comes); await its result."""
        self._check_usable()
        if self._in_flight is not None:
            raise EndpointBusyError(
                f"invocation {self._in_flight.invocation.request_id} is still in flight"
            )
        in_flight = _InFlight(invocation, asyncio.get_running_loop().create_future())
        self._in_flight = in_flight
        poll = self._poll
        if poll is not None and self.state is _S.IDLE:
            if poll.closing:
                self._poll_dropped(poll)
            else:
                poll.reply(self._dispatch(in_flight))
        try:
            return await in_flight.future
        except asyncio.CancelledError:
            self._cancelled(in_flight)
            raise

    def close(self) -> None:
        """Fail every waiter and forget the parked poll; any later runtime request gets 403."""
        if self.state is _S.CLOSED:
            return
        self._poll = None
        self._set_state(transition(self.state, RuntimeEvent.CLOSE))
        self._fail_in_flight(EndpointClosedError("the endpoint was closed"))

    # -- internals ------------------------------------------------------------------

    def _dispatch(self, in_flight: _InFlight) -> Reply:
        self._set_state(transition(self.state, RuntimeEvent.DISPATCH))
        self._poll = None
        in_flight.dispatched = True
        self._current_id = in_flight.invocation.request_id
        self.invocations += 1
        return in_flight.reply

    def _cancelled(self, in_flight: _InFlight) -> None:
        if self._in_flight is not in_flight:
            return  # its result or failure came first
        self._in_flight = None
        if in_flight.dispatched and self.state in _RUNNING:
            # The runtime may be running it still: this environment cannot be trusted again.
            self._set_state(transition(self.state, RuntimeEvent.ABANDON))
        # Not yet handed out: simply withdrawn, and the environment stays usable.

    def _poll_dropped(self, poll: Request) -> None:
        if self._poll is poll:
            self._poll = None
            self.polls_dropped += 1

    def _fail_in_flight(self, error: Exception) -> None:
        in_flight, self._in_flight = self._in_flight, None
        if in_flight is not None and not in_flight.future.done():
            in_flight.future.set_exception(error)

    def _check_usable(self) -> None:
        if self.state is _S.INIT_FAILED:
            assert self._init_error is not None
            raise InitFailedError(self._init_error)
        if self.state in _FINISHED:
            raise EndpointClosedError(f"the endpoint is {self.state}")

    def _set_state(self, state: RuntimeState) -> None:
        self.state = state
        if self._waiters:
            waiters, self._waiters = self._waiters, []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

    async def _wait_until(self, settled: Callable[[], bool]) -> None:
        while not settled():
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            await waiter
