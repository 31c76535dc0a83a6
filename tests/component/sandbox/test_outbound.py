"""Outbound traffic from an environment's namespace (veth + NAT, made by Ember): it reaches a
host outside, masqueraded; it never reaches the host itself, its loopback or another
environment; the slot's set-up is idempotent, removed at close and swept after a crash."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from ember.sandbox import network
from ember.sandbox.outbound import Outbound
from tests import testhost
from tests.component.sandbox.namespaces import inside

_PROBLEM = testhost.problem() or network.available()
pytestmark = pytest.mark.skipif(bool(_PROBLEM), reason=f"no outbound NAT here: {_PROBLEM}")


def _reach(fd: int, address: str, port: int) -> str:
    return inside(fd, lambda: testhost.reach(address, port, 2.0))


@pytest.fixture(scope="module")
def wired() -> Iterator[Outbound]:
    slot = Outbound.open()
    try:
        yield slot
    finally:
        slot.close()


@pytest.fixture(scope="module")
def outside() -> Iterator[testhost.OutsideHost]:
    with testhost.outside_host() as host:
        yield host


@contextlib.contextmanager
def _namespace(wired: Outbound) -> Iterator[network.Namespace]:
    ns = network.create((), wired)
    try:
        yield ns
    finally:
        ns.close()


@contextlib.contextmanager
def _listener(address: str) -> Iterator[int]:
    """A service on the host at `address` answering "here"; its port."""
    sock = socket.create_server((address, 0))
    sock.settimeout(0.1)
    done = threading.Event()

    def serve() -> None:
        while not done.is_set():
            with contextlib.suppress(TimeoutError):
                conn, _ = sock.accept()
                with conn:
                    conn.sendall(b"here\n")

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        yield sock.getsockname()[1]
    finally:
        done.set()
        thread.join()
        sock.close()


def _host_address() -> str:
    """One of the host's own non-loopback addresses (its default route's source)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect((testhost.ADDRESS, 9))  # no packet: picks the source address
        return str(probe.getsockname()[0])


def test_an_environment_reaches_the_outside_masqueraded(
    wired: Outbound, outside: testhost.OutsideHost
) -> None:
    with _namespace(wired) as ns:
        assert ns.link is not None
        assert ns.link.address in wired.network.hosts() or ns.link.address.ip in wired.network
        # The test host sees the host's address, not the environment's.
        assert _reach(ns.fd, outside.address, outside.port) == outside.host_side


def test_without_outbound_there_is_no_route_out(outside: testhost.OutsideHost) -> None:
    ns = network.create(())
    try:
        assert ns.link is None
        assert _reach(ns.fd, outside.address, outside.port) == "ENETUNREACH"
    finally:
        ns.close()


def test_the_host_itself_is_out_of_reach(wired: Outbound) -> None:
    """Its bridge address, its other addresses, its loopback: each with a listener there
    that the host itself reaches."""
    own = _host_address()
    with (
        _namespace(wired) as ns,
        _listener("0.0.0.0") as port,
    ):
        assert testhost.reach(own, port, 2.0) == "here"  # the control: it listens there
        for address in (str(wired.gateway), own, testhost.HOST_SIDE):
            assert _reach(ns.fd, address, port) == "timeout", address
        assert _reach(ns.fd, "127.0.0.1", port) == "ECONNREFUSED"  # its own loopback


def test_environments_do_not_reach_each_other(wired: Outbound) -> None:
    with _namespace(wired) as one, _namespace(wired) as other:
        assert one.link is not None
        assert other.link is not None
        address = str(other.link.address.ip)

        def listen() -> socket.socket:
            return socket.create_server((address, 0))

        server = inside(other.fd, listen)
        with server:
            port = server.getsockname()[1]
            assert _reach(other.fd, address, port) == "connected"  # the control: it listens
            assert _reach(one.fd, address, port) in ("timeout", "EHOSTUNREACH")


def test_addresses_are_reused_last_and_released_on_close(wired: Outbound) -> None:
    with _namespace(wired) as first:
        assert first.link is not None
        taken = first.link.address
    with _namespace(wired) as second:
        assert second.link is not None
        assert second.link.address != taken  # a released address waits at the back


def test_a_crashed_servers_slot_is_swept_and_the_next_one_gets_a_clean_one() -> None:
    """A slot's lock is free after its server died: the next server takes it over."""
    first = Outbound.open()
    bridge, slot = first.bridge, first.slot
    ns = network.create((), first)
    link = ns.link
    assert link is not None
    # As a crash leaves it: the lock dropped, the bridge, rules and a veth end in place.
    os.close(first._lock_fd)
    first._host.close()
    try:
        assert Path(f"/sys/class/net/{link.name}").exists()
        second = Outbound.open()
        try:
            assert second.slot == slot
            assert not Path(f"/sys/class/net/{link.name}").exists()  # the stray swept
            listed = subprocess.run(
                ["nft", "list", "table", "inet", bridge], capture_output=True, text=True
            )
            assert listed.stdout.count("masquerade") == 1
        finally:
            second.close()
    finally:
        ns.close()
    assert not Path(f"/sys/class/net/{bridge}").exists()
    gone = subprocess.run(["nft", "list", "table", "inet", bridge], capture_output=True)
    assert gone.returncode != 0
