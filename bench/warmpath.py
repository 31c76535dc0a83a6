"""The warm path's cost where the throughput is decided: the server's own CPU time per warm
invoke (user + system, all its threads), read from /proc around a load run, beside the
run's rate. Latency rows are noisy on a shared machine; CPU per invoke much less so."""

from __future__ import annotations

import os

from bench.measure import loadgen
from bench.server import BenchServer, deploy

Row = tuple[str, str, str]
HANDLER = "def handler(event, context):\n    return {'ok': True}\n"
_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime + stime


def server_cpu_per_invoke(
    server: BenchServer, path: str, clients: int, seconds: float
) -> tuple[float, dict[str, float]]:
    """µs of the server's CPU per invoke over one load run (its warm-up included), and the run."""
    before = _cpu_seconds(server.process.pid)
    run = loadgen(server.port, path, clients, seconds)
    used = _cpu_seconds(server.process.pid) - before
    return used / run["sent"] * 1e6, run


def warmpath_rows(server: BenchServer, seconds: float) -> list[Row]:
    deploy(server.client(), "bench-warmpath", HANDLER, MemorySize=1769)
    path = "/2015-03-31/functions/bench-warmpath/invocations"
    one, single = server_cpu_per_invoke(server, path, 1, seconds)
    eight, many = server_cpu_per_invoke(server, path, 8, seconds)
    return [
        (
            "server CPU per warm invoke, 1 / 8 clients",
            f"{one:.0f} / {eight:.0f} µs",
            f"p50 {single['p50']:.0f} µs at {single['rate']:.0f}/s; "
            f"{many['rate']:.0f}/s with 8 clients (the rest of 2 vCPUs: load generator, runtimes)",
        )
    ]
