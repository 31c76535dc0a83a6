"""Benchmarks of the scheduler's side of issue 4: how fast one function goes from 0 to 100
busy environments, what an idle 128 MB environment costs in memory (and so how many one
machine holds), and what routing through a weighted alias adds to an invoke.

Functions here talk back to the bench over loopback TCP (a barrier), so the measures hold
when environments are sandboxed (private /tmp, own pid namespace).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from tests.e2e.harness import ROLE, make_zip

# Each invocation reports to the barrier and waits there until told to go: so all of them
# are inside the function, on distinct environments, at the same moment.
BARRIER_HANDLER = """\
import socket
import uuid

ENV_ID = uuid.uuid4().hex  # one per environment (a sandbox's pid namespace repeats pids)


def handler(event, context):
    with socket.create_connection(("127.0.0.1", event["barrier"])) as conn:
        conn.sendall(b"in\\n")
        conn.makefile("rb").readline()  # "go"
    return {"env": ENV_ID}
"""
Row = tuple[str, str, str]


def _deploy(lam: Any, name: str, code: str, **kwargs: Any) -> None:
    lam.create_function(
        FunctionName=name, Runtime=kwargs.pop("runtime"), Role=ROLE, Handler="app.handler",
        Code={"ZipFile": make_zip({"app.py": code})}, **kwargs,
    )  # fmt: skip
    lam.get_waiter("function_active_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.05, "MaxAttempts": 200}
    )


async def _invoke(port: int, path: str, body: bytes) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n".encode()
            + body
        )
        head = await reader.readuntil(b"\r\n\r\n")
        return int(head.split()[1]), await reader.read()
    finally:
        writer.close()


async def _burst(port: int, name: str, count: int) -> tuple[float, list[dict[str, Any]]]:
    """Fire `count` invokes at once; seconds until all `count` are inside the function
    (each on its own environment), and their answers once released."""
    arrived: list[asyncio.StreamWriter] = []
    everyone = asyncio.Event()

    async def arrive(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readline()
        arrived.append(writer)
        if len(arrived) == count:
            everyone.set()

    barrier = await asyncio.start_server(arrive, "127.0.0.1", 0, backlog=1024)
    barrier_port = barrier.sockets[0].getsockname()[1]
    body = orjson.dumps({"barrier": barrier_port})
    path = f"/2015-03-31/functions/{name}/invocations"
    start = time.perf_counter()
    calls = [asyncio.ensure_future(_invoke(port, path, body)) for _ in range(count)]
    await asyncio.wait_for(everyone.wait(), timeout=120)
    elapsed = time.perf_counter() - start
    for writer in arrived:
        writer.write(b"go\n")
    answers = await asyncio.gather(*calls)
    barrier.close()
    bad = [a for a in answers if a[0] != 200]
    if bad:
        raise RuntimeError(f"{len(bad)} of {count} invokes failed: {bad[0]!r}")
    return elapsed, [orjson.loads(body) for _, body in answers]


def _fresh_revision(lam: Any, name: str, i: int) -> None:
    """A configuration change: the next invokes need all-new environments."""
    lam.update_function_configuration(
        FunctionName=name, Environment={"Variables": {"ROUND": str(i)}}
    )
    lam.get_waiter("function_updated_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.05, "MaxAttempts": 200}
    )


def burst_rows(server: Any, lam: Any, runtime: str, rounds: int = 3) -> list[Row]:
    """0 → 100 concurrent busy environments of one function, `rounds` times."""
    _deploy(lam, "bench-burst", BARRIER_HANDLER, runtime=runtime, Timeout=60)
    samples = []
    for i in range(rounds):
        if i:
            _fresh_revision(lam, "bench-burst", i)
        elapsed, answers = asyncio.run(_burst(server.port, "bench-burst", 100))
        assert len({a["env"] for a in answers}) == 100, "each invoke had its own environment"
        samples.append(elapsed)
    lam.delete_function(FunctionName="bench-burst")
    return [
        ("0 → 100 busy environments, one function", f"{statistics.median(samples):.2f} s",
         f"target < 3 s; {rounds} rounds: " + ", ".join(f"{s:.2f}" for s in samples) + " s"),
    ]  # fmt: skip


# -- memory -----------------------------------------------------------------------------


def _children() -> dict[int, list[int]]:
    """pid -> child pids, for every process on the machine."""
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def environment_trees(server_pid: int) -> dict[int, list[int]]:
    """Every process tree the server started, by its root (a direct child of the server):
    each environment is one such tree (a runtime, or a sandbox and what runs inside it).
    Found from the server's side, so it holds when a sandbox gives the function its own
    pid namespace, where os.getpid() names nothing on the host."""
    tree = _children()
    trees = {}
    for root in tree.get(server_pid, []):
        pids, stack = [], [root]
        while stack:
            pid = stack.pop()
            pids.append(pid)
            stack += tree.get(pid, [])
        trees[root] = pids
    return trees


def _rollup(pid: int) -> dict[str, int]:
    """kB figures of /proc/PID/smaps_rollup."""
    figures = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        key, value, *_ = line.split()
        figures[key.rstrip(":")] = int(value)
    return figures


def _memory_kb(pids: list[int]) -> tuple[int, int, int]:
    """(USS, PSS, RSS) in kB of a group of processes."""
    uss = pss = rss = 0
    for pid in pids:
        r = _rollup(pid)
        uss += r["Private_Clean"] + r["Private_Dirty"]
        pss += r["Pss"]
        rss += r["Rss"]
    return uss, pss, rss


def _mem_available_kb() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1])
    raise RuntimeError("no MemAvailable in /proc/meminfo")


def memory_rows(server: Any, lam: Any, runtime: str, count: int = 200) -> list[Row]:
    """Start `count` environments of a 128 MB function by concurrency, let them go idle,
    measure each one's memory; extrapolate how many this machine holds."""
    _deploy(lam, "bench-idle", BARRIER_HANDLER, runtime=runtime, Timeout=60, MemorySize=128)
    before = set(environment_trees(server.process.pid))  # other functions' environments
    _, answers = asyncio.run(_burst(server.port, "bench-idle", count))
    assert len({a["env"] for a in answers}) == count
    time.sleep(0.5)  # let the last ones park in /next
    groups = {
        root: pids
        for root, pids in environment_trees(server.process.pid).items()
        if root not in before
    }
    assert len(groups) == count, f"found {len(groups)} new environments, expected {count}"
    usage = [_memory_kb(pids) for pids in groups.values()]
    uss = statistics.median(u[0] for u in usage) / 1024
    pss = statistics.median(u[1] for u in usage) / 1024
    rss = statistics.median(u[2] for u in usage) / 1024
    available = _mem_available_kb() / 1024
    lam.delete_function(FunctionName="bench-idle")
    return [
        ("idle 128 MB environment, resident (median)", f"{rss:.1f} MiB RSS",
         f"target < 15 MB; USS {uss:.1f} MiB, PSS {pss:.1f} MiB; {count} environments, "
         f"{statistics.median(len(p) for p in groups.values()):.0f} process(es) each"),
        ("idle environments one machine holds", f"≈ {available / uss:,.0f}",
         f"MemAvailable {available / 1024:.1f} GiB ÷ USS (÷ RSS: {available / rss:,.0f}); "
         f"{count} started, not the machine exhausted"),
    ]  # fmt: skip


