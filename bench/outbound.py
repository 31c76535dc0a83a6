"""What an environment's network costs: the per-environment set-up code itself (a namespace made
with and without its veth pair, alternating, in this process), then on the real invoke
path a sandboxed server with `--network-outbound on` against one with `off`, both running
at once, cold starts and warm invokes in alternating rounds.

Run alone: `python -m bench.outbound` (root, bubblewrap, nftables); `make bench` adds the
rows where the host allows.
"""

from __future__ import annotations

import contextlib
import os
import socket
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from bench.measure import loadgen, percentile, spread
from bench.server import cold_starts, deploy, serve
from ember.sandbox import Isolation, network, probe
from ember.sandbox.outbound import Outbound

HANDLER = "def handler(event, context):\n    return {'ok': True}\n"
MEMORY = 1769
Row = tuple[str, str, str]


def setup_samples(count: int) -> dict[str, list[float]]:
    """ms per `network.create()` without and with outbound, alternating, beside what the
    same Runtime API listener costs with no namespace at all (`bare`: the floor)."""
    samples: dict[str, list[float]] = {"bare": [], "without": [], "with": []}
    wired = Outbound.open()
    try:
        for _ in range(count):
            start = time.perf_counter()
            socket.create_server(("127.0.0.1", 0), backlog=16).close()
            samples["bare"].append((time.perf_counter() - start) * 1000)
            for kind, arg in (("without", None), ("with", wired)):
                start = time.perf_counter()
                ns = network.create((), arg)
                samples[kind].append((time.perf_counter() - start) * 1000)
                ns.close()
    finally:
        wired.close()
    return samples


def outbound_available() -> bool:
    """Whether this host gives environments a namespace and outbound NAT (blocking)."""
    with tempfile.TemporaryDirectory() as state:
        host = probe(Isolation.AUTO, Path(state))
        try:
            return host.outbound is not None
        finally:
            host.close()


def outbound_rows() -> list[Row]:
    count = int(os.environ.get("BENCH_SETUP_ROUNDS", "60"))
    rounds = int(os.environ.get("BENCH_COLD_ROUNDS", "30"))
    seconds = float(os.environ.get("BENCH_SECONDS", "5"))
    setup = setup_samples(count)
    added = statistics.median(setup["with"]) - statistics.median(setup["without"])
    own = statistics.median(setup["without"]) - statistics.median(setup["bare"])
    rows: list[Row] = [
        ("network namespace set-up p50 / p90, no outbound",
         f"{percentile(setup['without'], 0.5):.2f} / {percentile(setup['without'], 0.9):.2f} ms",
         f"Runtime API socket without a namespace {percentile(setup['bare'], 0.5):.3f} ms; "
         f"the namespace adds p50 {own:+.2f} ms; {count} samples each"),
        ("network namespace set-up p50 / p90, outbound on",
         f"{percentile(setup['with'], 0.5):.2f} / {percentile(setup['with'], 0.9):.2f} ms",
         f"off: {percentile(setup['without'], 0.5):.2f} / "
         f"{percentile(setup['without'], 0.9):.2f} ms; added p50 {added:+.2f} ms; "
         f"{count} samples each, alternating"),
    ]  # fmt: skip
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        servers = {
            kind: stack.enter_context(serve(tmp / kind, "--network-outbound", kind))
            for kind in ("on", "off")
        }
        names = {}
        for kind, server in servers.items():
            names[kind] = f"bench-out-{uuid.uuid4().hex[:6]}"
            deploy(server.client(), names[kind], HANDLER, MemorySize=MEMORY)
        colds: dict[str, list[float]] = {kind: [] for kind in servers}
        warm: dict[str, list[float]] = {kind: [] for kind in servers}
        for _ in range(5):
            for kind, server in servers.items():
                colds[kind] += cold_starts(server, names[kind], max(1, rounds // 5))
                path = f"/2015-03-31/functions/{names[kind]}/invocations"
                warm[kind].append(loadgen(server.port, path, 1, seconds / 5)["p50"])
    cold_added = statistics.median(colds["on"]) - statistics.median(colds["off"])
    warm_added = statistics.median(warm["on"]) - statistics.median(warm["off"])
    rows += [
        (f"cold start p50 / p99, outbound on, {MEMORY:,} MB",
         f"{percentile(colds['on'], 0.5):.1f} / {percentile(colds['on'], 0.99):.1f} ms",
         f"off: {percentile(colds['off'], 0.5):.1f} / {percentile(colds['off'], 0.99):.1f} ms; "
         f"added p50 {cold_added:+.1f} ms; {len(colds['on'])} samples each, alternating"),
        (f"warm invoke p50, 1 client, {MEMORY:,} MB, outbound on",
         spread(warm["on"], "µs"),
         f"off: {spread(warm['off'], 'µs')}; difference {warm_added:+.0f} µs"),
    ]  # fmt: skip
    return rows


if __name__ == "__main__":
    for name, value, note in outbound_rows():
        print(f"{name:<52} {value:<22} {note}")
