"""Relayed connections of every environment borrow from one allowance of the server's
descriptors (3 each); past it they are closed on arrival, whatever each relay's own limit."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable

import pytest

from ember.sandbox import network
from ember.sandbox.descriptors import RELAYED_FDS, Allowance
from ember.sandbox.network_relay import Relay
from tests.component.sandbox.test_network import _PROBLEM, Runner, _echo_server, run  # noqa: F401

pytestmark = pytest.mark.skipif(bool(_PROBLEM), reason=f"no network namespaces: {_PROBLEM}")


def test_two_environments_share_one_allowance(run: Runner) -> None:  # noqa: F811
    run(_shared)


def _hold(fd: int) -> socket.socket:
    with network.entered(fd):
        return socket.create_connection((network.HOST_ADDRESS, 80), timeout=5)


async def _shared() -> None:
    allowance = Allowance(RELAYED_FDS)  # one relayed connection, for both environments
    with _echo_server() as port:
        first, second = network.create([80]), network.create([80])
        relays = [Relay({ns.relays[80]: port}, allowance=allowance) for ns in (first, second)]
        for relay in relays:
            await relay.start()
        try:
            held = await asyncio.to_thread(_hold, first.fd)  # its echo waits for end-of-file
            with held:
                await _until(lambda: allowance.used == RELAYED_FDS)
                refused = await asyncio.to_thread(_hold, second.fd)
                with refused, contextlib.suppress(ConnectionResetError):  # aborted: a reset
                    assert await asyncio.to_thread(refused.recv, 1) == b""  # closed on arrival
                assert (relays[1].statistics().refused, allowance.refused) == (1, 1)
            await _until(lambda: allowance.used == 0)  # given back when it closes
        finally:
            for relay in relays:
                await relay.close()
            first.close()
            second.close()


async def _until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(5):
        while not condition():  # noqa: ASYNC110  (statistics, not events: poll with a deadline)
            await asyncio.sleep(0.005)
