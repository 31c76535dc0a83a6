"""One HTTP/1.1 connection from a runtime: httptools parsing, keep-alive, in-order replies.

A request may be parked (GET /next waits for work), so replies can come later; requests
pipelined behind it wait in order. httptools has no type stubs: its parser is the one
`Any` here, and it only ever calls back into this class.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from http import HTTPStatus
from typing import Any, cast

import httptools

from ember.runtime_api.errors import RequestRejectedError
from ember.runtime_api.messages import INTERNAL_SERVER_ERROR, Reply, Request, error_reply
from ember.runtime_api.routing import Router

logger = logging.getLogger(__name__)

_STATUS_LINES = {s.value: b"HTTP/1.1 %d %s\r\n" % (s.value, s.phrase.encode()) for s in HTTPStatus}
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
# What Go's net/http answers to a request it cannot parse.
_BAD_REQUEST = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
# Bodies up to this size go out in one write with their head; bigger ones are not copied.
_COALESCE_LIMIT = 64 * 1024


class Counters:
    """Totals kept across the connections of one endpoint."""

    __slots__ = ("connections", "rejected", "requests")

    def __init__(self) -> None:
        self.connections = 0  # accepted, ever
        self.requests = 0  # answered
        self.rejected = 0  # answered with a 4xx or 5xx


class Connection(asyncio.Protocol):
    """The server side of one runtime connection."""

    def __init__(
        self, router: Router, live: set[Connection], counters: Counters, max_body: int
    ) -> None:
        self._router = router
        self._live = live
        self._counters = counters
        self._max_body = max_body
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

    # -- asyncio.Protocol -------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, only alike.
        self._transport = cast(asyncio.Transport, transport)
        self._live.add(self)
        self._counters.connections += 1

    def connection_lost(self, exc: Exception | None) -> None:
        self._live.discard(self)
        head, self._head = self._head, None
        self._queue.clear()
        if head is not None and head.on_drop is not None:
            head.on_drop(head)

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._bad_request()
            return
        except httptools.HttpParserError:
            self._bad_request()
            return
        self._advance()

    # -- httptools callbacks ----------------------------------------------------------

    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = {}
        self._body = []
        self._size = 0

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        # Also called for chunked trailers, which so land with the headers.
        self._headers[name.lower()] = value

    def on_headers_complete(self) -> None:
        # curl and others wait for this before sending a body (Expect: 100-continue).
        # A request queued behind another gets none: it would jump the reply order.
        expect = self._headers.get(b"expect")
        if expect is not None and expect.lower() == b"100-continue" and self._idle:
            assert self._transport is not None
            self._transport.write(_CONTINUE)

    def on_body(self, body: bytes) -> None:
        self._size += len(body)
        if self._size <= self._max_body:
            self._body.append(body)
        elif self._body:
            self._body = []  # over the limit: count the rest, keep none

    def on_message_complete(self) -> None:
        url = self._url
        query = url.find(b"?")
        if query >= 0:
            url = url[:query]
        body = self._body
        self._queue.append(
            Request(
                self._parser.get_method().decode("ascii", "replace"),
                url.decode("latin-1"),
                self._headers,
                body[0] if len(body) == 1 else b"".join(body),
                oversize=self._size > self._max_body,
                keep_alive=bool(self._parser.should_keep_alive()),
                channel=self,
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
            self._transport.close()

    def abort(self) -> None:
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
        if self._paused and not self._queue and not self.closing:
            assert self._transport is not None
            self._transport.resume_reading()
            self._paused = False

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
        body = reply.body
        head = b"%s%sContent-Length: %d\r\n%s\r\n" % (
            _STATUS_LINES[reply.status],
            reply.headers,
            len(body),
            b"" if request.keep_alive else b"Connection: close\r\n",
        )
        if len(body) <= _COALESCE_LIMIT:
            transport.write(head + body)
        else:
            transport.write(head)
            transport.write(body)
        if not request.keep_alive:
            self._queue.clear()
            transport.close()

    def _bad_request(self) -> None:
        assert self._transport is not None
        self._queue.clear()
        if self._head is None:
            self._transport.write(_BAD_REQUEST)
        self._transport.close()
