"""uvicorn's httptools protocol, with what it writes in one turn of the loop sent as one write.

uvicorn writes a response's head when the application sends `http.response.start` and its
body when it sends `http.response.body`: two writes, so two TCP segments on loopback and
usually two wake-ups of the client, for every response (the warm Invoke's included, where
they are a tenth of the server's system calls). The application sends both in the same
task step, so holding what is written until the loop's next turn makes them one write.
Nothing is reordered nor held longer than that turn; large writes go through at once.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# Writes held past this size go out at once (a large body is not copied to join its head).
_HOLD_LIMIT = 64 * 1024


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    """What `uvicorn.Config(http=...)` runs in Ember's server."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        held = HeldWrites(transport, asyncio.get_running_loop())
        super().connection_made(cast(asyncio.Transport, held))


class HeldWrites:
    """A transport whose writes in one turn of the loop go out together at its end; every
    other call goes to the transport underneath (a write still held goes first)."""

    __slots__ = ("_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        held = self._held
        if not held:
            if len(data) >= _HOLD_LIMIT:
                self._transport.write(data)
                return
            self._loop.call_soon(self.flush)
        held.append(bytes(data))
        if len(held) > 1 and sum(map(len, held)) >= _HOLD_LIMIT:
            self.flush()

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        held = self._held
        if held:
            self._held = []
            self._transport.write(held[0] if len(held) == 1 else b"".join(held))

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def abort(self) -> None:
        self._held = []
        self._transport.abort()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(map(len, self._held))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)
