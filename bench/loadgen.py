"""A small keep-alive HTTP load generator (asyncio, raw sockets), run in its own process
so the client's CPU is not the server's. Prints JSON: latencies in µs and the rate.

Arguments: HOST PORT PATH CLIENTS SECONDS [INVOCATION_TYPE]; with an invocation type
(e.g. Event) each request carries X-Amz-Invocation-Type and a 202 counts as success."""

from __future__ import annotations

import asyncio
import json
import sys
import time


async def read_answer(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """One HTTP/1.1 answer off a keep-alive connection: its head and its Content-Length
    body."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    return head, await reader.readexactly(length) if length else b""


async def _client(
    host: str,
    port: int,
    request: bytes,
    deadline: float,
    latencies: list[float],
    ok: bytes = b"HTTP/1.1 200",
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            writer.write(request)
            head, _ = await read_answer(reader)
            if not head.startswith(ok):
                raise RuntimeError(head.decode(errors="replace"))
            latencies.append((time.perf_counter() - start) * 1e6)
    finally:
        writer.close()


async def main(
    host: str,
    port: int,
    path: str,
    clients: int,
    seconds: float,
    invocation_type: str | None = None,
) -> None:
    body = b'{"bench": true}'
    extra = f"X-Amz-Invocation-Type: {invocation_type}\r\n" if invocation_type else ""
    ok = b"HTTP/1.1 202" if invocation_type == "Event" else b"HTTP/1.1 200"
    request = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"{extra}Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    # Warm up every connection's environment before measuring.
    warm: list[float] = []
    await asyncio.gather(
        *(_client(host, port, request, time.perf_counter() + 0.5, warm, ok) for _ in range(clients))
    )
    latencies: list[float] = []
    start = time.perf_counter()
    deadline = start + seconds
    await asyncio.gather(
        *(_client(host, port, request, deadline, latencies, ok) for _ in range(clients))
    )
    elapsed = time.perf_counter() - start
    latencies.sort()
    print(
        json.dumps(
            {
                "count": len(latencies),
                "sent": len(latencies) + len(warm),  # warm-up requests included
                "rate": len(latencies) / elapsed,
                "p50": latencies[len(latencies) // 2],
                "p99": latencies[int(len(latencies) * 0.99)],
            }
        )
    )


if __name__ == "__main__":
    host, port, path, clients, seconds = sys.argv[1:6]
    kind = sys.argv[6] if len(sys.argv) > 6 else None
    try:
        import uvloop

        uvloop.run(main(host, int(port), path, int(clients), float(seconds), kind))
    except ImportError:
        asyncio.run(main(host, int(port), path, int(clients), float(seconds), kind))
