"""What isolation costs: cold starts with and without the sandbox, and freeze+thaw.

Rows: cold start p50/p99 on a `--isolation none` server beside the sandboxed server's (the
main table's cold start rows run on the default, sandboxed server when the host allows
it); warm invokes back to back and after an idle gap (the environment frozen in between)
on both servers; and the freezer writes themselves on a live environment, which is what
freeze+thaw costs an invocation (the thaw is on its path, the freeze after its response).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench.measure import invoke_once, percentile
from ember.sandbox import Isolation, probe
from tests.e2e.harness import ROLE, free_port, make_zip, run_server

HANDLER = "def handler(event, context):\n    return {'ok': True}\n"
Row = tuple[str, str, str]


def _deploy(lam: Any, runtime: str, memory: int = 128) -> str:
    name = f"bench-iso-{uuid.uuid4().hex[:6]}"
    lam.create_function(
        FunctionName=name, Runtime=runtime, Role=ROLE, Handler="app.handler",
        Code={"ZipFile": make_zip({"app.py": HANDLER})}, MemorySize=memory,
    )  # fmt: skip
    lam.get_waiter("function_active_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.05, "MaxAttempts": 200}
    )
    return name


def _loadgen_p50(server: Any, name: str, seconds: float) -> float:
    """µs: p50 of back-to-back invokes from one client (bench.loadgen)."""
    path = f"/2015-03-31/functions/{name}/invocations"
    out = subprocess.run(
        [sys.executable, "-m", "bench.loadgen", "127.0.0.1", str(server.port), path, "1",
         str(seconds)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    p50: float = json.loads(out.stdout)["p50"]
    return p50


def cold_starts_ms(server: Any, lam: Any, name: str, rounds: int) -> list[float]:
    """The first invoke after each configuration change (a new revision: a new Init)."""
    samples = []
    for i in range(rounds):
        lam.update_function_configuration(
            FunctionName=name, Environment={"Variables": {"ROUND": str(i)}}
        )
        lam.get_waiter("function_updated_v2").wait(
            FunctionName=name, WaiterConfig={"Delay": 0.05, "MaxAttempts": 200}
        )
        samples.append(invoke_once(server.endpoint, name))
    return samples


def after_idle_ms(server: Any, name: str, rounds: int, gap: float = 0.01) -> list[float]:
    """Warm invokes, each `gap` seconds after the last: long enough to be frozen between."""
    invoke_once(server.endpoint, name)
    samples = []
    for _ in range(rounds):
        time.sleep(gap)
        samples.append(invoke_once(server.endpoint, name))
    return samples


def host_summary() -> str:
    with tempfile.TemporaryDirectory() as state:
        host = probe(Isolation.AUTO, Path(state))
        host.close()
    return host.summary()


def live_freezer(server_pid: int, rounds: int = 500) -> tuple[float, float] | None:
    """On an idle (frozen) environment of the server, as the server does it (pwrite to the
    open freezer.state): µs for a thaw plus a freeze write, and ms until the kernel reports
    FROZEN (asynchronous: off the invoke path). None without a v1 freezer."""
    states = [
        path
        for path in Path(f"/sys/fs/cgroup/freezer/ember/{server_pid}").glob("*/freezer.state")
        if (path.parent / "cgroup.procs").read_text().split()
    ]
    if not states:
        return None
    fd = os.open(states[0], os.O_WRONLY)
    try:
        start = time.perf_counter()
        for _ in range(rounds):
            os.pwrite(fd, b"THAWED", 0)
            os.pwrite(fd, b"FROZEN", 0)
        writes = (time.perf_counter() - start) / rounds * 1e6
        settle = []
        for _ in range(20):
            os.pwrite(fd, b"THAWED", 0)
            begun = time.perf_counter()
            os.pwrite(fd, b"FROZEN", 0)
            while states[0].read_text().strip() != "FROZEN":
                pass
            settle.append((time.perf_counter() - begun) * 1000)
        return writes, statistics.median(settle)
    finally:
        os.close(fd)  # left FROZEN, as the server left it


def isolation_rows(sandboxed: Any, runtime: str, sandboxed_colds: list[float]) -> list[Row]:
    """Every row of this module; `sandboxed` is the main (default isolation) server. Warm
    figures use a 1,769 MB function (one vCPU): at 128 MB the CPU quota (7 % of a vCPU,
    as on Lambda) throttles back-to-back invokes, which is the model, not the sandbox."""
    rounds = int(os.environ.get("BENCH_COLD_ROUNDS", "20"))
    seconds = float(os.environ.get("BENCH_SECONDS", "5"))
    name = _deploy(sandboxed.client(), runtime, memory=1769)
    warm = _loadgen_p50(sandboxed, name, seconds)
    frozen = statistics.median(after_idle_ms(sandboxed, name, 300)) * 1000
    time.sleep(0.05)  # its environment is frozen again
    freezer = live_freezer(sandboxed.process.pid)
    with (
        tempfile.TemporaryDirectory() as tmp,
        run_server(Path(tmp) / "data", "--isolation", "none", port=free_port()) as plain,
    ):
        plain_lam = plain.client()
        plain_colds = cold_starts_ms(plain, plain_lam, _deploy(plain_lam, runtime), rounds)
        plain_name = _deploy(plain_lam, runtime, memory=1769)
        plain_warm = _loadgen_p50(plain, plain_name, seconds)
        unfrozen = statistics.median(after_idle_ms(plain, plain_name, 300)) * 1000
    return [
        ("cold start p50, sandboxed", f"{percentile(sandboxed_colds, 0.5):.1f} ms",
         f"target < 60 ms; {host_summary()}"),
        ("cold start p99, sandboxed", f"{percentile(sandboxed_colds, 0.99):.1f} ms", ""),
        ("cold start p50, --isolation none", f"{percentile(plain_colds, 0.5):.1f} ms",
         "plain processes, no limits"),
        ("cold start p99, --isolation none", f"{percentile(plain_colds, 0.99):.1f} ms", ""),
        ("warm invoke p50, 1 client, 1,769 MB, sandboxed", f"{warm:.0f} µs",
         f"--isolation none: {plain_warm:.0f} µs"),
        ("warm invoke after 10 ms idle p50 (thawed)", f"{frozen:.0f} µs",
         f"--isolation none (never frozen): {unfrozen:.0f} µs; 1,769 MB"),
        ("freeze+thaw per warm invoke",
         f"{freezer[0]:.0f} µs" if freezer else "n/a",
         "writes to a live environment's freezer, as the server makes them (thaw on the "
         f"invoke path, freeze after the response); FROZEN {freezer[1]:.1f} ms later; "
         "target < 1 ms" if freezer else "no cgroup v1 freezer on this host"),
    ]  # fmt: skip
