"""`make bench`: start Ember, measure the invoke path, print a table beside the floors.

Floors are measured in the same run on the same machine: a direct in-process call of
the same handler, and `python -S -c pass` (the least a fresh interpreter costs).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.apis import apis_rows
from bench.auth import auth_rows
from bench.authorizers import authorizers_rows
from bench.dynamodb import dynamodb_rows
from bench.environments import environment_rows
from bench.images import images_rows
from bench.isolation import isolation_rows
from bench.java import java_rows
from bench.kinesis import kinesis_rows
from bench.measure import loadgen
from bench.metrics import metrics_rows
from bench.nodejs import nodejs_rows
from bench.observability import observability_rows
from bench.outbound import outbound_available, outbound_rows
from bench.policies import policies_rows
from bench.prestart import prestart_rows
from bench.queues import queues_rows
from bench.rules import rules_rows
from bench.server import BenchServer, deploy, serve
from bench.snapstart import snapstart_rows
from bench.sources import sources_rows
from bench.streaming import streaming_rows
from bench.urls import urls_rows
from bench.warmpath import warmpath_rows
from ember.sandbox import Isolation, probe

HANDLER = "def handler(event, context):\n    return {'ok': True}\n"
Row = tuple[str, str, str]


def section(name: str, rows: Callable[[], list[Row]]) -> list[Row]:
    """One group of rows; a group that fails says so in the table instead of ending the run
    (the other groups' figures are still worth having), and the run exits non-zero."""
    try:
        return rows()
    except Exception as exc:  # reported in the table and by the exit code
        FAILED.append(name)
        return [(f"{name}: FAILED", type(exc).__name__, str(exc)[:120])]


FAILED: list[str] = []


def floor_direct_call() -> float:
    """µs per call of the handler, in-process."""
    scope: dict[str, Any] = {}
    exec(HANDLER, scope)
    handler = scope["handler"]
    n = 200_000
    start = time.perf_counter()
    for _ in range(n):
        handler({"bench": True}, None)
    return (time.perf_counter() - start) / n * 1e6


def floor_python_start() -> float:
    """ms for `python -S -c pass` with the real binary, median of 30."""
    exe = os.path.realpath(sys.executable)
    samples = []
    for _ in range(30):
        start = time.perf_counter()
        subprocess.run([exe, "-S", "-c", "pass"], check=True)
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def runtime_api_row() -> Row:
    """Server CPU per Runtime API request, from bench/runtime_api_roundtrip.py (one
    RuntimeEndpoint, a raw-socket runtime in another process, 5,000 invokes)."""
    out = subprocess.run(
        [sys.executable, "-m", "bench.runtime_api_roundtrip", "-n", "5000", "--json"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    figures = json.loads(out.stdout)
    return (
        "Runtime API alone: server CPU per request", f"{figures['cpu_per_request']:.1f} µs",
        f"round trip p50 {figures['p50']:.0f} µs, p99 {figures['p99']:.0f} µs, "
        f"{figures['rate']:,.0f} invokes/s (endpoint in-process, runtime over loopback)",
    )  # fmt: skip


def host_summary() -> str:
    with tempfile.TemporaryDirectory() as state:
        host = probe(Isolation.AUTO, Path(state))
        try:
            return host.summary()
        finally:
            host.close()


def queue_depth(endpoint: str, name: str) -> int:
    with urllib.request.urlopen(f"{endpoint}/_ember/async-queues") as resp:
        queues = json.loads(resp.read())["Queues"]
    return next((q["Depth"] for q in queues if q["FunctionName"] == name), 0)


def async_rows(server: BenchServer, seconds: float) -> list[Row]:
    """Events accepted per second (202s, each durably committed) from 32 clients, and the
    rate the dispatcher then drains the backlog they left through a trivial function."""
    deploy(server.client(), "bench-async", HANDLER)
    path = "/2015-03-31/functions/bench-async/invocations"
    accepted = loadgen(server.port, path, 32, seconds, "Event")
    start, backlog = time.perf_counter(), queue_depth(server.endpoint, "bench-async")
    while queue_depth(server.endpoint, "bench-async"):
        if time.perf_counter() - start > 300:
            raise RuntimeError(f"the async backlog of {backlog} did not drain in 300 s")
        time.sleep(0.05)
    drained = time.perf_counter() - start
    return [
        ("async events accepted (202), 32 clients", f"{accepted['rate']:.0f} events/s",
         f"p50 {accepted['p50']:.0f} µs, p99 {accepted['p99']:.0f} µs; fsync'd (WAL, FULL)"),
        ("async drain, trivial function", f"{backlog / drained:.0f} events/s",
         f"backlog of {backlog} left by the row above, drained in {drained:.1f} s"),
    ]  # fmt: skip


def main() -> None:
    seconds = float(os.environ.get("BENCH_SECONDS", "5"))
    rows: list[Row] = []
    direct = floor_direct_call()
    py_start = floor_python_start()
    with tempfile.TemporaryDirectory() as tmp, serve(Path(tmp) / "data") as server:
        lam = server.client()
        # 1,769 MB is one whole vCPU on Lambda: these rows measure Ember's invoke path,
        # not the CPU share a smaller function gets (that is the 128 MB row below).
        deploy(lam, "bench", HANDLER, MemorySize=1769)
        deploy(lam, "bench-128", HANDLER, MemorySize=128)
        path = "/2015-03-31/functions/bench/invocations"
        single = loadgen(server.port, path, 1, seconds)
        rows.append(("warm invoke p50, 1 client, 1,769 MB", f"{single['p50']:.0f} µs",
                     f"direct call {direct:.2f} µs"))  # fmt: skip
        rows.append(("warm invoke p99, 1 client, 1,769 MB", f"{single['p99']:.0f} µs", ""))
        for clients in (1, 8, 32):
            run = single if clients == 1 else loadgen(server.port, path, clients, seconds)
            rows.append(
                (f"throughput, {clients} clients, 1,769 MB", f"{run['rate']:.0f} invokes/s",
                 f"p50 {run['p50']:.0f} µs, p99 {run['p99']:.0f} µs")
            )  # fmt: skip
        small = loadgen(server.port, "/2015-03-31/functions/bench-128/invocations", 1, seconds)
        rows.append(
            ("warm invoke, 128 MB (1/14 vCPU quota)", f"{small['p50']:.0f} µs",
             f"p99 {small['p99']:.0f} µs, {small['rate']:.0f} invokes/s from 1 client")
        )  # fmt: skip
        rows.append(runtime_api_row())
        rows += auth_rows()
        rows += isolation_rows(server, f"python -S -c pass {py_start:.1f} ms; {host_summary()}")
        rows += environment_rows(
            server, lambda p, clients, secs: loadgen(server.port, p, clients, secs)
        )
        rows += async_rows(server, seconds)
        # The front doors, beside the Invoke API rows above.
        rows += section("warm path", lambda: warmpath_rows(server, seconds))
        rows += section("streaming", lambda: streaming_rows(server))
        # Runtimes beyond Python, each beside its floor.
        rows += section("nodejs", lambda: nodejs_rows(server))
        rows += section("java", lambda: java_rows(server))
        rows += section("images", lambda: images_rows(server))
        rows += section("prestart", lambda: prestart_rows(server))
        rows += section("snapstart", lambda: snapstart_rows(server))
        rows += section("metrics", lambda: metrics_rows(server))
        rows += section("observability", lambda: observability_rows(server))
        rows += section("queues", lambda: queues_rows(server, seconds))
        rows += section("dynamodb", lambda: dynamodb_rows(server, seconds))
    # Groups that start a server of their own (flags such as --host-access, or a clean one).
    rows += section("urls", urls_rows)
    rows += section("apis", apis_rows)
    rows += section("authorizers", authorizers_rows)
    rows += section("policies", policies_rows)
    rows += section("sources", sources_rows)
    rows += section("kinesis", kinesis_rows)
    rows += section("rules", rules_rows)
    if outbound_available():  # what the namespace and veth + NAT add (root, bwrap, nftables)
        rows += outbound_rows()
    print(f"\nEmber benchmarks — {platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}, {platform.platform()}")  # fmt: skip
    width = max(len(r[0]) for r in rows)
    print(f"{'measure'.ljust(width)}  {'ember':>18}  floor / detail")
    for name, value, floor in rows:
        print(f"{name.ljust(width)}  {value:>18}  {floor}")
    if FAILED:
        sys.exit(f"bench: {', '.join(FAILED)} failed (see the table)")


if __name__ == "__main__":
    main()
