"""SnapStart and cold starts of Python functions: what a new environment costs.

Rows, each beside its floor measured in the same run:
- the sandboxed cold start of a trivial python3.12 handler (a configuration change, then a
  synchronous invoke: the sandbox, the interpreter, Ember's runtime, the handler's import);
- the cold start of a function whose Init imports boto3 and makes a client (~200 ms of
  Init), as an on-demand `$LATEST`;
- the same function's SnapStart restore: PublishVersion (Init runs then, off the request
  path), then the first invoke of that version, which resumes the environment kept ready
  after Init (client-side latency, and the REPORT's Restore Duration).
Floors: `python -S -c pass` started bare, and a fork of an interpreter that has boto3 and
a client loaded, answering over a pipe (PERF-NOTES' lower bound for any "restore").

    .venv/bin/python -m bench.snapstart      # on its own server, prints its rows
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.measure import invoke_tail
from bench.server import BenchServer, cold_starts, deploy, serve

Row = tuple[str, str, str]
MEMORY = 1769  # one vCPU, as Lambda sizes CPU from memory
RUNTIME = "python3.12"
TRIVIAL = "bench-cold-py"
HEAVY = "bench-snap-boto3"
TRIVIAL_SOURCE = "def handler(event, context):\n    return 1\n"
HEAVY_SOURCE = """\
import boto3

CLIENT = boto3.client("s3", region_name="us-east-1")


def handler(event, context):
    return CLIENT.meta.region_name
"""


def restores(server: BenchServer, name: str, rounds: int) -> tuple[list[float], list[float]]:
    """Per round: a new version (Init at publish, waited for), then its first invoke."""
    lam = server.client()
    latencies: list[float] = []
    reported: list[float] = []
    for i in range(rounds):
        lam.update_function_configuration(
            FunctionName=name, Environment={"Variables": {"ROUND": f"snap-{i}"}}
        )
        lam.get_waiter("function_updated_v2").wait(
            FunctionName=name, WaiterConfig={"Delay": 0.05, "MaxAttempts": 600}
        )
        version = lam.publish_version(FunctionName=name)["Version"]
        lam.get_waiter("published_version_active").wait(
            FunctionName=name, Qualifier=version, WaiterConfig={"Delay": 0.1, "MaxAttempts": 600}
        )
        elapsed, restore = invoke_tail(server.endpoint, name, "Restore Duration", version)
        latencies.append(elapsed)
        if restore is not None:
            reported.append(restore)
    return latencies, reported


def python_floor(rounds: int) -> list[float]:
    """ms to start and end `python3 -S -c pass` (the real binary, not a shim)."""
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-S", "-c", "pass"], check=True)
        samples.append((time.perf_counter() - start) * 1000)
    return samples


_FORK_FLOOR = """
import gc, os, sys, time, json
import boto3
client = boto3.client("s3", region_name="us-east-1")
gc.freeze()
samples = []
for _ in range(int(sys.argv[1])):
    r, w = os.pipe()
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        os.write(w, client.meta.region_name.encode())
        os._exit(0)
    os.read(r, 64)
    samples.append((time.perf_counter() - start) * 1000)
    os.waitpid(pid, 0)
    os.close(r); os.close(w)
print(json.dumps(samples))
"""


def fork_floor(rounds: int) -> list[float]:
    """ms from fork() of an interpreter holding boto3 and a client to its answer on a pipe."""
    out = subprocess.run(
        [sys.executable, "-c", _FORK_FLOOR, str(rounds)],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    ).stdout
    samples: list[float] = json.loads(out)
    return samples


def snapstart_rows(server: BenchServer, rounds: int = 15) -> list[Row]:
    lam: Any = server.client()
    deploy(lam, TRIVIAL, TRIVIAL_SOURCE, runtime=RUNTIME, MemorySize=MEMORY)
    deploy(
        lam, HEAVY, HEAVY_SOURCE, runtime=RUNTIME, MemorySize=MEMORY,
        SnapStart={"ApplyOn": "PublishedVersions"},
    )  # fmt: skip
    floor = statistics.median(python_floor(rounds))
    trivial = statistics.median(cold_starts(server, TRIVIAL, rounds))
    heavy = statistics.median(cold_starts(server, HEAVY, rounds))
    latencies, reported = restores(server, HEAVY, rounds)
    restore = statistics.median(latencies)
    restore_report = statistics.median(reported) if reported else float("nan")
    forked = statistics.median(fork_floor(rounds * 4))
    speedup = heavy / restore if restore else float("nan")
    return [
        (f"sandboxed cold start p50, trivial {RUNTIME} handler, {MEMORY:,} MB",
         f"{trivial:.1f} ms",
         f"floor `python -S -c pass` {floor:.1f} ms; target ≤ 10 ms "
         f"{'✔' if trivial <= 10 else '✘ (no forked cold starts yet: see BENCHMARKS.md)'}; "
         f"median of {rounds}"),
        (f"cold start p50, Init imports boto3 + a client, {RUNTIME} $LATEST",
         f"{heavy:.1f} ms", f"on-demand Init; median of {rounds}"),
        ("SnapStart restore p50, same function, first invoke of a new version",
         f"{restore:.1f} ms",
         f"REPORT Restore Duration p50 {restore_report:.2f} ms; {speedup:.0f} times faster "
         f"than its cold start; floor: fork of a boto3-loaded interpreter {forked:.2f} ms; target "
         f"≤ 10 ms and ≥ 10 times faster {'✔' if restore <= 10 and speedup >= 10 else '✘'}; "
         f"median of {rounds}"),
    ]  # fmt: skip


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, serve(Path(tmp) / "data") as server:
        for name, figure, floor in snapstart_rows(server):
            print(f"{name}: {figure}  ({floor})")


if __name__ == "__main__":
    main()
