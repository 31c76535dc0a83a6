"""Pre-started sandboxes: the sandboxed cold start of a trivial Python handler served from
the pool (`ember serve --prestart N`, the default) beside the same cold start on a server
started with `--prestart 0` (a fresh bubblewrap sandbox and interpreter per cold start), and
the floor `python -S -c pass`, all measured in the same run.

Each round is a configuration change (a new revision: the next invoke needs a new
environment), a pause of PAUSE seconds (the pool refills in the background after each
take: this measures cold starts spaced further apart than one sandbox's start, ~25 ms),
then one synchronous invoke on a new connection (client-side latency), with the REPORT's
Init Duration read from its LogType Tail.

    .venv/bin/python -m bench.prestart      # on its own servers, prints its rows
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.measure import invoke_tail
from bench.server import BenchServer, deploy, new_revision, serve
from bench.snapstart import python_floor

Row = tuple[str, str, str]
MEMORY = 1769  # one vCPU, as Lambda sizes CPU from memory
RUNTIME = "python3.12"
NAME = "bench-prestart-py"
SOURCE = "def handler(event, context):\n    return 1\n"
PAUSE = 0.3


def spaced_cold_starts(server: BenchServer, rounds: int) -> tuple[list[float], list[float]]:
    """(client ms, REPORT Init Duration ms) of `rounds` cold starts, PAUSE apart."""
    lam: Any = server.client()
    try:
        lam.get_function(FunctionName=NAME)
    except lam.exceptions.ResourceNotFoundException:
        deploy(lam, NAME, SOURCE, runtime=RUNTIME, MemorySize=MEMORY)
    # the runtime's first cold start starts its pool
    invoke_tail(server.endpoint, NAME, "Init Duration")
    latencies: list[float] = []
    inits: list[float] = []
    for i in range(rounds):
        new_revision(lam, NAME, i)
        time.sleep(PAUSE)
        elapsed, init = invoke_tail(server.endpoint, NAME, "Init Duration")
        latencies.append(elapsed)
        if init is not None:
            inits.append(init)
    return latencies, inits


def _p50(samples: list[float]) -> float:
    return statistics.median(samples) if samples else float("nan")


def prestart_rows(server: BenchServer, rounds: int = 15) -> list[Row]:
    """`server` runs with the default pool; a second server without one is started here."""
    pooled, pooled_init = spaced_cold_starts(server, rounds)
    with tempfile.TemporaryDirectory() as tmp, serve(Path(tmp) / "data", "--prestart", "0") as bare:
        fresh, fresh_init = spaced_cold_starts(bare, rounds)
    floor = _p50(python_floor(rounds))
    hit = _p50(pooled)
    return [
        (f"sandboxed cold start p50 (pre-started), trivial {RUNTIME} handler, {MEMORY:,} MB",
         f"{hit:.1f} ms",
         f"REPORT Init Duration p50 {_p50(pooled_init):.1f} ms; floor `python -S -c pass` "
         f"{floor:.1f} ms; target ≤ 10 ms {'✔' if hit <= 10 else '✘'}; median of {rounds}, "
         f"{PAUSE:.1f} s apart"),
        ("sandboxed cold start p50 (fresh sandbox, --prestart 0), same handler",
         f"{_p50(fresh):.1f} ms",
         f"REPORT Init Duration p50 {_p50(fresh_init):.1f} ms; same run; median of {rounds}"),
    ]  # fmt: skip


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, serve(Path(tmp) / "data") as server:
        for name, figure, floor in prestart_rows(server):
            print(f"{name}: {figure}  ({floor})")


if __name__ == "__main__":
    main()
