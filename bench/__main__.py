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
from pathlib import Path
from typing import Any

from bench.environments import environment_rows
from bench.isolation import isolation_rows
from bench.measure import invoke_once, percentile
from tests.e2e.harness import ROLE, free_port, make_zip, run_server

HANDLER = "def handler(event, context):\n    return {'ok': True}\n"
RUNTIME = f"python{sys.version_info.major}.{sys.version_info.minor}"


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


def loadgen(
    port: int, path: str, clients: int, seconds: float, invocation_type: str | None = None
) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.loadgen", "127.0.0.1", str(port), path, str(clients),
         str(seconds), *([invocation_type] if invocation_type else [])],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    result: dict[str, float] = json.loads(out.stdout)
    return result


def cold_starts(server: Any, lam: Any, rounds: int) -> list[float]:
    """ms for the first invoke of a new environment: each round changes the function's
    configuration (a new revision), so the next invoke must Init a fresh environment."""
    samples = []
    for i in range(rounds):
        lam.update_function_configuration(
            FunctionName="bench", Environment={"Variables": {"ROUND": str(i)}}
        )
        lam.get_waiter("function_updated_v2").wait(
            FunctionName="bench", WaiterConfig={"Delay": 0.05, "MaxAttempts": 200}
        )
        samples.append(invoke_once(server.endpoint, "bench"))
    return samples


def queue_depth(endpoint: str, name: str) -> int:
    with urllib.request.urlopen(f"{endpoint}/_ember/async-queues") as resp:
        queues = json.loads(resp.read())["Queues"]
    return next((q["Depth"] for q in queues if q["FunctionName"] == name), 0)


def async_rows(server: Any, lam: Any, seconds: float) -> list[tuple[str, str, str]]:
    """Events accepted per second (202s, each durably committed) from 32 clients, and the
    rate the dispatcher then drains the backlog they left through a trivial function."""
    lam.create_function(
        FunctionName="bench-async", Runtime=RUNTIME, Role=ROLE, Handler="app.handler",
        Code={"ZipFile": make_zip({"app.py": HANDLER})},
    )  # fmt: skip
    lam.get_waiter("function_active_v2").wait(
        FunctionName="bench-async", WaiterConfig={"Delay": 0.05, "MaxAttempts": 200}
    )
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
    rows: list[tuple[str, str, str]] = []
    direct = floor_direct_call()
    py_start = floor_python_start()
    with (
        tempfile.TemporaryDirectory() as tmp,
        run_server(Path(tmp) / "data", port=free_port()) as server,
    ):
        lam = server.client()
        # 1,769 MB is one whole vCPU on Lambda: these rows measure Ember's invoke path,
        # not the CPU share a smaller function gets (that is the 128 MB row below).
        for name, memory in (("bench", 1769), ("bench-128", 128)):
            lam.create_function(
                FunctionName=name, Runtime=RUNTIME, Role=ROLE, Handler="app.handler",
                Code={"ZipFile": make_zip({"app.py": HANDLER})}, MemorySize=memory,
            )  # fmt: skip
            lam.get_waiter("function_active_v2").wait(
                FunctionName=name, WaiterConfig={"Delay": 0.05, "MaxAttempts": 200}
            )
        path = "/2015-03-31/functions/bench/invocations"
        single = loadgen(server.port, path, 1, seconds)
        rows.append(("warm invoke p50, 1 client", f"{single['p50']:.0f} µs",
                     f"direct call {direct:.2f} µs"))  # fmt: skip
        rows.append(("warm invoke p99, 1 client", f"{single['p99']:.0f} µs", ""))
        for clients in (1, 8, 32):
            run = single if clients == 1 else loadgen(server.port, path, clients, seconds)
            rows.append(
                (f"throughput, {clients} clients", f"{run['rate']:.0f} invokes/s",
                 f"p50 {run['p50']:.0f} µs, p99 {run['p99']:.0f} µs")
            )  # fmt: skip
        small = loadgen(server.port, "/2015-03-31/functions/bench-128/invocations", 1, seconds)
        rows.append(
            ("warm invoke, 128 MB (1/14 vCPU quota)", f"{small['p50']:.0f} µs",
             f"p99 {small['p99']:.0f} µs, {small['rate']:.0f} invokes/s from 1 client")
        )  # fmt: skip
        colds = cold_starts(server, lam, 20)
        rows.append(("cold start p50 (first invoke, new env)", f"{percentile(colds, 0.5):.1f} ms",
                     f"python -S -c pass {py_start:.1f} ms"))  # fmt: skip
        rows.append(("cold start p99", f"{percentile(colds, 0.99):.1f} ms", ""))
        rows += isolation_rows(server, RUNTIME, colds)
        rows += environment_rows(
            server, lam, RUNTIME, lambda p, clients, secs: loadgen(server.port, p, clients, secs)
        )
        rows += async_rows(server, lam, seconds)
    print(f"\nEmber benchmarks — {platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}, {platform.platform()}")  # fmt: skip
    width = max(len(r[0]) for r in rows)
    print(f"{'measure'.ljust(width)}  {'ember':>18}  floor / detail")
    for name, value, floor in rows:
        print(f"{name.ljust(width)}  {value:>18}  {floor}")


if __name__ == "__main__":
    main()
