"""Measuring requests through a Host-routed door (function URLs, HTTP API routes) beside the
Invoke API: p50s of alternating rounds on one keep-alive connection (drift hits every kind
alike), and the door's throughput from keep-alive clients in another process (so their CPU
is not the server's).

    .venv/bin/python -m bench.routed --load PORT HOST PATH CLIENTS SECONDS   # prints {"rate": …}
"""

from __future__ import annotations

import asyncio
import http.client
import json
import statistics
import subprocess
import sys
import time

from bench.loadgen import read_answer

# method, path, headers, body: one kind of request
Request = tuple[str, str, dict[str, str], bytes | None]
ROUNDS = 5  # alternating rounds, so drift hits every kind alike
PER_ROUND = 400  # requests per kind per round
WARM = 50  # requests per kind before the rounds: environments, caches, keys fetched
HANDLER = "def handler(event, context):\n    return {'statusCode': 200, 'body': 'ok'}\n"


def invoke_request(name: str, body: bytes = b"{}") -> Request:
    """A synchronous Invoke API call of `name`."""
    return ("POST", f"/2015-03-31/functions/{name}/invocations", {}, body)


def samples(connection: http.client.HTTPConnection, request: Request, count: int) -> list[float]:
    """µs per request, back to back on one keep-alive connection."""
    method, path, headers, body = request
    taken = []
    for _ in range(count):
        start = time.perf_counter()
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"{method} {path}: {response.status}")
        taken.append((time.perf_counter() - start) * 1e6)
    return taken


def p50s(port: int, kinds: dict[str, Request]) -> dict[str, float]:
    """p50 µs of each kind of request: WARM of each, then ROUNDS alternating rounds."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    taken: dict[str, list[float]] = {kind: [] for kind in kinds}
    try:
        for request in kinds.values():
            samples(connection, request, WARM)
        for _ in range(ROUNDS):
            for kind, request in kinds.items():
                taken[kind] += samples(connection, request, PER_ROUND)
    finally:
        connection.close()
    return {kind: statistics.median(values) for kind, values in taken.items()}


def throughput(port: int, host: str, path: str, clients: int, seconds: float) -> float:
    """Requests/s of `GET path` with `Host: host` from `clients` keep-alive connections,
    measured in another process."""
    out = subprocess.run(
        [sys.executable, "-m", "bench.routed", "--load", str(port), host, path, str(clients),
         str(seconds)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    rate: float = json.loads(out.stdout)["rate"]
    return rate


async def _load(port: int, host: str, path: str, clients: int, seconds: float) -> None:
    """Keep-alive clients sending `GET path` with the door's Host; prints the rate as JSON."""
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()

    async def client(deadline: float, done: list[int]) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.perf_counter() < deadline:
                writer.write(request)
                head, _ = await read_answer(reader)
                if not head.startswith(b"HTTP/1.1 200"):
                    raise RuntimeError(head.decode(errors="replace"))
                done.append(1)
        finally:
            writer.close()

    warm: list[int] = []
    await asyncio.gather(*(client(time.perf_counter() + 0.5, warm) for _ in range(clients)))
    done: list[int] = []
    start = time.perf_counter()
    await asyncio.gather(*(client(start + seconds, done) for _ in range(clients)))
    print(json.dumps({"rate": len(done) / (time.perf_counter() - start)}))


if __name__ == "__main__":
    if sys.argv[1:2] != ["--load"] or len(sys.argv) != 7:
        print(__doc__)
        sys.exit(0 if sys.argv[1:2] in (["--help"], ["-h"]) else 2)
    port, host, path, clients, seconds = sys.argv[2:7]
    asyncio.run(_load(int(port), host, path, int(clients), float(seconds)))
