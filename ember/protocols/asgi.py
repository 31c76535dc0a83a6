"""The ASGI side of a front door: reading a request's headers and body, writing a whole
answer. Every door (SQS, Kinesis, DynamoDB, EventBridge, SNS, function URLs, HTTP APIs)
reads and writes the same way; what it says stays its own."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Header = tuple[bytes, bytes]


class ClientGoneError(Exception):
    """The client disconnected before its request's body was read: nobody to answer."""


def header(scope: Scope, name: bytes) -> str | None:
    """The first value of header `name` (lower case, as ASGI servers hand names over)."""
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


async def read_body(receive: Receive) -> bytes:
    """The whole body."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def read_body_within(receive: Receive, limit: int) -> bytes | None:
    """The whole body, or None once it passes `limit` (the rest is left unread). Raises
    ClientGoneError when the client disconnects first."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGoneError
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def respond(send: Send, status: int, headers: Sequence[Header], body: bytes) -> None:
    """The whole answer at once, its Content-Length added."""
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
