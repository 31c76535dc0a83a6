"""Micro-benchmark: invoke round trips through one RuntimeEndpoint (not a test).

A runtime-like client in another process (raw sockets on one keep-alive connection, like
aws-lambda-cpp's curl handle; or http.client) loops GET /next -> POST /response while
this process calls `endpoint.invoke()` N times and times each call. One warm invoke is
two runtime requests, so "server CPU per request" is this process's CPU / (2 * N).

    .venv/bin/python bench/runtime_api_roundtrip.py [-n 20000] [--loop uvloop|asyncio]
        [--client raw|http.client] [--pin none|same|split] [--payload-bytes 64] [--json]

`make bench` runs it too (`--json`, one row of its table).
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import socket
import statistics
import sys
import time
from collections.abc import Callable

import uvloop

from ember.runtime_api import Invocation, RuntimeEndpoint

NEXT = b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: runtime\r\n\r\n"
ARN = "arn:aws:lambda:us-east-1:000000000000:function:bench"
WARMUP = 1000


# -- the runtime side (a child process) ------------------------------------------------


def raw_runtime(address: str, count: int) -> None:
    """GET /next, echo the event to /response, `count` times, on one socket."""
    host, port = address.rsplit(":", 1)
    sock = socket.create_connection((host, int(port)))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buffer = b""

    def receive() -> tuple[bytes, bytes]:
        nonlocal buffer
        while (end := buffer.find(b"\r\n\r\n")) < 0:
            buffer += _recv(sock)
        head = buffer[:end]
        length = int(head.split(b"Content-Length: ", 1)[1].split(b"\r\n", 1)[0])
        total = end + 4 + length
        while len(buffer) < total:
            buffer += _recv(sock)
        body, buffer = buffer[end + 4 : total], buffer[total:]
        return head, body

    for _ in range(count):
        sock.sendall(NEXT)
        head, event = receive()
        request_id = head.split(b"Lambda-Runtime-Aws-Request-Id: ", 1)[1].split(b"\r\n", 1)[0]
        sock.sendall(
            b"POST /2018-06-01/runtime/invocation/%s/response HTTP/1.1\r\nHost: runtime\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
            % (request_id, len(event), event)
        )
        receive()
    sock.close()


def _recv(sock: socket.socket) -> bytes:
    data = sock.recv(65536)
    if not data:
        raise ConnectionError("the endpoint closed the connection")
    return data


def http_client_runtime(address: str, count: int) -> None:
    """The same loop on http.client, as a pure-Python runtime would write it."""
    connection = http.client.HTTPConnection(address)
    for _ in range(count):
        connection.request("GET", "/2018-06-01/runtime/invocation/next")
        delivered = connection.getresponse()
        event = delivered.read()
        request_id = delivered.headers["Lambda-Runtime-Aws-Request-Id"]
        path = f"/2018-06-01/runtime/invocation/{request_id}/response"
        connection.request("POST", path, event, {"Content-Type": "application/json"})
        connection.getresponse().read()
    connection.close()


RUNTIMES: dict[str, Callable[[str, int], None]] = {
    "raw": raw_runtime,
    "http.client": http_client_runtime,
}


# -- the platform side -----------------------------------------------------------------


def percentile(ordered: list[int], p: float) -> float:
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] / 1000


async def platform(args: argparse.Namespace) -> None:
    endpoint = RuntimeEndpoint()
    address = await endpoint.start()
    total = WARMUP + args.n
    child = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--runtime", address, "--count", str(total),
        "--client", args.client, "--pin", args.pin,
    )  # fmt: skip
    try:
        async with asyncio.timeout(10):
            assert await endpoint.wait_ready() is None
        payload = b'{"k":"' + b"v" * max(0, args.payload_bytes - 8) + b'"}'
        deadline = int(time.time() * 1000) + 900_000
        invocations = [
            Invocation(f"req-{i:08d}", payload, deadline, ARN, f"Root=1-{i:08x}")
            for i in range(total)
        ]
        for invocation in invocations[:WARMUP]:
            await endpoint.invoke(invocation)
        samples = []
        clock = time.perf_counter_ns
        cpu_start, wall_start = os.times(), time.perf_counter()
        for invocation in invocations[WARMUP:]:
            started = clock()
            await endpoint.invoke(invocation)
            samples.append(clock() - started)
        wall = time.perf_counter() - wall_start
        cpu_end = os.times()
        user, system = cpu_end.user - cpu_start.user, cpu_end.system - cpu_start.system
    finally:
        await child.wait()
        await endpoint.close()
    samples.sort()
    cpu_per_invoke = (user + system) / args.n * 1e6
    if args.json:  # for `make bench`'s table
        print(json.dumps({
            "p50": percentile(samples, 0.5), "p99": percentile(samples, 0.99),
            "rate": args.n / wall, "cpu_per_request": cpu_per_invoke / 2,
        }))  # fmt: skip
        return
    print(
        f"loop={args.loop} client={args.client} pin={args.pin} n={args.n} "
        f"payload={len(payload)}B\n"
        f"  round trip per invoke: p50 {percentile(samples, 0.5):.1f} us  "
        f"p90 {percentile(samples, 0.9):.1f} us  p99 {percentile(samples, 0.99):.1f} us  "
        f"max {samples[-1] / 1000:.1f} us  mean {statistics.fmean(samples) / 1000:.1f} us\n"
        f"  throughput: {args.n / wall:,.0f} invokes/s\n"
        f"  server CPU: {(user + system) / args.n * 1e6:.1f} us per invoke "
        f"(user {user / args.n * 1e6:.1f}, kernel {system / args.n * 1e6:.1f}), "
        f"{(user + system) / (2 * args.n) * 1e6:.1f} us per runtime request"
    )


def pin(where: str, role: str) -> None:
    if where == "same":
        os.sched_setaffinity(0, {0})
    elif where == "split":
        os.sched_setaffinity(0, {0 if role == "platform" else 1})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=20000)
    parser.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop")
    parser.add_argument("--client", choices=sorted(RUNTIMES), default="raw")
    parser.add_argument("--pin", choices=["none", "same", "split"], default="none")
    parser.add_argument("--payload-bytes", type=int, default=64)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--runtime", help=argparse.SUPPRESS)  # child: the endpoint's address
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.runtime:
        pin(args.pin, "runtime")
        RUNTIMES[args.client](args.runtime, args.count)
        return
    pin(args.pin, "platform")
    if args.loop == "uvloop":
        uvloop.run(platform(args))
    else:
        asyncio.run(platform(args))


if __name__ == "__main__":
    main()
