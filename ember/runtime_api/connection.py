"""One HTTP/1.1 connection from a runtime: httptools parsing, keep-alive, in-order replies.

A request may be parked (GET /next waits for work), so replies can come later; requests
pipelined behind it wait in order. httptools has no type stubs: its parser is the one
`Any` here, and it only ever calls back into this class.

What a connection may make the endpoint hold is bounded (the code inside is untrusted):
the URL (414), the number and size of header lines (431), the body per route (413), and
the connections open at once per endpoint. Bodies held unfinished are bounded per endpoint
too (`BodyBudget`): small ones share a pool, and one at a time may be large, only the result
of the invocation handed out (or Init's failure); any other large body is refused unread
(413, or the handler's own refusal such as 400 InvalidRequestID). A refusal is answered,
if the connection is not waiting on an earlier reply, and the connection is closed.

A response in streaming mode (`Lambda-Runtime-Function-Response-Mode: streaming`, usually
chunked, maybe with error trailers) is not held: once its head is parsed, its route may
give it a ResponseStream, and each piece of body goes there as it is parsed, up to the
streamed-response limit; the request itself (headers and trailers, no body) is then
handled when it ends, as any other. While the stream's reader lags, the connection stops
reading from the runtime (`ResponseStream` says when).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from http import HTTPStatus
from typing import Any, NoReturn, Protocol, cast

import httptools

from ember.runtime_api.errors import RequestRejectedError
from ember.runtime_api.extensions import MAX_EXTENSIONS
from ember.runtime_api.messages import (
    INTERNAL_SERVER_ERROR,
    Reply,
    Request,
    entity_too_large_reply,
    error_reply,
)
from ember.runtime_api.routing import Router
from ember.runtime_api.streaming import (
    MAX_STREAMED_RESPONSE_BYTES,
    RESPONSE_MODE_HEADER,
    STREAMING,
    ResponseStream,
)

logger = logging.getLogger(__name__)

_STATUS_LINES = {s.value: b"HTTP/1.1 %d %s\r\n" % (s.value, s.phrase.encode()) for s in HTTPStatus}
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
# What Go's net/http answers to a request it cannot parse (then it closes).
_BAD_REQUEST = Reply(400)
_URI_TOO_LONG = Reply(414)
_HEADERS_TOO_LARGE = Reply(431)

# A Runtime API path is under 100 bytes; longer than this is refused as nginx does (414).
MAX_URL = 8 * 1024
# Header lines per request (Apache's LimitRequestFields); a runtime sends a handful.
MAX_HEADERS = 100
# Request line and headers together: Go's net/http default (1 MiB + 4 KiB), which the RIE
# serves with; awslambdaric puts X-Ray error causes of up to 1 MiB in one header.
MAX_HEAD_BYTES = (1 << 20) + 4096
# Bodies of routes that carry no function response or error (extensions, polls, unknown),
# and any body before its route has been asked whether it may be large.
MAX_SMALL_BODY = 1 << 20
# Small bodies held unfinished at once across an endpoint's connections: a runtime's result
# and an extension's request fit together; beside them, one large body (BodyBudget).
SMALL_BODY_POOL = 2 * MAX_SMALL_BODY
# An oversize body is read on and dropped, so that the runtime gets its 413 and keeps its
# connection, up to this many times its limit; past that it is answered at once and closed.
DRAIN_FACTOR = 4
# Connections open at once per endpoint: the runtime's and Lambda's 10 extensions' parked
# polls, and a few more for their other calls.
MAX_CONNECTIONS = 1 + MAX_EXTENSIONS + 5
# Of which held on the environment's own descriptors (the runtime's and one more); the
# others borrow 1 descriptor each from the server's shared allowance, if it has any left.
OWN_CONNECTIONS = 2


class Lender(Protocol):
    """The server's descriptors shared by every environment (sandbox.descriptors.Allowance)."""

    def take(self, fds: int) -> bool: ...
    def give_back(self, fds: int) -> None: ...


