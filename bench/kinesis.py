"""Kinesis streams: PutRecords records/s from 32 clients, records/s a mapping (BatchSize 100)
feeds a trivial function, and put-to-handler latency.

Runs its own `ember serve` (its handlers report to a listener on the host, which needs
`--host-access`). `python -m bench.kinesis` prints the rows alone.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.loadgen import read_answer
from bench.measure import percentile
from bench.reports import REPORTER, Reports, report_variables
from bench.server import BenchServer, deploy, serve

Row = tuple[str, str, str]
CLIENTS = 32
PUT_SECONDS = 5.0
PER_REQUEST = 100  # records in one PutRecords
PUT_SHARDS = 64  # room for 64,000 records/s under Kinesis's per-shard write limit
MAPPED = 20_000  # records waiting before the mapping starts
MAPPED_SHARDS = 4
LATENCY_SAMPLES = 200
# Reports its clock at entry and each record's data (one line each), or the batch's size.
HANDLER = (
    REPORTER
    + """
def handler(event, context):
    now = time.time()
    if os.environ.get("COUNT_ONLY"):
        lines = f"{now} count:{len(event['Records'])}\\n"
    else:
        lines = "".join(f"{now} {base64.b64decode(r['kinesis']['data']).decode()}\\n"
                        for r in event["Records"])
    _report(lines)
    return {}
