"""Node.js functions: cold start and warm invoke p50 of a trivial nodejs20.x function on
Ember's Node runtime, beside the floor `node -e 0` (starting the same binary, bare)
measured in the same run.

Cold start is a synchronous invoke after a configuration change (a new environment: the
sandbox, node, Ember's runtime, the handler's module); warm is an invoke on one keep-alive
connection to an idle environment. The function has 1769 MB, one vCPU as Lambda sizes CPU
from memory; the last row is the same at 128 MB (7 % of a CPU), where the runtime's own CPU
per invocation shows as latency once the quota runs out (with Node's `http` client it was
~20 ms; the runtime's hand-written one keeps it under 1 ms).

    .venv/bin/python -m bench.nodejs       # on its own server, prints its rows
"""

from __future__ import annotations

import io
import statistics
import subprocess
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

from bench.measure import paced_invokes
from bench.server import ROLE, BenchServer, cold_starts, serve
from ember.runtimes.node import discover_nodes

Row = tuple[str, str, str]
NAME = "bench-node"
SMALL = "bench-node-128"
ONE_VCPU_MB = 1769
RUNTIME = "nodejs20.x"
HANDLER = "exports.handler = async (event) => ({ ok: true });\n"


def _package() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.js", HANDLER)
    return buffer.getvalue()


def _deploy(lam: Any, name: str, memory: int) -> None:
    lam.create_function(
        FunctionName=name, Runtime=RUNTIME, Role=ROLE, Handler="index.handler",
        Code={"ZipFile": _package()}, MemorySize=memory,
    )  # fmt: skip
    lam.get_waiter("function_active_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.05, "MaxAttempts": 600}
    )


def node_floor(node: str, rounds: int) -> list[float]:
    """ms to start and end `node -e 0`, each of `rounds` times."""
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        subprocess.run([node, "-e", "0"], check=True)
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def nodejs_rows(server: BenchServer, rounds: int = 10) -> list[Row]:
    node = discover_nodes().get(RUNTIME.removeprefix("nodejs").removesuffix(".x"))
    if node is None:
        return [("nodejs20.x cold start", "skipped", "no Node.js 20 binary on this host")]
    _deploy(server.client(), NAME, ONE_VCPU_MB)
    _deploy(server.client(), SMALL, 128)
    floor = statistics.median(node_floor(node, rounds))
    cold = statistics.median(cold_starts(server, NAME, rounds))
    warm = statistics.median(paced_invokes(server.port, NAME, rounds * 5, 0.0)) / 1000
    small = statistics.median(paced_invokes(server.port, SMALL, rounds * 5, 0.0)) / 1000
    return [
        (f"{RUNTIME} cold start p50 (trivial handler, sync invoke)", f"{cold:.1f} ms",
         f"floor `node -e 0` {floor:.1f} ms ({node}); {ONE_VCPU_MB} MB; median of {rounds}"),
        (f"{RUNTIME} warm invoke p50 (keep-alive, back to back)", f"{warm:.2f} ms",
         f"{ONE_VCPU_MB} MB (1 vCPU); median of {rounds * 5}"),
        (f"{RUNTIME} warm invoke p50 at 128 MB", f"{small:.2f} ms",
         f"CPU quota 7 % of a vCPU, as Lambda sizes it; median of {rounds * 5}"),
    ]  # fmt: skip


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, serve(Path(tmp) / "data") as server:
        for name, figure, floor in nodejs_rows(server):
            print(f"{name}: {figure}  ({floor})")


if __name__ == "__main__":
    main()
