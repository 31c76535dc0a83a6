"""Metrics rows: what counting costs each invocation (in process, the scheduler's calls),
one batched write of many series, and a GetMetricStatistics round trip on the server."""

from __future__ import annotations

import asyncio
import http.client
import json
import statistics
import tempfile
import time
from pathlib import Path

from bench.measure import percentile
from bench.server import BenchServer
from ember.telemetry.metrics import Metrics
from ember.telemetry.metrics_store import MetricsStore

Row = tuple[str, str, str]
ARN = "arn:aws:lambda:us-east-1:000000000000:function:bench"


def _recording_us(rounds: int = 5, calls: int = 20_000) -> list[float]:
    """µs per invocation for what Scheduler.invoke adds: series lookup, begin, end,
    completed (Invocations, Errors, Duration, ConcurrentExecutions)."""
    metrics = Metrics()
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for i in range(calls):
            series = metrics.series("bench", "$LATEST", ARN)
            series.begin(provisioned=False, unreserved=True, allocated=0)
            series.end(provisioned=False, unreserved=True)
            series.completed(False, 1.0 + (i % 50))
        samples.append((time.perf_counter() - start) / calls * 1e6)
    return samples


async def _flush_ms(series: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        metrics = Metrics(store=MetricsStore(Path(tmp) / "metrics.db"))
        for n in range(series):
            s = metrics.series(f"fn-{n}", "$LATEST", f"{ARN}-{n}")
            s.completed(False, 2.0)
        start = time.perf_counter()
        await metrics.flush()
        took = (time.perf_counter() - start) * 1000
        await metrics.close()
        return took


def _query_ms(server: BenchServer, count: int = 50) -> list[float]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    now = time.time()
    body = json.dumps({
        "Namespace": "AWS/Lambda", "MetricName": "Duration", "StartTime": now - 3600,
        "EndTime": now + 60, "Period": 3600, "Statistics": ["Sum"], "ExtendedStatistics": ["p99"],
    }).encode()  # fmt: skip
    headers = {"X-Amz-Target": "GraniteServiceVersion20100801.GetMetricStatistics",
               "Content-Type": "application/x-amz-json-1.0"}  # fmt: skip
    samples = []
    try:
        for _ in range(count):
            start = time.perf_counter()
            connection.request("POST", "/", body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"GetMetricStatistics answered {response.status}")
            samples.append((time.perf_counter() - start) * 1000)
    finally:
        connection.close()
    return samples


def metrics_rows(server: BenchServer) -> list[Row]:
    recording = _recording_us()
    flush = asyncio.run(_flush_ms(1000))
    query = _query_ms(server)
    return [
        ("metrics: counting one invocation (in process)",
         f"{statistics.median(recording):.2f} µs", "series lookup, begin, end, completed"),
        ("metrics: one batched write, 1,000 series", f"{flush:.0f} ms",
         "off the loop, every 10 s; WAL, synchronous=NORMAL"),
        ("metrics: GetMetricStatistics (account, 1 h, p99)",
         f"{statistics.median(query):.1f} ms", f"p99 {percentile(query, 0.99):.1f} ms"),
    ]  # fmt: skip


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from bench.server import serve

    with tempfile.TemporaryDirectory() as tmp, serve(Path(tmp) / "data") as bench_server:
        for name, value, detail in metrics_rows(bench_server):
            print(f"{name:55} {value:>12}  {detail}")
