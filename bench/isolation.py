"""What isolation costs, on the real invoke path: a sandboxed server against a
`--isolation none` server, both running at the same time, the same function (1,769 MB,
one vCPU) on each, measured in alternating rounds so that drift hits both alike.

Rows: cold starts (the first invoke after a configuration change); warm invokes back to
back (one keep-alive client, `bench.loadgen`); and invokes after a 10 ms idle gap on one
keep-alive connection — long enough for the sandboxed environment to be frozen in between,
so the thaw is on the measured path (the plain server never freezes).
"""

from __future__ import annotations

import contextlib
import os
import statistics
import tempfile
import uuid
from pathlib import Path

from bench.measure import loadgen, paced_invokes, percentile, spread
from bench.server import BenchServer, cold_starts, deploy, serve

HANDLER = "def handler(event, context):\n    return {'ok': True}\n"
MEMORY = 1769
Row = tuple[str, str, str]


def _deploy(server: BenchServer) -> str:
    name = f"bench-iso-{uuid.uuid4().hex[:6]}"
    deploy(server.client(), name, HANDLER, MemorySize=MEMORY)
    return name


def isolation_rows(sandboxed: BenchServer, summary: str) -> list[Row]:
    """Every row of this module; `sandboxed` is the main (default isolation) server."""
    rounds = int(os.environ.get("BENCH_COLD_ROUNDS", "20"))
    seconds = float(os.environ.get("BENCH_SECONDS", "5"))
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory())
        plain = stack.enter_context(serve(Path(tmp) / "data", "--isolation", "none"))
        servers = {"sandboxed": sandboxed, "none": plain}
        names = {kind: _deploy(server) for kind, server in servers.items()}
        colds: dict[str, list[float]] = {kind: [] for kind in servers}
        warm: dict[str, list[float]] = {kind: [] for kind in servers}
        idle: dict[str, list[float]] = {kind: [] for kind in servers}
        for _ in range(5):
            for kind, server in servers.items():
                colds[kind] += cold_starts(server, names[kind], max(1, rounds // 5))
                path = f"/2015-03-31/functions/{names[kind]}/invocations"
                warm[kind].append(loadgen(server.port, path, 1, seconds / 5)["p50"])
                idle[kind] += paced_invokes(server.port, names[kind], 40, gap=0.01)
    p50 = {kind: statistics.median(v) for kind, v in warm.items()}
    return [
        (f"cold start p50 / p99, sandboxed, {MEMORY:,} MB",
         f"{percentile(colds['sandboxed'], 0.5):.1f} / "
         f"{percentile(colds['sandboxed'], 0.99):.1f} ms",
         f"target < 60 ms; {len(colds['sandboxed'])} samples; {summary}"),
        (f"cold start p50 / p99, --isolation none, {MEMORY:,} MB",
         f"{percentile(colds['none'], 0.5):.1f} / {percentile(colds['none'], 0.99):.1f} ms",
         "plain processes, no limits"),
        (f"warm invoke p50, 1 client, {MEMORY:,} MB, sandboxed",
         spread(warm["sandboxed"], "µs"),
         f"--isolation none: {spread(warm['none'], 'µs')}; median [quartiles] of 5 "
         f"alternating rounds; difference {p50['sandboxed'] - p50['none']:+.0f} µs"),
        ("warm invoke 10 ms after the last, sandboxed (thawed)",
         spread(idle["sandboxed"], "µs"),
         f"--isolation none (never frozen): {spread(idle['none'], 'µs')}; one keep-alive "
         f"connection, {len(idle['none'])} samples each, alternating rounds"),
    ]  # fmt: skip
