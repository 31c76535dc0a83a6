"""A stand-in for "a host on the internet" on a machine without one: a network namespace of
the test's own, joined to the host by a veth pair, serving TCP that answers each connection
with the address it came from (so a test sees whether it was masqueraded).

Addresses are TEST-NET-3 (203.0.113.0/24): the test host is .1, the host's end of the pair
.254. (TEST-NET-1, 192.0.2.0/24, is taken by the uplink on the project's machines.)
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import ipaddress
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

NETWORK = ipaddress.IPv4Network("203.0.113.0/24")
ADDRESS = "203.0.113.1"
HOST_SIDE = "203.0.113.254"
PORT = 8080

# Answers "<peer address>\n" to every connection; prints "ready" once it listens.
_SERVER = """
import socket, sys
srv = socket.create_server(("0.0.0.0", int(sys.argv[1])), backlog=64)
print("ready", flush=True)
while True:
    conn, peer = srv.accept()
    with conn:
        conn.sendall(peer[0].encode() + b"\\n")
"""


@dataclasses.dataclass(frozen=True)
class OutsideHost:
    address: str
    port: int
    host_side: str  # the host's address towards it: what a masqueraded connection shows


def problem() -> str:
    """ "" if this machine can make a test host, else why not."""
    if os.geteuid() != 0:
        return "not root"
    if shutil.which("ip") is None:
        return "no `ip` (iproute2)"
    if shutil.which("nft") is None:
        return "nftables is not installed"
    with open("/proc/net/route") as rows:
        for row in list(rows)[1:]:
            fields = row.split()
            dest = ipaddress.IPv4Address(int(fields[1], 16).to_bytes(4, "little"))
            mask = ipaddress.IPv4Address(int(fields[7], 16).to_bytes(4, "little"))
            route = ipaddress.IPv4Network(f"{dest}/{mask}", strict=False)
            if route.prefixlen and route.overlaps(NETWORK):
                return f"{NETWORK} is in use here ({fields[0]})"
    return ""


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


def reach(address: str, port: int, timeout: float = 3.0) -> str:
    """What a TCP connection from here gets: the first line ("closed" for none,
    "connected" if nothing came in time), or why it failed ("timeout", the errno's name)."""

    try:
        conn = socket.create_connection((address, port), timeout=timeout)
    except TimeoutError:
        return "timeout"
    except OSError as exc:
        return errno.errorcode.get(exc.errno or 0, str(exc))
    with conn:
        try:
            return conn.makefile().readline().strip() or "closed"
        except TimeoutError:
            return "connected"  # a listener that says nothing


@contextlib.contextmanager
def outside_host() -> Iterator[OutsideHost]:
    """The test host, removed on exit whatever happened."""
    tag = uuid.uuid4().hex[:8]
    name, link = f"ember-test-{tag}", f"th{tag}"
    server: subprocess.Popen[str] | None = None
    try:
        _ip("netns", "add", name)
        _ip("link", "add", link, "type", "veth", "peer", "name", "eth0", "netns", name)
        _ip("addr", "add", f"{HOST_SIDE}/24", "dev", link)
        _ip("link", "set", link, "up")
        _ip("-n", name, "link", "set", "lo", "up")
        _ip("-n", name, "addr", "add", f"{ADDRESS}/24", "dev", "eth0")
        _ip("-n", name, "link", "set", "eth0", "up")
        _ip("-n", name, "route", "add", "default", "via", HOST_SIDE)
        server = subprocess.Popen(
            ["ip", "netns", "exec", name, sys.executable, "-S", "-c", _SERVER, str(PORT)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert server.stdout is not None
        assert server.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 10
        while reach(ADDRESS, PORT, 1.0) != HOST_SIDE:  # the host reaches it directly
            assert time.monotonic() < deadline, "the test host does not answer"
            time.sleep(0.05)
        yield OutsideHost(ADDRESS, PORT, HOST_SIDE)
    finally:
        if server is not None:
            server.kill()
            server.wait()
            if server.stdout is not None:
                server.stdout.close()
        with contextlib.suppress(subprocess.SubprocessError):
            _ip("link", "del", link)
        with contextlib.suppress(subprocess.SubprocessError):
            _ip("netns", "del", name)
