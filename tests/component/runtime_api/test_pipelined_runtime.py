"""Ember's Python runtime client against the real Runtime API endpoint: it posts a response
and its next poll in one write (pipelining), and the endpoint answers both, in order."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from ember.runtimes.python._ember_client import RuntimeClient
from tests.component.runtime_api.loops import Scenario
from tests.component.runtime_api.test_endpoint import (
    ACCEPTED,
    NEXT,
    eventually,
    invocation,
    response_path,
    serving,
)

_NEXT = NEXT.encode()


def _post_then_next(client: RuntimeClient, n: int, body: bytes) -> tuple[int, bytes]:
    path = response_path(invocation(n).request_id).encode()
    status, _, answer = client.request_then(b"POST", path, body, b"", _NEXT)
    return status, answer


def test_response_and_next_poll_in_one_write(run: Callable[[Scenario], None]) -> None:
    async def scenario() -> None:
        async with serving() as (endpoint, address):
            client = RuntimeClient(address)
            try:
                first = asyncio.create_task(endpoint.invoke(invocation(1)))
                status, headers, body = await asyncio.to_thread(client.request, b"GET", _NEXT)
                assert (status, body) == (200, invocation(1).payload)
                # No invocation waits: the 202 comes alone (after the hold), the poll parks.
                assert await asyncio.to_thread(_post_then_next, client, 1, b"one") == (
                    202,
                    ACCEPTED,
                )
                assert (await first).body == b"one"
                await eventually(lambda: endpoint.statistics().parked)
                second = asyncio.create_task(endpoint.invoke(invocation(2)))
                status, headers, body = await asyncio.to_thread(client.request, b"GET", _NEXT)
                request_id = headers[b"lambda-runtime-aws-request-id"]
                assert (status, request_id) == (200, invocation(2).request_id.encode())
                assert await asyncio.to_thread(_post_then_next, client, 2, b"two") == (
                    202,
                    ACCEPTED,
                )
                assert (await second).body == b"two"
                await eventually(lambda: endpoint.statistics().parked)
                assert endpoint.statistics().rejected_requests == 0
            finally:
                client.close()

    run(scenario)
