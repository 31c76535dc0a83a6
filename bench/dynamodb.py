"""Table rows: durable PutItem items/s from 32 clients into a table whose stream is on
(NEW_AND_OLD_IMAGES), so each answer stands for an item and its stream record committed
together (WAL, fsync).

The clients are raw keep-alive HTTP connections in a separate process (`python -m
bench.dynamodb HOST PORT TABLE CLIENTS SECONDS`), so the client's CPU is not the server's
and boto3's own cost is not measured. Every answer counted is a 200.
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
TABLE = "bench-items"


def _dynamodb(server: BenchServer, service: str = "dynamodb") -> Any:
    return boto3.client(
        service, endpoint_url=server.endpoint, region_name="us-east-1",
        aws_access_key_id="bench", aws_secret_access_key="bench",
        config=Config(retries={"total_max_attempts": 1}),
    )  # fmt: skip


def dynamodb_rows(server: BenchServer, seconds: float) -> list[Row]:
    ddb = _dynamodb(server)
    ddb.create_table(
        TableName=TABLE, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )  # fmt: skip
    out = subprocess.run(
        [sys.executable, "-m", "bench.dynamodb", "127.0.0.1", str(server.port), TABLE,
         str(CLIENTS), str(seconds)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    result = json.loads(out.stdout)
    stored = ddb.describe_table(TableName=TABLE)["Table"]["ItemCount"]
    if stored < result["items"]:
        raise RuntimeError(f"{result['items']} items acknowledged, {stored} stored")
    return [(
        f"PutItem with a stream on, {CLIENTS} clients, durable", f"{result['rate']:.0f} items/s",
        f"p50 {result['p50']:.0f} µs, p99 {result['p99']:.0f} µs per request; item and "
        "stream record in one fsync'd commit (WAL, FULL)",
    )]  # fmt: skip


# -- the load generator (its own process) ------------------------------------------------------


def _request(host: str, port: int, table: str, key: str) -> bytes:
    body = json.dumps({
        "TableName": table,
        "Item": {"pk": {"S": key}, "n": {"N": "1"}, "payload": {"S": "bench item " * 8}},
    }).encode()  # fmt: skip
    head = (
        f"POST / HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Content-Type: application/x-amz-json-1.0\r\nX-Amz-Target: DynamoDB_20120810.PutItem\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _client(host: str, port: int, table: str, name: str, deadline: float,
                  latencies: list[float]) -> None:  # fmt: skip
    reader, writer = await asyncio.open_connection(host, port)
    count = 0
    try:
        while time.perf_counter() < deadline:
            count += 1
            request = _request(host, port, table, f"{name}-{count}")
            start = time.perf_counter()
            writer.write(request)
            head, body = await read_answer(reader)
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError((head + body).decode(errors="replace"))
            latencies.append((time.perf_counter() - start) * 1e6)
    finally:
        writer.close()


async def _main(host: str, port: int, table: str, clients: int, seconds: float) -> None:
    warm: list[float] = []
    await asyncio.gather(*(_client(host, port, table, f"w{c}", time.perf_counter() + 0.3, warm)
                           for c in range(clients)))  # fmt: skip
    latencies: list[float] = []
    start = time.perf_counter()
    await asyncio.gather(*(_client(host, port, table, f"c{c}", start + seconds, latencies)
                           for c in range(clients)))  # fmt: skip
    elapsed = time.perf_counter() - start
    latencies.sort()
    print(json.dumps({
        "items": len(latencies) + len(warm),
        "rate": len(latencies) / elapsed,
        "p50": latencies[len(latencies) // 2],
        "p99": latencies[int(len(latencies) * 0.99)],
    }))  # fmt: skip


if __name__ == "__main__":
    host, port, table, clients, seconds = sys.argv[1:6]
    run = asyncio.run
    try:
        import uvloop

        run = uvloop.run
    except ImportError:
        pass
    run(_main(host, int(port), table, int(clients), float(seconds)))
