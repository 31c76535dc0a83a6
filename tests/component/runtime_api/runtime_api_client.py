"""The runtime side of the Runtime API component tests: a raw HTTP/1.1 client and helpers."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, replace

from ember.runtime_api import Invocation, RuntimeEndpoint

ARN = "arn:aws:lambda:us-east-1:000000000000:function:hello"
TRACE_ROOT = "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419"


def response_path(request_id: str) -> str:
    return f"/2018-06-01/runtime/invocation/{request_id}/response"


def error_path(request_id: str) -> str:
    return f"/2018-06-01/runtime/invocation/{request_id}/error"


def forbidden(state: str, event: str) -> bytes:
    message = (
        f"State transition from {state} to {event} failed for runtime. "
        "Error: State transition is not allowed"
    )
    return (
        json.dumps(
            {"errorMessage": message, "errorType": "InvalidStateTransition"}, separators=(",", ":")
        ).encode()
        + b"\n"
    )


def invocation(n: int = 1, **changes: object) -> Invocation:
    base = Invocation(
        request_id=f"8476a536-e9f4-11e8-9739-{n:012d}",
        payload=b'{"n": %d}' % n,
        deadline_ms=1_700_000_003_000 + n,
        invoked_function_arn=ARN,
        trace_id=TRACE_ROOT + f";Sampled={n % 2}",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def serving(**kwargs: int) -> AsyncIterator[tuple[RuntimeEndpoint, str]]:
    endpoint = RuntimeEndpoint(**kwargs)
    address = await endpoint.start()
    try:
        yield endpoint, address
    finally:
        await endpoint.close()


async def eventually(condition: Callable[[], bool]) -> None:
    """Poll `condition` until it holds; fail after 2 s."""
    async with asyncio.timeout(2):
        # Polling with a deadline on purpose: the conditions are statistics, not events.
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.001)


@dataclass
class Response:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self) -> object:
        return json.loads(self.body)


class RuntimeClient:
    """One keep-alive connection of a runtime: raw HTTP/1.1 over asyncio streams."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    @contextlib.asynccontextmanager
    async def connect(cls, address: str) -> AsyncIterator[RuntimeClient]:
        host, port = address.rsplit(":", 1)
        reader, writer = await asyncio.open_connection(host, int(port))
        client = cls(reader, writer)
        try:
            yield client
        finally:
            await client.close()

    async def close(self) -> None:
        if not self.writer.is_closing():
            self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()

    def send(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        headers: Iterable[tuple[str, str]] = (),
    ) -> None:
        self.writer.write(render_request(method, path, body, headers))

    async def receive(self) -> Response:
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")[:-2]
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        return Response(int(status_line.split()[1]), headers, body)

    async def request(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        headers: Iterable[tuple[str, str]] = (),
    ) -> Response:
        self.send(method, path, body, headers)
        return await self.receive()

    async def at_eof(self) -> bool:
        """Whether the server closed this connection (without sending anything more)."""
        try:
            return await self.reader.read(1) == b""
        except ConnectionError:
            return True


def render_request(
    method: str, path: str, body: bytes = b"", headers: Iterable[tuple[str, str]] = ()
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{n}: {v}" for n, v in headers)]
    if not any(n.lower() == "transfer-encoding" for n, _ in headers):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def park(endpoint: RuntimeEndpoint, client: RuntimeClient) -> None:
    """Send GET /next and wait until the endpoint holds it."""
    parked = endpoint.statistics().polls_dropped
    client.send("GET", NEXT)
    await eventually(lambda: endpoint.statistics().parked)
    assert endpoint.statistics().polls_dropped == parked