# Bodies up to this size go out in one write with their head; bigger ones are not copied.
_COALESCE_LIMIT = 64 * 1024
# A small reply to a request with another pipelined behind it waits, this long at most, to
# go out in one write with the next reply: Ember's Python runtime sends its response and
# its next poll together, and so gets the 202 and its next invocation in one read (one
# write and one wake-up of the runtime less per warm invoke). Seconds.
HOLD_PIPELINED = 0.002


class Counters:
    """Totals kept across the connections of one endpoint."""

    __slots__ = ("connections", "refused", "rejected", "requests")

    def __init__(self) -> None:
        self.connections = 0  # accepted, ever
        self.refused = 0  # closed at once: MAX_CONNECTIONS were open, or no descriptor lent
        self.requests = 0  # answered
        self.rejected = 0  # answered with a 4xx or 5xx


class BodyBudget:
    """What the connections of one endpoint may hold of request bodies not yet complete:
    small bodies share SMALL_BODY_POOL bytes; one body at a time may grow to the response
    limit. So an endpoint holds at most its response limit + SMALL_BODY_POOL, however many
    connections the code inside opens."""

    __slots__ = ("large", "pool", "small")

    def __init__(self, pool: int = SMALL_BODY_POOL) -> None:
        self.pool = pool
        self.small = 0  # bytes of small bodies held
        self.large: Connection | None = None  # the connection receiving the large body


class _Refused(Exception):
    """Raised from a parser callback to stop parsing a request the connection refuses."""


