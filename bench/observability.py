"""Traces and logging rows: what the platform records and the trace header cost each
invocation (in process, text format, no subscriber: the default), and warm invokes of a
function with LoggingConfig JSON beside one with Text on the same server."""

from __future__ import annotations

import statistics
import tempfile
import time
import uuid
from pathlib import Path

from bench.measure import loadgen
from bench.server import BenchServer, deploy
from ember.clock import SystemClock
from ember.telemetry.platform import PlatformLog
from ember.telemetry.traces import trace_header

Row = tuple[str, str, str]
HANDLER = "def handler(event, context):\n    return {'ok': True}\n"


def _records_us(json_format: bool, rounds: int = 5, calls: int = 20_000) -> list[float]:
    """µs per invocation for its trace header, START/END/REPORT (or their JSON records)."""
    lines: list[str] = []
    log = PlatformLog(lines.append, SystemClock(), json_format=json_format, function_arn="arn")
    rid = str(uuid.uuid4())
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(calls):
            header = trace_header(rid, 1_700_000_000.0, None, False)
            log.start(rid, header)
            log.end(rid, duration_ms=1.2, status=None, produced_bytes=11)
            log.report(rid, 1.2, 128, 20, init_duration_ms=None, status=None, error_type=None,
                       trace_header=header)  # fmt: skip
            lines.clear()
        samples.append((time.perf_counter() - start) / calls * 1e6)
    return samples


def observability_rows(server: BenchServer, seconds: float = 3.0) -> list[Row]:
    text_us = statistics.median(_records_us(False))
    json_us = statistics.median(_records_us(True))
    lam = server.client()
    deploy(lam, "bench-text-logs", HANDLER, MemorySize=1769)
    deploy(lam, "bench-json-logs", HANDLER, MemorySize=1769, LoggingConfig={"LogFormat": "JSON"})
    text: list[float] = []
    json: list[float] = []
    for _ in range(2):  # alternating rounds: the host's noise lands on both
        for name, into in (("bench-text-logs", text), ("bench-json-logs", json)):
            run = loadgen(server.port, f"/2015-03-31/functions/{name}/invocations", 1, seconds)
            into.append(run["p50"])
    return [
        ("logs: platform records + trace header, Text (in process)", f"{text_us:.2f} µs",
         "START, END, REPORT; no Telemetry API subscriber"),
        ("logs: platform records + trace header, JSON (in process)", f"{json_us:.2f} µs",
         "platform.start, platform.report (runtimeDone filtered at INFO)"),
        ("warm invoke p50, LoggingConfig Text vs JSON, 1,769 MB",
         f"{min(text):.0f} µs vs {min(json):.0f} µs", "best of 2 alternating rounds each"),
    ]  # fmt: skip


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from bench.server import serve

    with tempfile.TemporaryDirectory() as tmp, serve(Path(tmp) / "data") as bench_server:
        for name, value, detail in observability_rows(bench_server):
            print(f"{name:58} {value:>22}  {detail}")
