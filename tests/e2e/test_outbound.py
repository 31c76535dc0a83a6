"""Outbound traffic from functions, as on Lambda without a VPC: a function reaches a host
outside (here a test host in a network namespace of the test's own, at 203.0.113.1) through
Ember's NAT, seen from there with the host's address; it never reaches the host itself
(its bridge address, its other addresses, Ember's API on them), the host's loopback, or
another environment. `--network-outbound off` leaves no route out.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ember.sandbox import Isolation, probe
from tests import testhost
from tests.e2e.harness import REPO, Server, create_function, run_server

pytestmark = pytest.mark.e2e


def _problem() -> str:
    with tempfile.TemporaryDirectory() as state:
        host = probe(Isolation.AUTO, Path(state), outbound=False)
        host.close()
    return testhost.problem() or ("" if host.network else host.network_problem)


PROBLEM = _problem()
if PROBLEM:
    pytest.skip(f"no outbound NAT here: {PROBLEM}", allow_module_level=True)

PROBE = r"""
import errno, socket

def _reach(host, port):
    try:
        conn = socket.create_connection((host, port), timeout=3)
    except TimeoutError:
        return "timeout"
    except OSError as exc:
        return errno.errorcode.get(exc.errno, str(exc.errno)) if exc.errno else "timeout"
    with conn:
        try:
            return conn.makefile().readline().strip() or "closed"
        except TimeoutError:
            return "connected"  # a listener that says nothing

def _gateway():
    with open("/proc/net/route") as rows:
        for row in list(rows)[1:]:
            fields = row.split()
            if fields[1] == "00000000":
                return socket.inet_ntoa(int(fields[2], 16).to_bytes(4, "little"))
    return None

def _own():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("203.0.113.1", 9))
        except OSError:
            return None
        return probe.getsockname()[0]

# Another environment may look for us: listen on our own address from Init on.
LISTENER = socket.create_server(("0.0.0.0", 7777))

def handler(event, context):
    out = {"gateway": _gateway(), "own": _own()}
    for name, (host, port) in event.get("targets", {}).items():
        out[name] = _reach(host, port)
    if out["gateway"]:
        out["bridge"] = _reach(out["gateway"], event["ember_port"])
    return out
"""


def _deploy(server: Server, name: str) -> None:
    create_function(server.client(), name, PROBE, Timeout=60)


def _invoke(server: Server, name: str, event: Any) -> Any:
    resp = server.client().invoke(FunctionName=name, Payload=json.dumps(event).encode())
    doc = json.loads(resp["Payload"].read())
    assert "FunctionError" not in resp, doc
    return doc


def _host_address() -> str | None:
    """The host's address on its default route (not loopback, not the test host's link)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("198.51.100.1", 9))  # TEST-NET-2: no packet is sent
        except OSError:
            return None
        address: str = probe.getsockname()[0]
        return address


@pytest.fixture(scope="module")
def outside() -> Iterator[testhost.OutsideHost]:
    with testhost.outside_host() as host:
        yield host


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Ember's API on every address (so the control can reach it on the host's own
    address): functions must still not."""
    root = tmp_path_factory.mktemp("outbound")
    with run_server(root / "data", "--host", "0.0.0.0", "--auth", "none") as found:
        yield found


@pytest.fixture(scope="module")
def seen(server: Server, outside: testhost.OutsideHost) -> dict[str, Any]:
    """What a function reached, and what a second one (listening on its own address,
    warm) looked like."""
    host = _host_address()
    other, attacker = f"other-{uuid.uuid4().hex[:6]}", f"probe-{uuid.uuid4().hex[:6]}"
    _deploy(server, other)
    _deploy(server, attacker)
    victim = _invoke(server, other, {"ember_port": server.port})
    targets: dict[str, tuple[str, int]] = {
        "outside": (outside.address, outside.port),
        "loopback_ember": ("127.0.0.1", server.port),
        "test_link": (outside.host_side, server.port),
        "other_env": (victim["own"], 7777),
    }
    if host is not None:
        targets["host_ember"] = (host, server.port)
    event = {"ember_port": server.port, "targets": targets}
    return {
        "victim": victim,
        "attacker": _invoke(server, attacker, event),
        "host": host,
        "self": _invoke(server, other, {"ember_port": server.port, "targets": {
            "own_listener": (victim["own"], 7777)}}),
    }  # fmt: skip


def test_a_function_reaches_the_outside_through_nat(
    seen: dict[str, Any], outside: testhost.OutsideHost
) -> None:
    doc = seen["attacker"]
    assert doc["outside"] == outside.host_side  # masqueraded: the host's address shows
    assert doc["own"] != outside.host_side
    assert doc["own"].startswith("169.254.")


def test_the_host_itself_is_out_of_reach(
    seen: dict[str, Any], server: Server, outside: testhost.OutsideHost
) -> None:
    doc = seen["attacker"]
    # The control: Ember's API listens on all of the host's addresses.
    assert testhost.reach(outside.host_side, server.port) == "connected"
    assert doc["loopback_ember"] == "ECONNREFUSED"  # its own loopback, not the host's
    assert doc["bridge"] == "timeout"  # the gateway is the host: dropped
    assert doc["test_link"] == "timeout"
    if seen["host"] is not None:
        assert testhost.reach(seen["host"], server.port) == "connected"
        assert doc["host_ember"] == "timeout"


def test_another_environment_is_out_of_reach(seen: dict[str, Any]) -> None:
    victim = seen["victim"]
    assert victim["own"] != seen["attacker"]["own"]
    assert seen["self"]["own_listener"] == "connected"  # the control: it listens there
    assert seen["attacker"]["other_env"] == "timeout"


def test_outbound_off_leaves_no_route_out(tmp_path: Any, outside: testhost.OutsideHost) -> None:
    with run_server(tmp_path / "data", "--network-outbound", "off") as server:
        name = f"probe-{uuid.uuid4().hex[:6]}"
        _deploy(server, name)
        event = {"ember_port": server.port, "targets": {"outside": (outside.address, 8080)}}
        doc = _invoke(server, name, event)
        assert "no outbound (--network-outbound off)" in server.output()
    assert doc["outside"] == "ENETUNREACH"
    assert doc["gateway"] is None


def test_doctor_says_outbound_holds(server: Server) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ember", "doctor"],
        capture_output=True, text=True, cwd=REPO, timeout=60, check=False,
    )  # fmt: skip
    assert "outbound to the outside through NAT" in result.stdout, result.stdout
    assert "own network namespace, outbound NAT" in server.output()
