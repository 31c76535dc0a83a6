"""Soak: create, invoke and delete 2,000 functions; the server's memory, open files and
data folders come back to where they were after a warm-up. Everything Ember keeps per
function goes when the function goes (pools, revisions, specs, counters, logs, code,
merged layers, layer tombstones)."""

from __future__ import annotations

import concurrent.futures
import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import ROLE, Server, make_zip, run_server, wait_until

pytestmark = pytest.mark.e2e

FUNCTIONS = int(os.environ.get("EMBER_SOAK_FUNCTIONS", "2000"))
WARM_UP = 200
THREADS = 8
TOLERANCE = 0.10
# Sandboxes cost cold-start time, not server state: plain processes keep the soak short.
ISOLATION = ("--isolation", os.environ.get("EMBER_SOAK_ISOLATION", "none"))


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _open_files(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def _files(folder: Path) -> int:
    return sum(len(files) + len(dirs) for _, dirs, files in os.walk(folder))


def _lifecycle(lam: Any, n: int, layer: str) -> None:
    """One function's whole life: create, invoke (a cold start), delete."""
    name = f"soak-{n}"
    extra = {"Layers": [layer]} if n % 10 == 0 else {}  # some use a layer: a merged /opt
    lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": make_zip({"app.py": f"def handler(event, context):\n    return {n}\n"})},
        **extra,
    )
    reply = lam.invoke(FunctionName=name, Payload=b"{}")  # waits until it is Active
    assert json.loads(reply["Payload"].read()) == n, name
    lam.delete_function(FunctionName=name)


def _run_batch(lam: Any, numbers: range, layer: str) -> None:
    with concurrent.futures.ThreadPoolExecutor(THREADS) as pool:
        for future in [pool.submit(_lifecycle, lam, n, layer) for n in numbers]:
            future.result()


def _state(server: Server) -> dict[str, int]:
    pid = server.process.pid
    return {
        "rss_kb": _rss_kb(pid),
        "open_files": _open_files(pid),
        "code": _files(server.data_dir / "code"),
        "opt": _files(server.data_dir / "opt"),
        "layers": _files(server.data_dir / "layers"),
        "blobs": _files(server.data_dir / "blobs"),
    }


def _settled(server: Server, before: dict[str, int]) -> dict[str, int] | None:
    """The state once back within tolerance of `before` (folders: exactly), else None."""
    now = _state(server)
    for key in ("code", "opt", "layers", "blobs"):
        if now[key] != before[key]:
            return None
    for key in ("rss_kb", "open_files"):
        if abs(now[key] - before[key]) > TOLERANCE * before[key]:
            return None
    return now


def _quiet(server: Server) -> dict[str, int] | None:
    """The baseline: the warm-up's functions are gone from disk too (their code and merged
    layers are collected in the background once their environments have shut down), and
    a second look, a moment later, agrees with the first."""
    first = _state(server)
    if first["code"] or first["opt"]:
        return None
    return _settled(server, first)


@pytest.mark.timeout(600)
def test_state_returns_after_thousands_of_functions(tmp_path: Path) -> None:
    with run_server(tmp_path / "data", "--idle-timeout", "600", *ISOLATION) as server:
        lam = server.client(max_pool_connections=THREADS)
        layer_zip = make_zip({"python/soaklib.py": "VALUE = 1\n"})
        published = lam.publish_layer_version(LayerName="soaklib", Content={"ZipFile": layer_zip})
        layer = published["LayerVersionArn"]
        # Warm-up: allocator pools, caches and imports reach their working size.
        _run_batch(lam, range(WARM_UP), layer)
        before = wait_until(lambda: _quiet(server), 60, interval=0.5)
        for start in range(WARM_UP, WARM_UP + FUNCTIONS, 200):
            _run_batch(lam, range(start, min(start + 200, WARM_UP + FUNCTIONS)), layer)
        # Environments shut down in the background after their function goes: poll.
        try:
            after = wait_until(lambda: _settled(server, before), 60, interval=0.5)
        except AssertionError:
            raise AssertionError(f"before {before}, now {_state(server)}") from None
        print(f"soak: {FUNCTIONS} functions; after warm-up {before}; at the end {after}")
        assert lam.list_functions()["Functions"] == []
        assert after["opt"] == 0
        # The layer itself is still there, and so is its content (it was never deleted).
        assert lam.get_layer_version_by_arn(Arn=layer)["Version"] == 1