# -- alias routing ----------------------------------------------------------------------


def alias_rows(
    lam: Any,
    name: str,
    loadgen: Callable[[str, int, float], dict[str, float]],
    rounds: int = 5,
    seconds: float = 1.0,
) -> list[Row]:
    """p50 of invokes through a weighted alias against invokes of a version directly,
    measured in alternating rounds (one keep-alive client) so drift hits both alike."""
    lam.publish_version(FunctionName=name)
    _fresh_revision(lam, name, 0)
    lam.publish_version(FunctionName=name)
    lam.create_alias(
        FunctionName=name,
        Name="live",
        FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}},
    )
    base = f"/2015-03-31/functions/{name}/invocations"
    direct, routed = [], []
    for _ in range(rounds):
        direct.append(loadgen(f"{base}?Qualifier=1", 1, seconds)["p50"])
        routed.append(loadgen(f"{base}?Qualifier=live", 1, seconds)["p50"])
    added = statistics.median(r - d for r, d in zip(routed, direct, strict=True))
    return [
        ("alias with weights vs version, p50 added", f"{added:+.0f} µs",
         f"target < 50 µs; p50 direct {statistics.median(direct):.0f} µs, "
         f"via alias {statistics.median(routed):.0f} µs ({rounds} alternating rounds)"),
    ]  # fmt: skip


def environment_rows(
    server: Any, lam: Any, runtime: str, loadgen: Callable[[str, int, float], dict[str, float]]
) -> list[Row]:
    """Every row of this module (the `bench` function must exist, with a trivial handler)."""
    rows = burst_rows(server, lam, runtime)
    rows += memory_rows(server, lam, runtime, count=int(os.environ.get("BENCH_IDLE_ENVS", 200)))
    rows += alias_rows(lam, "bench", loadgen)
    return rows
