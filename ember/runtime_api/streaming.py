"""A streamed response on its way from the runtime's connection to whoever invoked.

A runtime streams by POSTing /response with `Lambda-Runtime-Function-Response-Mode:
streaming` and a chunked body. The connection hands each piece of body to the invocation's
ResponseStream as it is parsed; the invoker reads them as they come. Everything runs on the
event loop's thread: no locks.

Memory is bounded twice: the whole stream by MAX_STREAMED_RESPONSE_BYTES (the connection
stops relaying past it), and what waits unread by HIGH_WATER: past it the stream asks the
connection to stop reading from the runtime until the reader has taken what waits.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

# Lambda's soft limit on a streamed response: 20 MiB (it caps bandwidth past 6 MiB; Ember
# does not).
MAX_STREAMED_RESPONSE_BYTES = 20 * 1024 * 1024
# Unread bytes past which the runtime's connection stops being read (until the next read).
HIGH_WATER = 1024 * 1024

RESPONSE_MODE_HEADER = b"lambda-runtime-function-response-mode"
STREAMING = b"streaming"


class ResponseStream:
    """The chunks of one invocation's streamed response, written by the runtime's
    connection and read by the invoker. Created by the invoker (one per invocation that
    can stream); opened when the runtime starts streaming; closed when the invocation
    ends, whatever its outcome."""

    __slots__ = (
        "_buffered",
        "_chunks",
        "_closed",
        "_content_type",
        "_opened",
        "_resume",
        "_waiter",
    )

    def __init__(self) -> None:
        self._chunks: deque[bytes] = deque()
        self._buffered = 0  # bytes written and not yet read
        self._opened = False
        self._closed = False
        self._content_type: str | None = None
        # The reader parked in read() or wait_open(), if any.
        self._waiter: asyncio.Future[None] | None = None
        # Set while the connection is paused: resumes its reading.
        self._resume: Callable[[], None] | None = None

    # -- the runtime's side (the connection) --------------------------------------------

    def open(self, content_type: str | None) -> None:
        """The runtime began a streamed response, declaring `content_type`."""
        self._opened = True
        self._content_type = content_type
        self._wake()

    def write(self, chunk: bytes, pause: Callable[[], Callable[[], None]]) -> None:
        """Add a piece of the body. Past HIGH_WATER unread, call `pause()`, which stops
        reading from the runtime and returns what resumes it."""
        if self._closed or not chunk:
            return  # the invocation is over (timed out, say): nobody reads any more
        self._chunks.append(chunk)
        self._buffered += len(chunk)
        if self._buffered > HIGH_WATER and self._resume is None:
            self._resume = pause()
        self._wake()

    # -- the invoker's side --------------------------------------------------------------

    @property
    def opened(self) -> bool:
        """Whether the runtime streamed (else the result carries the whole response)."""
        return self._opened

    @property
    def content_type(self) -> str | None:
        """The Content-Type the runtime declared for the stream."""
        return self._content_type

    async def wait_open(self) -> None:
        """Until the runtime starts streaming, or the invocation ends."""
        while not self._opened and not self._closed:
            await self._wait()

    async def read(self) -> bytes | None:
        """What has arrived since the last read, waiting for some; None once the
        invocation is over and everything was read."""
        while not self._chunks:
            if self._closed:
                return None
            await self._wait()
        chunks = self._chunks
        data = chunks.popleft() if len(chunks) == 1 else b"".join(chunks)
        chunks.clear()
        self._buffered = 0
        self._release()
        return data

    def close(self) -> None:
        """The invocation is over: no more chunks; a paused connection may read again."""
        self._closed = True
        self._release()
        self._wake()

    # -- internals ------------------------------------------------------------------

    def _release(self) -> None:
        """Let a paused connection read again."""
        if self._resume is not None:
            resume, self._resume = self._resume, None
            resume()

    async def _wait(self) -> None:
        waiter = self._waiter = asyncio.get_running_loop().create_future()
        try:
            await waiter
        finally:
            self._waiter = None

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
