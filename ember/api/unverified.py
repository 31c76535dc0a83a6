"""Request bodies read before their signature is checked, within a server-wide budget.

A SigV4 signature covers the body's hash, so the guard (api/auth.py) reads a body before it
can tell whether its sender holds the key's secret: anyone who knows an access key id could
make the server hold bodies. What it holds is bounded twice: per request by its operation's
own maximum (Invoke 6 MB, the code uploads 70 MB, CloudWatch Logs 2 MiB), and across the
server by UNVERIFIED_BUDGET, both refused before a byte is read when Content-Length says
so. A body leaves the budget once its signature has been checked, good or bad.

The body is hashed as it streams in and kept as its chunks, handed to the route as they
came: no copy of it is made here.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]

# Bytes of bodies held at once, server-wide, before their signatures are checked: one
# 70 MB code upload (CreateFunction's 50 MB zip in base64) and ~58 MiB beside it.
UNVERIFIED_BUDGET = 128 * 1024 * 1024


class TooLargeError(Exception):
    """The body is larger than its operation accepts (`size` bytes declared or read)."""

    def __init__(self, size: int) -> None:
        super().__init__(f"{size} bytes")
        self.size = size


class OverBudgetError(Exception):
    """The server holds as many unverified bytes as it may: refuse, the client retries."""


class ClientGoneError(Exception):
    """The client disconnected while its body was read: nothing to answer."""


class UnverifiedBudget:
    """Bytes held server-wide for bodies whose signature is not yet checked."""

    __slots__ = ("held", "limit")

    def __init__(self, limit: int = UNVERIFIED_BUDGET) -> None:
        self.limit = limit
        self.held = 0

    def take(self, size: int) -> bool:
        if self.held + size > self.limit:
            return False
        self.held += size
        return True

    def give_back(self, size: int) -> None:
        self.held -= size


@dataclasses.dataclass(slots=True)
class Body:
    """A body read whole and not yet verified; `reserved` bytes of the budget are its."""

    chunks: list[bytes]
    sha256: str
    reserved: int

    def joined(self) -> bytes:
        """The body in one piece (a copy only when it came in several)."""
        chunks = self.chunks
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def replay(self, receive: Receive) -> Receive:
        """A `receive` that hands the route the chunks already read, then the real channel."""
        pending = collections.deque(self.chunks or [b""])
        self.chunks = []  # the route owns them now

        async def replay() -> Message:
            if pending:
                chunk = pending.popleft()
                return {"type": "http.request", "body": chunk, "more_body": bool(pending)}
            return await receive()

        return replay


async def read_unverified(
    receive: Receive, declared: int | None, limit: int, budget: UnverifiedBudget
) -> Body:
    """The whole body within `limit` bytes and `budget` (its Content-Length `declared`, if
    any, is reserved up front). The caller gives `Body.reserved` back once it is verified.
    """
    if declared is not None and declared > limit:
        raise TooLargeError(declared)
    reserved = declared or 0
    if reserved and not budget.take(reserved):
        raise OverBudgetError
    try:
        hasher = hashlib.sha256()
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                raise ClientGoneError
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise TooLargeError(size)
            if size > reserved:  # no Content-Length (chunked): reserved as it comes
                if not budget.take(size - reserved):
                    raise OverBudgetError
                reserved = size
            if chunk:
                hasher.update(chunk)
                chunks.append(chunk)
            if not message.get("more_body", False):
                return Body(chunks, hasher.hexdigest(), reserved)
    except BaseException:
        budget.give_back(reserved)
        raise