class Connection(asyncio.Protocol):
    """The server side of one runtime connection."""

    def __init__(
        self,
        router: Router,
        live: set[Connection],
        counters: Counters,
        max_body: int,
        lender: Lender | None = None,
        budget: BodyBudget | None = None,
    ) -> None:
        self._router = router
        self._live = live
        self._counters = counters
        self._max_body = max_body
        self._budget = budget if budget is not None else BodyBudget()
        self._lender = lender
        self._borrowed = False  # holds a descriptor lent by `lender`
        self._transport: asyncio.Transport | None = None
        self._parser: Any = httptools.HttpRequestParser(self)
        self._paused = False
        # The request being answered (maybe parked), then those pipelined behind it.
        self._head: Request | None = None
        self._queue: deque[Request] = deque()
        # The message being parsed.
        self._url = b""
        self._headers: dict[bytes, bytes] = {}
        self._body: list[bytes] = []
        self._size = 0
        # Bounds of the message being parsed: its header lines, the bytes received while
        # its head was incomplete, its body limit (raised once its route admits it as the
        # endpoint's one large body), its bytes counted in the budget's small pool.
        self._in_head = False
        self._header_count = 0
        self._header_bytes = 0
        self._head_received = 0
        self._limit = min(MAX_SMALL_BODY, max_body)
        self._large = False
        self._pooled = 0
        # Where the body of the message being parsed goes as it arrives (streaming mode).
        self._stream: ResponseStream | None = None
        # Reading paused because the stream's reader lags (beside `_paused`, for pipelining).
        self._throttled = False
        # Set once parsing stopped for good, with what to answer; or, for a body cut off,
        # with the cut-off request queued for its handler to answer.
        self._stopped = False
        self._refusal: Reply | None = None
        self._cut_off = False
        # Replies rendered and held for the next one (HOLD_PIPELINED), and their deadline.
        self._held: list[bytes] = []
        self._hold_timer: asyncio.TimerHandle | None = None

    # -- asyncio.Protocol -------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, only alike.
        self._transport = cast(asyncio.Transport, transport)
        if len(self._live) >= MAX_CONNECTIONS or not self._borrow():
            self._counters.refused += 1
            self._stopped = True
            self._transport.close()
            return
        self._live.add(self)
        self._counters.connections += 1

    def _borrow(self) -> bool:
        """Whether this connection may be held: on its environment's own descriptors, or
        on one lent by the server."""
        if len(self._live) < OWN_CONNECTIONS or self._lender is None:
            return True
        self._borrowed = self._lender.take(1)
        return self._borrowed

    def connection_lost(self, exc: Exception | None) -> None:
        self._live.discard(self)
        self._release()
        self._drop_held()
        if self._borrowed and self._lender is not None:
            self._borrowed = False
            self._lender.give_back(1)
        head, self._head = self._head, None
        self._queue.clear()
        if head is not None and head.on_drop is not None:
            head.on_drop(head)

    def data_received(self, data: bytes) -> None:
        if self._stopped:
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._refuse(_BAD_REQUEST)
            return
        except httptools.HttpParserError:
            # Our own callbacks raise _Refused through the parser, which wraps it.
            self._stopped = True
            if not self._cut_off:
                self._refuse(self._refusal or _BAD_REQUEST)
                return
        if self._in_head:
            # httptools keeps an unfinished header line to itself: count what it was fed.
            # An upper bound (the chunk may end an earlier message), good enough for a limit.
            self._head_received += len(data)
            if self._head_received > MAX_HEAD_BYTES:
                self._refuse(_HEADERS_TOO_LARGE)
                return
        self._advance()

    # -- httptools callbacks ----------------------------------------------------------

    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = {}
        self._body = []
        self._size = 0
        self._in_head = True
        self._header_count = self._header_bytes = self._head_received = 0
        self._limit = min(MAX_SMALL_BODY, self._max_body)
        self._large = False
        self._pooled = 0
        self._stream = None

    def on_url(self, url: bytes) -> None:
        self._url += url
        if len(self._url) > MAX_URL:
            self._stop(_URI_TOO_LONG)

    def on_header(self, name: bytes, value: bytes) -> None:
        # Also called for chunked trailers, which so land with the headers.
        self._header_count += 1
        self._header_bytes += len(name) + len(value) + 4
        if self._header_count > MAX_HEADERS or self._header_bytes + len(self._url) > MAX_HEAD_BYTES:
            self._stop(_HEADERS_TOO_LARGE)
        self._headers[name.lower()] = value

    def on_headers_complete(self) -> None:
        self._in_head = False
        mode = self._headers.get(RESPONSE_MODE_HEADER)
        if mode is not None and mode.lower() == STREAMING and self._idle:
            self._open_stream()
        declared = self._headers.get(b"content-length")
        if (
            self._stream is None
            and declared is not None
            and declared.isdigit()
            and int(declared) > self._limit
        ):
            # Announced too big to be small: admitted (or refused) before a byte is read.
            self._take_large(int(declared))
        # curl and others wait for this before sending a body (Expect: 100-continue).
        # A request queued behind another gets none: it would jump the reply order.
        expect = self._headers.get(b"expect")
        if expect is not None and expect.lower() == b"100-continue" and self._idle:
            assert self._transport is not None
            self._transport.write(_CONTINUE)

    def on_body(self, body: bytes) -> None:
        size = self._size = self._size + len(body)
        stream = self._stream
        if stream is not None:
            if size <= self._limit:
                stream.write(body, self._pause_for_stream)
            elif size > self._limit * DRAIN_FACTOR:
                self._enqueue(keep_alive=False)
                self._cut_off = True
                self._stop(None)
            return  # past the limit: counted (the handler fails the invocation), not relayed
        if not self._large:
            budget = self._budget
            if size > self._limit or budget.small + len(body) > budget.pool:
                # Past the small limit, or the pool is full: only the route's own request
                # may go on, as the endpoint's one large body.
                self._take_large(size)
            else:
                budget.small += len(body)
                self._pooled += len(body)
        if size <= self._limit:
            self._body.append(body)
            return
        self._body = []  # over the limit: count the rest, keep none
        if size > self._limit * DRAIN_FACTOR:
            # A response or error that never ends: its handler fails the invocation as for
            # any oversize body; the 413 goes out with Connection: close.
            self._enqueue(keep_alive=False)
            self._cut_off = True
            self._stop(None)

    def on_message_complete(self) -> None:
        self._enqueue(keep_alive=bool(self._parser.should_keep_alive()))

    # -- parsing helpers ----------------------------------------------------------------

    def _method(self) -> str:
        method: bytes = self._parser.get_method()
        return method.decode("ascii", "replace")

    def _path(self) -> str:
        url = self._url
        query = url.find(b"?")
        return (url if query < 0 else url[:query]).decode("latin-1")

    def _stop(self, refusal: Reply | None) -> NoReturn:
        """Stop parsing: answer `refusal` and close (None: a cut-off request is queued)."""
        self._refusal = refusal
        raise _Refused

    def _open_stream(self) -> None:
        """Send the body of the message being parsed to its route's ResponseStream, if its
        route gives one now; or refuse the request unread as its handler would."""
        try:
            stream = self._router.open_stream(self._method(), self._path(), self._headers)
        except RequestRejectedError as exc:
            self._stop(error_reply(exc.status, exc.error_type, exc.message))
        if stream is not None:
            self._stream = stream
            self._limit = MAX_STREAMED_RESPONSE_BYTES

    def _pause_for_stream(self) -> Callable[[], None]:
        """Stop reading until the stream's reader catches up; what resumes."""
        if not self._paused and self._transport is not None:
            self._transport.pause_reading()
        self._throttled = True
        return self._resume_for_stream

    def _resume_for_stream(self) -> None:
        self._throttled = False
        if not self._paused and not self.closing and not self._stopped:
            assert self._transport is not None
            self._transport.resume_reading()

    def _take_large(self, size: int) -> None:
        """Make the message being parsed (`size` bytes so far, or announced) the endpoint's
        large body, or refuse it unread: only a route that takes one, for a request its
        handler would accept, one at a time."""
        small_limit = self._limit
        try:
            admitted = self._router.admit_large_body(self._method(), self._path())
        except RequestRejectedError as exc:
            self._stop(error_reply(exc.status, exc.error_type, exc.message))
        budget = self._budget
        if admitted and budget.large is not None:
            self._stop(_busy_reply(small_limit, "another large body is being received"))
        if not admitted:
            if size <= small_limit:  # within its limit: the pool is what is full
                self._stop(_busy_reply(small_limit, "other bodies fill the endpoint's pool"))
            self._stop(entity_too_large_reply(small_limit))
        budget.large = self
        budget.small -= self._pooled
        self._pooled = 0
        self._large = True
        self._limit = self._max_body

    def _release(self) -> None:
        """Give back what the message being parsed holds of the endpoint's budget."""
        budget = self._budget
        budget.small -= self._pooled
        self._pooled = 0
        if budget.large is self:
            budget.large = None

    def _enqueue(self, *, keep_alive: bool) -> None:
        # The body now belongs to its request (and on to the invocation's result).
        self._release()
        body = self._body
        self._body = []
        self._queue.append(
            Request(
                self._method(),
                self._path(),
                self._headers,
                body[0] if len(body) == 1 else b"".join(body),
                oversize=self._size > self._limit,
                keep_alive=keep_alive,
                channel=self,
                streamed=self._stream is not None,
            )
        )
        if self._head is not None and not self._paused:
            # Pipelined behind a parked request: stop reading until it is answered.
            assert self._transport is not None
            self._transport.pause_reading()
            self._paused = True

    # -- Channel ------------------------------------------------------------------------

    @property
    def closing(self) -> bool:
        return self._transport is None or self._transport.is_closing()

    def send(self, request: Request, reply: Reply) -> None:
        """Answer `request`, the one at the head; then serve what was pipelined behind it."""
        if request is not self._head:
            raise RuntimeError("a reply must answer the request at the head of its connection")
        self._write(request, reply)
        self._advance()

    def close(self) -> None:
        if self._transport is not None:
            self._flush_held()
            self._transport.close()

    def abort(self) -> None:
        self._drop_held()
        if self._transport is not None:
            self._transport.abort()

    # -- internals ------------------------------------------------------------------

    @property
    def _idle(self) -> bool:
        return self._head is None and not self._queue

    def _advance(self) -> None:
        while self._head is None and self._queue:
            request = self._head = self._queue.popleft()
            reply = self._dispatch(request)
            if reply is not None:
                self._write(request, reply)
        if self._paused and not self._queue and not self.closing and not self._stopped:
            assert self._transport is not None
            self._paused = False
            if not self._throttled:  # else the stream's reader resumes it
                self._transport.resume_reading()

    def _dispatch(self, request: Request) -> Reply | None:
        handler, params = self._router.resolve(request.method, request.path)
        try:
            return handler(request, params)
        except RequestRejectedError as exc:
            return error_reply(exc.status, exc.error_type, exc.message)
        except Exception:
            # The HTTP edge: a bug in a handler answers 500 (as the RIE does), never a crash.
            logger.exception("Runtime API handler failed: %s %s", request.method, request.path)
            return INTERNAL_SERVER_ERROR

    def _write(self, request: Request, reply: Reply) -> None:
        self._head = None
        counters = self._counters
        counters.requests += 1
        if reply.status >= 400:
            counters.rejected += 1
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        if self._queue and request.keep_alive and len(reply.body) <= _COALESCE_LIMIT:
            # Another request is pipelined behind this one: its reply may join this one.
            self._held.append(_head(reply, keep_alive=True) + reply.body)
            if self._hold_timer is None:
                loop = asyncio.get_running_loop()
                self._hold_timer = loop.call_later(HOLD_PIPELINED, self._flush_held)
            return
        held = self._take_held()
        _render(transport, reply, keep_alive=request.keep_alive, before=held)
        if not request.keep_alive:
            self._queue.clear()
            transport.close()

    def _refuse(self, reply: Reply) -> None:
        """Answer a request that could not be parsed or was too big, then close."""
        assert self._transport is not None
        self._stopped = True
        self._release()
        self._body = []
        self._queue.clear()
        self._flush_held()  # replies already due go first
        if self._head is None and not self._transport.is_closing():
            # Otherwise the connection still owes an earlier reply: close without one.
            self._counters.requests += 1
            self._counters.rejected += 1
            _render(self._transport, reply, keep_alive=False)
        self._transport.close()

    def _take_held(self) -> bytes:
        """The held replies (to go before the next one), no longer held."""
        if self._hold_timer is not None:
            self._hold_timer.cancel()
            self._hold_timer = None
        held, self._held = self._held, []
        return b"".join(held)

    def _flush_held(self) -> None:
        held = self._take_held()
        if held and self._transport is not None and not self._transport.is_closing():
            self._transport.write(held)

    def _drop_held(self) -> None:
        self._take_held()


def _busy_reply(limit: int, why: str) -> Reply:
    """413 for a body refused for what the endpoint already holds, not for its own size."""
    message = f"Exceeded maximum allowed payload size ({limit} bytes) while {why}."
    return error_reply(413, "RequestEntityTooLarge", message)


def _head(reply: Reply, *, keep_alive: bool) -> bytes:
    return b"%s%sContent-Length: %d\r\n%s\r\n" % (
        _STATUS_LINES[reply.status],
        reply.headers,
        len(reply.body),
        b"" if keep_alive else b"Connection: close\r\n",
    )


def _render(
    transport: asyncio.Transport, reply: Reply, *, keep_alive: bool, before: bytes = b""
) -> None:
    """Write `reply` (after `before`, replies held for it)."""
    body = reply.body
    head = _head(reply, keep_alive=keep_alive)
    if len(body) <= _COALESCE_LIMIT:
        transport.write(before + head + body)
    else:
        transport.write(before + head)
        transport.write(body)