"""
)
_FAILED = re.compile(rb'"FailedRecordCount":(\d+)')


def _kinesis(server: BenchServer) -> Any:
    return server.client("kinesis")


def _put_request(port: int, stream: str, client: int) -> bytes:
    records = [{"PartitionKey": f"c{client}-k{i}", "Data": base64.b64encode(b"x" * 100).decode()}
               for i in range(PER_REQUEST)]  # fmt: skip
    body = json.dumps({"StreamName": stream, "Records": records}).encode()
    head = (
        f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        "Content-Type: application/x-amz-json-1.1\r\nX-Amz-Target: Kinesis_20131202.PutRecords\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _putter(port: int, request: bytes, deadline: float, counts: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < deadline:
            writer.write(request)
            head, body = await read_answer(reader)
            failed = _FAILED.search(body)
            if not head.startswith(b"HTTP/1.1 200") or failed is None:
                raise RuntimeError((head + body).decode(errors="replace"))
            counts.append(PER_REQUEST - int(failed.group(1)))
    finally:
        writer.close()


async def _put_load(port: int, stream: str) -> float:
    requests = [_put_request(port, stream, c) for c in range(CLIENTS)]
    warm: list[int] = []
    await asyncio.gather(*(_putter(port, r, time.perf_counter() + 0.5, warm) for r in requests))
    counts: list[int] = []
    start = time.perf_counter()
    await asyncio.gather(*(_putter(port, r, start + PUT_SECONDS, counts) for r in requests))
    return sum(counts) / (time.perf_counter() - start)


def put_rate(server: BenchServer) -> float:
    """Records/s acknowledged (durable) by PutRecords from CLIENTS keep-alive connections."""
    _kinesis(server).create_stream(StreamName="bench-puts", ShardCount=PUT_SHARDS)
    return asyncio.run(_put_load(server.port, "bench-puts"))


class _Listener:
    """Lines the handlers send: `<their clock> <data or count:N>`."""

    def __init__(self, sock: socket.socket) -> None:
        self.arrived: dict[str, float] = {}
        self.counted = 0
        self.reports = Reports(sock, self._take)

    def _take(self, line: str) -> None:
        stamp, what = line.split()
        if what.startswith("count:"):
            self.counted += int(what[6:])
        else:
            self.arrived[what] = float(stamp)


def mapping_rate(server: BenchServer, port: int, listener: _Listener) -> float:
    """Records/s: MAPPED records wait in a 4-shard stream; the clock runs from enabling the
    mapping until the handler has reported every one."""
    lam, kinesis = server.client(), _kinesis(server)
    variables = {**report_variables(port), "COUNT_ONLY": "1"}
    deploy(lam, "bench-kinesis", HANDLER, Environment={"Variables": variables})
    kinesis.create_stream(StreamName="bench-mapped", ShardCount=MAPPED_SHARDS)
    arn = kinesis.describe_stream_summary(StreamName="bench-mapped")[
        "StreamDescriptionSummary"]["StreamARN"]  # fmt: skip
    for first in range(0, MAPPED, 500):
        entries = [{"PartitionKey": f"k{i}", "Data": b"m"} for i in range(first, first + 500)]
        while entries:
            answer = kinesis.put_records(StreamName="bench-mapped", Records=entries)
            entries = [e for e, r in zip(entries, answer["Records"], strict=True)
                       if "ErrorCode" in r]  # fmt: skip
            if entries:
                time.sleep(0.1)
    uuid = lam.create_event_source_mapping(
        FunctionName="bench-kinesis", EventSourceArn=arn, BatchSize=100,
        StartingPosition="TRIM_HORIZON", Enabled=False,
    )["UUID"]  # fmt: skip
    while lam.get_event_source_mapping(UUID=uuid)["State"] != "Disabled":
        time.sleep(0.01)
    start = time.perf_counter()
    lam.update_event_source_mapping(UUID=uuid, Enabled=True)
    listener.reports.wait_for(
        lambda: listener.counted >= MAPPED, 600, "the mapping did not drain the stream in 600 s"
    )
    return MAPPED / (time.perf_counter() - start)


def latency(server: BenchServer, port: int, listener: _Listener) -> list[float]:
    """ms from PutRecord's start to the handler's entry, one record at a time."""
    lam, kinesis = server.client(), _kinesis(server)
    variables = report_variables(port)
    deploy(lam, "bench-kinesis-latency", HANDLER, Environment={"Variables": variables})
    kinesis.create_stream(StreamName="bench-latency", ShardCount=1)
    arn = kinesis.describe_stream_summary(StreamName="bench-latency")[
        "StreamDescriptionSummary"]["StreamARN"]  # fmt: skip
    uuid = lam.create_event_source_mapping(
        FunctionName="bench-kinesis-latency", EventSourceArn=arn, StartingPosition="LATEST"
    )["UUID"]
    while lam.get_event_source_mapping(UUID=uuid)["State"] != "Enabled":
        time.sleep(0.01)
    time.sleep(0.5)  # the poller has taken its LATEST position
    samples = []
    for i in range(LATENCY_SAMPLES + 5):  # the first few warm the environment up
        data = f"t{i}"
        sent = time.time()
        kinesis.put_record(StreamName="bench-latency", PartitionKey="k", Data=data.encode())
        listener.reports.wait_for(
            lambda d=data: d in listener.arrived,  # type: ignore[misc]
            30, "a record did not reach the handler in 30 s",
        )  # fmt: skip
        if i >= 5:
            samples.append((listener.arrived[data] - sent) * 1000)
    return samples


def kinesis_rows() -> list[Row]:
    with socket.create_server(("127.0.0.1", 0)) as sock:
        port = sock.getsockname()[1]
        listener = _Listener(sock)
        with (
            tempfile.TemporaryDirectory() as tmp,
            serve(Path(tmp) / "data", "--host-access", str(port)) as server,
        ):
            puts = put_rate(server)
            mapped = mapping_rate(server, port, listener)
            samples = latency(server, port, listener)
    return [
        ("Kinesis PutRecords, 32 clients, 100 records a call", f"{puts:,.0f} records/s",
         f"durable (group commit, fsync) before the answer; {PUT_SHARDS} shards"),
        ("Kinesis mapping throughput, BatchSize 100, trivial function", f"{mapped:,.0f} records/s",
         f"{MAPPED:,} waiting in {MAPPED_SHARDS} shards, then the mapping enabled"),
        ("Kinesis put-to-handler latency p50", f"{percentile(samples, 0.5):.1f} ms",
         f"p99 {percentile(samples, 0.99):.1f} ms, one record at a time, no batching window"),
    ]  # fmt: skip


if __name__ == "__main__":
    for name, value, detail in kinesis_rows():
        print(f"{name:60}  {value:>20}  {detail}")
