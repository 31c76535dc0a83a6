"""Queue rows: durable SendMessage and SendMessageBatch messages/s from 32 clients.

The clients are raw keep-alive HTTP connections in a separate process (`python -m
bench.queues HOST PORT QUEUE_URL CLIENTS SECONDS BATCH`), so the client's CPU is not the
server's and boto3's own cost is not measured. Every answer counted is a 200: the
messages are committed to disk (WAL, fsync) before the server answers.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from typing import Any

import boto3
from botocore.config import Config

from bench.loadgen import read_answer
from bench.server import BenchServer

Row = tuple[str, str, str]
CLIENTS = 32


def _sqs(server: BenchServer) -> Any:
    return boto3.client(
        "sqs", endpoint_url=server.endpoint, region_name="us-east-1",
        aws_access_key_id="bench", aws_secret_access_key="bench",
        config=Config(retries={"total_max_attempts": 1}),
    )  # fmt: skip


def _load(port: int, url: str, seconds: float, batch: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.queues", "127.0.0.1", str(port), url, str(CLIENTS),
         str(seconds), str(batch)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    result: dict[str, float] = json.loads(out.stdout)
    return result


def queues_rows(server: BenchServer, seconds: float) -> list[Row]:
    sqs = _sqs(server)
    rows: list[Row] = []
    for batch in (1, 10):
        url = sqs.create_queue(QueueName=f"bench-send-{batch}")["QueueUrl"]
        result = _load(server.port, url, seconds, batch)
        stored = int(sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]["ApproximateNumberOfMessages"])  # fmt: skip
        if stored < result["messages"]:
            raise RuntimeError(f"{result['messages']} messages acknowledged, {stored} stored")
        what = "SendMessage" if batch == 1 else "SendMessageBatch (10 per request)"
        target = "≥ 5,000 messages/s" if batch == 1 else ""
        rows.append((
            f"queue {what}, {CLIENTS} clients, durable", f"{result['rate']:.0f} messages/s",
            f"{target + '; ' if target else ''}p50 {result['p50']:.0f} µs, "
            f"p99 {result['p99']:.0f} µs per request; fsync'd (WAL, FULL)",
        ))  # fmt: skip
    return rows


# -- the load generator (its own process) ------------------------------------------------------


def _request(host: str, port: int, url: str, batch: int) -> bytes:
    if batch == 1:
        target = "AmazonSQS.SendMessage"
        body = json.dumps({"QueueUrl": url, "MessageBody": "bench message"}).encode()
    else:
        target = "AmazonSQS.SendMessageBatch"
        entries = [{"Id": str(i), "MessageBody": "bench message"} for i in range(batch)]
        body = json.dumps({"QueueUrl": url, "Entries": entries}).encode()
    head = (
        f"POST / HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Content-Type: application/x-amz-json-1.0\r\nX-Amz-Target: {target}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _client(
    host: str, port: int, request: bytes, deadline: float, latencies: list[float]
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            writer.write(request)
            head, body = await read_answer(reader)
            if not head.startswith(b"HTTP/1.1 200") or b'"Failed":[{' in body:
                raise RuntimeError((head + body).decode(errors="replace"))
            latencies.append((time.perf_counter() - start) * 1e6)
    finally:
        writer.close()


async def _main(host: str, port: int, url: str, clients: int, seconds: float, batch: int) -> None:
    request = _request(host, port, url, batch)
    warm: list[float] = []
    await asyncio.gather(*(_client(host, port, request, time.perf_counter() + 0.3, warm)
                           for _ in range(clients)))  # fmt: skip
    latencies: list[float] = []
    start = time.perf_counter()
    await asyncio.gather(*(_client(host, port, request, start + seconds, latencies)
                           for _ in range(clients)))  # fmt: skip
    elapsed = time.perf_counter() - start
    latencies.sort()
    print(json.dumps({
        "messages": (len(latencies) + len(warm)) * batch,
        "rate": len(latencies) * batch / elapsed,
        "p50": latencies[len(latencies) // 2],
        "p99": latencies[int(len(latencies) * 0.99)],
    }))  # fmt: skip


if __name__ == "__main__":
    host, port, url, clients, seconds, batch = sys.argv[1:7]
    run = asyncio.run
    try:
        import uvloop

        run = uvloop.run
    except ImportError:
        pass
    run(_main(host, int(port), url, int(clients), float(seconds), int(batch)))
