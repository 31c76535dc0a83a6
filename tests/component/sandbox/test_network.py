"""An environment's network namespace, made by Ember: what is inside, what is reachable from
it, the relays to the host's loopback, and that nothing outlives `close()` (fds counted)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
from collections.abc import Callable, Iterator

import pytest

from ember.runtime_api import RuntimeEndpoint
from ember.sandbox import network
from ember.sandbox.network_relay import Relay
from tests.component.runtime_api.loops import LOOPS, Scenario
from tests.component.sandbox.namespaces import inside

Runner = Callable[[Scenario], None]

_PROBLEM = network.available() if os.geteuid() == 0 else "not root"
pytestmark = pytest.mark.skipif(bool(_PROBLEM), reason=f"no network namespaces: {_PROBLEM}")


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _netns() -> str:
    return os.readlink("/proc/thread-self/ns/net")


def _inside(fd: int, address: tuple[str, int], payload: bytes = b"") -> bytes:
    """Connect to `address` from inside namespace `fd` (a thread of its own), send, read."""

    def talk() -> bytes:
        with socket.create_connection(address, timeout=5) as conn:
            conn.sendall(payload)
            conn.shutdown(socket.SHUT_WR)
            chunks = []
            while chunk := conn.recv(65536):
                chunks.append(chunk)
            return b"".join(chunks)

    return inside(fd, talk)


@contextlib.contextmanager
def _echo_server() -> Iterator[int]:
    """A service on the host's loopback answering `echo:` + what it got."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.05)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(5)
                data = b""
                while chunk := conn.recv(65536):
                    data += chunk
                conn.sendall(b"echo:" + data)

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        server.close()


def test_a_namespace_has_its_own_loopback_and_the_thread_comes_back() -> None:
    before = _netns()
    ns = network.create([8080])
    try:
        assert _netns() == before
        assert os.readlink(f"/proc/self/fd/{ns.fd}") != before
        assert ns.runtime_api.getsockname() == network.RUNTIME_API
        assert ns.relays[8080].getsockname() == (network.HOST_ADDRESS, 8080)
        with network.entered(ns.fd):
            assert _netns() == os.readlink(f"/proc/self/fd/{ns.fd}")
            # Only what Ember made in it listens there.
            with open("/proc/thread-self/net/tcp") as table:
                listening = [row.split()[1] for row in list(table)[1:]]
        assert sorted(listening) == ["0100007F:2329", "0200007F:1F90"]
        assert _netns() == before
    finally:
        ns.close()


def test_the_host_loopback_is_out_of_reach_inside() -> None:
    with _echo_server() as port:
        assert _inside(-1, ("127.0.0.1", port), b"x") == b"echo:x"  # the control
        ns = network.create()
        try:
            with pytest.raises(ConnectionRefusedError):
                _inside(ns.fd, ("127.0.0.1", port), b"x")
        finally:
            ns.close()


def test_create_and_close_leak_nothing() -> None:
    network.create([1234]).close()  # the first call loads libc's symbols
    before = _fds()
    for _ in range(50):
        network.create([1234, 1235]).close()
    assert _fds() == before


@pytest.fixture(params=sorted(LOOPS))
def run(request: pytest.FixtureRequest) -> Callable[[Scenario], None]:
    """Run an async scenario on asyncio's loop and on uvloop (Ember's), bounded."""
    factory = LOOPS[request.param]

    def run(scenario: Scenario) -> None:
        async def bounded() -> None:
            async with asyncio.timeout(20):
                await scenario()

        with asyncio.Runner(loop_factory=factory) as runner:
            runner.run(bounded())

    return run


def test_a_relay_joins_an_inside_port_to_the_host_and_closes_clean(run: Runner) -> None:
    run(_relay_round_trip)


async def _relay_round_trip() -> None:
    with _echo_server() as port:
        await _relay_once(port)  # the loop's lazily made fds (uvloop's resolver pool, ...)
        before = _fds()
        for _ in range(3):
            await _relay_once(port)
        assert _fds() == before


async def _relay_once(port: int) -> None:
    ns = network.create([80])
    relay = Relay({ns.relays[80]: port})
    await relay.start()
    try:
        answer = await asyncio.to_thread(_inside, ns.fd, (network.HOST_ADDRESS, 80), b"hi")
        assert answer == b"echo:hi"
        big = os.urandom(1 << 20)  # more than any buffer on the way: flow control
        answer = await asyncio.to_thread(_inside, ns.fd, (network.HOST_ADDRESS, 80), big)
        assert answer == b"echo:" + big
        # Another port of host.ember.internal was not allowed: nothing listens there.
        with pytest.raises(ConnectionRefusedError):
            await asyncio.to_thread(_inside, ns.fd, (network.HOST_ADDRESS, port), b"x")
        assert relay.statistics().accepted == 2
    finally:
        await relay.close()
        ns.close()
    assert relay.statistics().open_connections == 0


def test_a_relay_bounds_its_connections(run: Runner) -> None:
    run(_relay_bounds)


async def _relay_bounds() -> None:
    with _echo_server() as port:
        ns = network.create([80])
        relay = Relay({ns.relays[80]: port}, limit=1)
        await relay.start()
        try:

            def hold_two() -> bytes:
                with network.entered(ns.fd):
                    first = socket.create_connection((network.HOST_ADDRESS, 80), timeout=5)
                    second = socket.create_connection((network.HOST_ADDRESS, 80), timeout=5)
                with first, second:
                    return second.recv(1)  # closed by the relay on arrival: b""

            # The first connection is held open (its echo waits for end-of-file).
            with contextlib.suppress(ConnectionResetError):
                assert await asyncio.to_thread(hold_two) == b""
            assert relay.statistics().refused >= 1
        finally:
            await relay.close()
            ns.close()


def test_the_runtime_api_serves_a_socket_made_inside(run: Runner) -> None:
    run(_runtime_api_inside)


async def _runtime_api_inside() -> None:
    ns = network.create()
    endpoint = RuntimeEndpoint()
    try:
        assert await endpoint.start_on(ns.runtime_api) == "127.0.0.1:9001"
        request = b"GET /2018-06-01/ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        answer = await asyncio.to_thread(_inside, ns.fd, network.RUNTIME_API, request)
        assert answer.startswith(b"HTTP/1.1 ")
    finally:
        await endpoint.close()
        ns.close()
    assert ns.runtime_api.fileno() == -1


def test_all_host_ports_means_those_listening_now_but_embers() -> None:
    with _echo_server() as port, _echo_server() as embers:
        access = network.HostAccess(ports={9: 4}, all_ports=True, excluded=frozenset({embers}))
        routes = access.routes()
        assert routes[port] == port
        assert embers not in routes
        assert routes[9] == 4  # an explicit route stands
