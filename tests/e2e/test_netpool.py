"""Network namespaces made ahead of cold starts, seen from a real server: every environment
gets one of its own (never one another environment had, nor Ember's), wired to the
outside as before, and a stopped server leaves no veth pair, bridge or namespace behind."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from ember.sandbox import Isolation, probe
from tests.e2e.harness import Server, create_function, run_server, wait_until


def _outbound_problem() -> str:
    with tempfile.TemporaryDirectory() as state:
        host = probe(Isolation.AUTO, Path(state))
        try:
            if not host.network:
                return host.network_problem
            return host.outbound_problem
        finally:
            host.close()


NO_OUTBOUND = _outbound_problem()
pytestmark = pytest.mark.skipif(bool(NO_OUTBOUND), reason=f"no outbound NAT: {NO_OUTBOUND}")

# Holds its environment a moment, so that concurrent invokes each get their own.
HANDLER = """
import os, socket, time
def handler(event, context):
    time.sleep(event.get("hold", 0))
    names = sorted(name for _, name in socket.if_nameindex())
    return {"netns": os.readlink("/proc/self/ns/net"), "links": names}
"""


def _bridge(pid: int) -> str:
    """The bridge of the server `pid`: its slot is the lock file it holds open."""
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        target = os.readlink(fd)
        if target.startswith("/run/ember/net/slot-"):
            return "ember" + target.removeprefix("/run/ember/net/slot-").removesuffix(".lock")
    raise AssertionError("the server holds no outbound slot")


def _links(bridge: str) -> set[str]:
    return {
        p.name
        for p in Path("/sys/class/net").iterdir()
        if p.name == bridge or p.name.startswith(f"{bridge}-")
    }


@pytest.fixture(scope="module")
def started(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    with run_server(tmp_path_factory.mktemp("netpool") / "data") as server:
        yield server, _bridge(server.process.pid)


def _burst(lam: Any, name: str, count: int) -> list[dict[str, Any]]:
    def one(_: int) -> dict[str, Any]:
        resp = lam.invoke(FunctionName=name, Payload=json.dumps({"hold": 1.5}))
        doc: dict[str, Any] = json.loads(resp["Payload"].read())
        assert "FunctionError" not in resp, doc
        return doc

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, range(count)))


def test_every_environment_gets_a_namespace_of_its_own(started: tuple[Server, str]) -> None:
    server, _ = started
    lam = server.client()
    create_function(lam, "pooled", HANDLER, Timeout=30)
    first = _burst(lam, "pooled", 6)
    variables = {"Variables": {"ROUND": "2"}}
    lam.update_function_configuration(FunctionName="pooled", Environment=variables)
    lam.get_waiter("function_updated_v2").wait(
        FunctionName="pooled", WaiterConfig={"Delay": 0.1, "MaxAttempts": 100}
    )
    second = _burst(lam, "pooled", 6)
    seen = [doc["netns"] for doc in first + second]
    assert len(set(seen)) == 12  # twelve environments, twelve namespaces: none handed twice
    own = Path("/proc/self/ns/net").readlink().name
    assert own not in seen
    for doc in first + second:
        assert doc["links"] == ["eth0", "lo"]  # wired ahead of time, as at a cold start


def test_a_stopped_server_leaves_no_veth_nor_bridge(started: tuple[Server, str]) -> None:
    server, bridge = started
    assert len(_links(bridge)) > 1  # its bridge, and its pool's veth pairs ready on it
    server.process.terminate()
    server.process.wait(timeout=30)
    # Namespaces (and their veth pairs) are freed by the kernel once their last fd closes.
    wait_until(lambda: not _links(bridge), limit=20)
