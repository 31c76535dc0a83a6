"""Benchmarks of the scheduler's side: how fast one function goes from 0 to 100 busy
environments, what an idle 128 MB environment costs (its processes, and the server's file
descriptors and memory for it), and what routing through a weighted alias adds.

Functions here do not talk back to the bench over the network (environments have their
own network namespace): each invocation holds its environment for a few seconds and
reports when its handler started, so all of them are inside the function at once, on
distinct environments, and the ramp is read from their own timestamps.
"""

from __future__ import annotations

import asyncio
import os
import resource
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from bench.server import BenchServer, deploy, new_revision

HOLD_HANDLER = """\
import time
import uuid

ENV_ID = uuid.uuid4().hex  # one per environment (a sandbox's pid namespace repeats pids)


def handler(event, context):
    started = time.time()
    time.sleep(event["hold"])
    return {"env": ENV_ID, "started": started}
"""
HOLD = 8.0  # seconds each invocation keeps its environment: longer than any ramp here
Row = tuple[str, str, str]


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
    """Fire `count` invokes at once; seconds until the last of them entered its handler
    (each on its own environment), and their answers."""
    body = orjson.dumps({"hold": HOLD})
    path = f"/2015-03-31/functions/{name}/invocations"
    fired = time.time()
    answers = await asyncio.gather(*(_invoke(port, path, body) for _ in range(count)))
    bad = [a for a in answers if a[0] != 200]
    if bad:
        raise RuntimeError(f"{len(bad)} of {count} invokes failed: {bad[0]!r}")
    results = [orjson.loads(body) for _, body in answers]
    errors = [r for r in results if "env" not in r]
    if errors:
        raise RuntimeError(f"{len(errors)} of {count} invokes failed: {errors[0]!r}")
    if len({r["env"] for r in results}) != count:
        raise RuntimeError("an environment served two invocations: the ramp outlasted HOLD")
    return max(r["started"] for r in results) - fired, results


def burst_rows(server: BenchServer, rounds: int = 3) -> list[Row]:
    """0 → 100 concurrent busy environments of one function, `rounds` times."""
    lam = server.client()
    deploy(lam, "bench-burst", HOLD_HANDLER, Timeout=60)
    samples = []
    for i in range(rounds):
        if i:
            new_revision(lam, "bench-burst", i)
        elapsed, _ = asyncio.run(_burst(server.port, "bench-burst", 100))
        samples.append(elapsed)
    lam.delete_function(FunctionName="bench-burst")
    return [
        ("0 → 100 busy environments, one function", f"{statistics.median(samples):.2f} s",
         f"target ≤ 0.5 s; until the 100th handler started; {rounds} rounds: "
         + ", ".join(f"{s:.2f}" for s in samples) + " s; namespaces and /tmp from pools "
         f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)"),
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


def _serves(pids: list[int], function: str) -> bool:
    """Whether a process tree is an environment of `function` (not a pre-started sandbox
    waiting for one): one of its processes has the function's variables."""
    marker = f"AWS_LAMBDA_FUNCTION_NAME={function}".encode()
    for pid in pids:
        try:
            if marker in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
                return True
        except OSError:
            continue
    return False


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


def _server_state(pid: int) -> tuple[int, int]:
    """(open file descriptors, RSS in kB) of the server process itself."""
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return fds, int(line.split()[1])
    raise RuntimeError("no VmRSS")


def _open_files_limit(pid: int) -> int:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            return int(line.split()[3])
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def memory_rows(server: BenchServer, count: int = 200) -> list[Row]:
    """Start `count` environments of a 128 MB function by concurrency, let them go idle,
    measure each one's processes and what the server holds for it; how many fit here."""
    lam = server.client()
    deploy(lam, "bench-idle", HOLD_HANDLER, Timeout=60, MemorySize=128)
    pid = server.process.pid
    fds_before, rss_before = _server_state(pid)
    asyncio.run(_burst(server.port, "bench-idle", count))
    time.sleep(0.5)  # let the last ones park in /next
    # The function is new: every tree serving it is one of its environments (pre-started
    # sandboxes it took included, though they were children of the server before the burst).
    groups = {
        root: pids for root, pids in environment_trees(pid).items() if _serves(pids, "bench-idle")
    }
    if len(groups) != count:
        raise RuntimeError(f"found {len(groups)} new environments, expected {count}")
    fds_after, rss_after = _server_state(pid)
    usage = [_memory_kb(pids) for pids in groups.values()]
    # The interpreter's own share, apart from bubblewrap's processes around it.
    biggest = [max(_memory_kb([p])[0] for p in pids) for pids in groups.values()]
    uss = statistics.median(u[0] for u in usage) / 1024
    pss = statistics.median(u[1] for u in usage) / 1024
    rss = statistics.median(u[2] for u in usage) / 1024
    server_mib = (rss_after - rss_before) / 1024 / count
    fds_each = (fds_after - fds_before) / count
    available = _mem_available_kb() / 1024
    by_memory = available / (uss + server_mib)
    by_fds = _open_files_limit(pid) / fds_each if fds_each > 0 else float("inf")
    lam.delete_function(FunctionName="bench-idle")
    return [
        ("idle 128 MB environment, resident (median)", f"{rss:.1f} MiB RSS",
         f"target < 15 MB; USS {uss:.1f} MiB, PSS {pss:.1f} MiB; {count} environments, "
         f"{statistics.median(len(p) for p in groups.values()):.0f} process(es) each"),
        ("idle 128 MB environment, USS (median)", f"{uss:.2f} MiB",
         f"target ≤ 3 MiB; the runtime's process {statistics.median(biggest) / 1024:.2f} MiB, "
         "the rest bubblewrap's; a handler that imports uuid"),
        ("server's own cost per idle environment", f"{fds_each:.1f} fds",
         f"{server_mib * 1024:.0f} KiB of server RSS each ({count} environments)"),
        ("idle environments this server can hold", f"≈ {min(by_memory, by_fds):,.0f}",
         f"by memory ≈ {by_memory:,.0f} (MemAvailable {available / 1024:.1f} GiB ÷ "
         f"(USS + server share)); by open files ≈ {by_fds:,.0f} (limit "
         f"{_open_files_limit(pid):,}); {count} started, not the machine exhausted"),
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
    new_revision(lam, name, 0)
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
    server: BenchServer, loadgen: Callable[[str, int, float], dict[str, float]]
) -> list[Row]:
    """Every row of this module (the `bench` function must exist, with a trivial handler)."""
    rows = burst_rows(server)
    rows += memory_rows(server, count=int(os.environ.get("BENCH_IDLE_ENVS", 120)))
    rows += alias_rows(server.client(), "bench", loadgen)
    return rows
