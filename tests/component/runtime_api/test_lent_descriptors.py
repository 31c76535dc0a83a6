"""Runtime API connections past an environment's own borrow the server's descriptors, one
each, from the allowance all environments share; when it is spent they are closed at once."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from ember.runtime_api import RuntimeEndpoint
from ember.runtime_api.connection import OWN_CONNECTIONS
from ember.sandbox.descriptors import Allowance
from tests.component.runtime_api.loops import Scenario
from tests.component.runtime_api.test_endpoint import RuntimeClient, eventually

LENT = 2


def test_connections_past_their_own_borrow_until_the_allowance_is_spent(
    run: Callable[[Scenario], None],
) -> None:
    async def scenario() -> None:
        allowance = Allowance(LENT)
        endpoint = RuntimeEndpoint(lender=allowance)
        address = await endpoint.start()
        try:
            async with contextlib.AsyncExitStack() as stack:
                clients = []
                for _ in range(OWN_CONNECTIONS + LENT):
                    clients.append(await stack.enter_async_context(RuntimeClient.connect(address)))
                    opened = len(clients)
                    await eventually(lambda: endpoint.statistics().open_connections == opened)  # noqa: B023
                assert allowance.used == LENT
                async with RuntimeClient.connect(address) as extra:
                    assert await extra.at_eof()  # the server has none left to lend
                assert allowance.refused == 1
                assert (await clients[-1].request("GET", "/unknown")).status == 404
                await clients[-1].close()  # a borrowed one goes: its descriptor comes back
                await eventually(lambda: allowance.used == LENT - 1)
                async with RuntimeClient.connect(address) as again:
                    assert (await again.request("GET", "/unknown")).status == 404
        finally:
            await endpoint.close()
        await eventually(lambda: allowance.used == 0)

    run(scenario)
