"""The pool of network namespaces made ahead of cold starts: each one handed out once, with
its Runtime API socket, relays and (with outbound) eth0 wired; refilled by its task; and
nothing left after close(): no fds, no namespaces, no veth pairs on the bridge."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ember.sandbox import netpool, network
from ember.sandbox.netpool import NamespacePool
from ember.sandbox.outbound import INSIDE, Outbound, OutboundError
from tests.component.sandbox.namespaces import inside

_PROBLEM = network.available() if os.geteuid() == 0 else "not root"
pytestmark = pytest.mark.skipif(bool(_PROBLEM), reason=f"no network namespaces: {_PROBLEM}")


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _veths(bridge: str) -> set[str]:
    return {p.name for p in Path("/sys/class/net").glob(f"{bridge}-*")}


def _identity(fd: int) -> int:
    return os.fstat(fd).st_ino  # a namespace's inode names it


def _connects(fd: int, address: tuple[str, int]) -> bool:
    def call() -> bool:
        with socket.create_connection(address, timeout=2):
            return True

    return inside(fd, call)


@pytest.fixture(scope="module")
def wired() -> Iterator[Outbound]:
    try:
        slot = Outbound.open()
    except OutboundError as exc:
        pytest.skip(f"no outbound NAT here: {exc}")
    try:
        yield slot
    finally:
        slot.close()


async def _until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(20):
        while not condition():  # noqa: ASYNC110 - the pool's task works in threads
            await asyncio.sleep(0.01)


def test_each_namespace_is_handed_out_once_wired_and_the_pool_refills(wired: Outbound) -> None:
    fds_before = _fds()
    veths_before = _veths(wired.bridge)

    async def scenario() -> None:
        pool = NamespacePool(wired, ready=3)
        runner = asyncio.create_task(pool.run())
        taken: list[network.Namespace] = []
        try:
            await _until(lambda: pool.ready == 3)
            assert len(_veths(wired.bridge) - veths_before) == 3  # wired ahead of time
            for _ in range(5):  # more than are ready: the rest are made on demand
                taken.append(await pool.take([8123]))
            ids = {_identity(ns.fd) for ns in taken}
            assert len(ids) == 5  # never one namespace for two environments
            assert pool.missed >= 2
            assert os.stat("/proc/thread-self/ns/net").st_ino not in ids  # nor Ember's
            for ns in taken:
                assert ns.link is not None
                assert ns.runtime_api.getsockname() == network.RUNTIME_API
                assert set(ns.relays) == {8123}
                assert ns.relays[8123].getsockname() == (network.HOST_ADDRESS, 8123)
                assert _connects(ns.fd, network.RUNTIME_API)  # listening inside
                names = inside(ns.fd, lambda: [n for _, n in socket.if_nameindex()])
                assert sorted(names) == sorted(["lo", INSIDE])
            # The task tops the pool up again, to a target grown by the misses.
            await _until(lambda: pool.ready >= 3)
            assert pool.target > 3
            assert pool.target <= netpool.MAX_READY
        finally:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
            for ns in taken:
                ns.close()
            pool.close()
            assert pool.ready == 0

    asyncio.run(scenario())
    assert _fds() == fds_before  # every fd and socket of every namespace is closed
    # The kernel frees the namespaces (and their veth pairs with them) asynchronously.
    for _ in range(500):
        if _veths(wired.bridge) <= veths_before:
            break
        threading.Event().wait(0.02)
    assert _veths(wired.bridge) <= veths_before


def test_a_closed_pool_hands_out_nothing() -> None:
    async def scenario() -> None:
        pool = NamespacePool(None, ready=1)
        pool.close()
        with pytest.raises(network.NetworkError, match="closed"):
            await pool.take()

    asyncio.run(scenario())


def test_without_its_task_the_pool_makes_each_namespace_on_demand() -> None:
    fds_before = _fds()

    async def scenario() -> None:
        pool = NamespacePool(None, ready=4)
        ns = await pool.take()
        try:
            assert ns.link is None  # no outbound: loopback only
            assert pool.ready == 0
            assert pool.missed == 1
            assert _connects(ns.fd, network.RUNTIME_API)
        finally:
            ns.close()
            pool.close()

    asyncio.run(scenario())
    assert _fds() == fds_before
