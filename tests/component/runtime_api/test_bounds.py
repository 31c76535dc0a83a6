"""What one connection may make a RuntimeEndpoint hold: URL, header lines, bodies, and
connections open at once. Over real sockets, on asyncio and uvloop.

Each refusal sends no more than the server reads before it stops, so that its close is a
FIN (the answer is read) rather than a reset.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable

from ember.runtime_api import RuntimeResponse
from ember.runtime_api.connection import (
    DRAIN_FACTOR,
    MAX_CONNECTIONS,
    MAX_HEAD_BYTES,
    MAX_HEADERS,
    MAX_SMALL_BODY,
    MAX_URL,
    SMALL_BODY_POOL,
)
from tests.component.runtime_api.loops import Scenario
from tests.component.runtime_api.test_endpoint import (
    NEXT,
    RuntimeClient,
    eventually,
    invocation,
    park,
    response_path,
    serving,
)

REGISTER = "/2020-01-01/extension/register"
INVALID_REQUEST_ID = b'{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}\n'


async def refused(client: RuntimeClient, status: int) -> None:
    answer = await client.receive()
    assert (answer.status, answer.headers["connection"]) == (status, "close")
    assert await client.at_eof()


def test_url_over_the_limit_gets_414_and_close(run: Callable[[Scenario], None]) -> None:
    async def scenario() -> None:
        async with serving() as (endpoint, address), RuntimeClient.connect(address) as client:
            fits = await client.request("GET", "/" + "a" * (MAX_URL - 1))
            assert fits.status == 404
            client.writer.write(b"GET /" + b"a" * MAX_URL)  # never finished
            await refused(client, 414)
            assert endpoint.statistics().rejected_requests == 2

    run(scenario)


def test_too_many_header_lines_get_431_and_close(run: Callable[[Scenario], None]) -> None:
    async def scenario() -> None:
        async with serving() as (_, address):
            async with RuntimeClient.connect(address) as client:
                # Host and Content-Length are two of them.
                many = [(f"X-{n}", "v") for n in range(MAX_HEADERS - 2)]
                assert (await client.request("GET", "/unknown", headers=many)).status == 404
            async with RuntimeClient.connect(address) as client:
                # The parser reports a line once the next begins: one more than the limit.
                lines = b"".join(b"X-%d: v\r\n" % n for n in range(MAX_HEADERS + 2))
                client.writer.write(b"GET /unknown HTTP/1.1\r\n" + lines)
                await refused(client, 431)

    run(scenario)


def test_header_bytes_over_the_limit_get_431(run: Callable[[Scenario], None]) -> None:
    async def scenario() -> None:
        async with serving() as (endpoint, address):
            # awslambdaric sends X-Ray error causes up to 1 MiB in one header: it fits.
            async with RuntimeClient.connect(address) as client:
                await park(endpoint, client)
                polled = asyncio.ensure_future(client.receive())
                result = asyncio.ensure_future(endpoint.invoke(invocation(1)))
                await polled
                cause = ("Lambda-Runtime-Function-XRay-Error-Cause", "c" * ((1 << 20) - 1))
                path = f"/2018-06-01/runtime/invocation/{invocation(1).request_id}/error"
                answer = await client.request("POST", path, b"{}", headers=[cause])
                assert answer.status == 202
                assert (await result).error_type == "Unhandled"
            # One header line that never ends: refused once the head passes the limit.
            async with RuntimeClient.connect(address) as client:
                client.writer.write(b"GET /unknown HTTP/1.1\r\nX-Big: ")
                sent = 0
                while sent <= MAX_HEAD_BYTES:
                    client.writer.write(b"v" * 65536)
                    sent += 65536
                    await client.writer.drain()
                await refused(client, 431)

    run(scenario)


def test_small_route_body_over_its_limit_gets_413_at_once(
    run: Callable[[Scenario], None],
) -> None:
    async def scenario() -> None:
        async with serving() as (endpoint, address), RuntimeClient.connect(address) as client:
            head = (
                f"POST {REGISTER} HTTP/1.1\r\nHost: x\r\nLambda-Extension-Name: e\r\n"
                f"Content-Length: {100 * MAX_SMALL_BODY}\r\n\r\n"
            ).encode()
            client.writer.write(head + b"{" * (MAX_SMALL_BODY + 1))
            answer = await client.receive()
            assert (answer.status, answer.headers["connection"]) == (413, "close")
            assert json.loads(answer.body)["errorType"] == "RequestEntityTooLarge"
            assert await client.at_eof()
            assert endpoint.extensions() == []

    run(scenario)


def test_endless_response_is_cut_off_and_fails_the_invocation(
    run: Callable[[Scenario], None],
) -> None:
    limit = 1024

    async def scenario() -> None:
        async with (
            serving(max_response_bytes=limit) as (endpoint, address),
            RuntimeClient.connect(address) as client,
        ):
            async with asyncio.TaskGroup() as tg:
                polled = tg.create_task(client.request("GET", NEXT))
                result = tg.create_task(endpoint.invoke(invocation(2)))
                await polled
                head = (
                    f"POST {response_path(invocation(2).request_id)} HTTP/1.1\r\nHost: x\r\n"
                    "Content-Length: 1000000000\r\n\r\n"
                ).encode()
                # Past the drain allowance, far short of what it announced.
                client.writer.write(head + b"x" * (limit * DRAIN_FACTOR + 1))
                answer = await client.receive()
            assert (answer.status, answer.headers["connection"]) == (413, "close")
            assert await client.at_eof()
            assert result.result() == RuntimeResponse(
                invocation(2).request_id,
                b'{"errorMessage": "Response payload size exceeded maximum allowed payload size'
                b' (1024 bytes).", "errorType": "Function.ResponseSizeTooLarge"}',
                "Function.ResponseSizeTooLarge",
            )

    run(scenario)


def test_connections_over_the_limit_are_closed_at_once(run: Callable[[Scenario], None]) -> None:
    async def scenario() -> None:
        async with serving() as (endpoint, address), contextlib.AsyncExitStack() as stack:
            clients = []
            for _ in range(MAX_CONNECTIONS):
                clients.append(await stack.enter_async_context(RuntimeClient.connect(address)))
                opened = len(clients)
                await eventually(lambda: endpoint.statistics().open_connections == opened)  # noqa: B023
            async with RuntimeClient.connect(address) as extra:
                assert await extra.at_eof()
            assert endpoint.statistics().open_connections == MAX_CONNECTIONS
            # The ones admitted still work, and a freed place can be taken again.
            assert (await clients[-1].request("GET", "/unknown")).status == 404
            await clients[0].close()
            await eventually(lambda: endpoint.statistics().open_connections == MAX_CONNECTIONS - 1)
            async with RuntimeClient.connect(address) as again:
                assert (await again.request("GET", "/unknown")).status == 404

    run(scenario)


def _head(path: str, length: int) -> bytes:
    return f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n".encode()


def test_large_body_for_a_request_id_not_handed_out_is_refused_unread(
    run: Callable[[Scenario], None],
) -> None:
    async def scenario() -> None:
        async with serving() as (endpoint, address):
            for path in (response_path("not-a-request"), response_path(invocation(1).request_id)):
                async with RuntimeClient.connect(address) as client:
                    client.writer.write(_head(path, 6 * 1024 * 1024))  # not a byte of it
                    answer = await client.receive()
                    assert (answer.status, answer.body) == (400, INVALID_REQUEST_ID)
                    assert answer.headers["connection"] == "close"
                    assert await client.at_eof()
            # Before Init is over /init/error may be large; a poll makes that too late.
            async with RuntimeClient.connect(address) as client:
                await park(endpoint, client)
                async with RuntimeClient.connect(address) as late:
                    late.writer.write(_head("/2018-06-01/runtime/init/error", 2 * MAX_SMALL_BODY))
                    await refused(late, 403)
            assert not endpoint.statistics().large_body

    run(scenario)


def test_one_large_body_at_a_time_and_the_current_result_gets_through(
    run: Callable[[Scenario], None],
) -> None:
    size = 3 * MAX_SMALL_BODY

    async def scenario() -> None:
        async with (
            serving() as (endpoint, address),
            RuntimeClient.connect(address) as runtime,
            RuntimeClient.connect(address) as second,
        ):
            async with asyncio.TaskGroup() as tg:
                polled = tg.create_task(runtime.request("GET", NEXT))
                result = tg.create_task(endpoint.invoke(invocation(3)))
                await polled
                path = response_path(invocation(3).request_id)
                runtime.writer.write(_head(path, size) + b"x" * (size - 1))
                await eventually(lambda: endpoint.statistics().large_body)
                # The same result again, on another connection, while the first is unfinished.
                second.writer.write(_head(path, size))
                answer = await second.receive()
                assert (answer.status, answer.headers["connection"]) == (413, "close")
                assert b"another large body" in answer.body
                runtime.writer.write(b"x")
                assert (await runtime.receive()).status == 202
            assert result.result().body == b"x" * size
            statistics = endpoint.statistics()
            assert (statistics.large_body, statistics.pooled_body_bytes) == (False, 0)

    run(scenario)


def test_small_bodies_share_one_pool_per_endpoint(run: Callable[[Scenario], None]) -> None:
    each = MAX_SMALL_BODY - 1
    fill = SMALL_BODY_POOL // each

    async def scenario() -> None:
        async with serving() as (endpoint, address), contextlib.AsyncExitStack() as stack:
            holders = []
            for n in range(fill):
                client = await stack.enter_async_context(RuntimeClient.connect(address))
                client.writer.write(_head(REGISTER, each + 1) + b"{" * each)
                holders.append(client)
                await eventually(lambda: endpoint.statistics().pooled_body_bytes == (n + 1) * each)  # noqa: B023
            async with RuntimeClient.connect(address) as extra:
                extra.writer.write(_head(REGISTER, each + 1) + b"{" * 3)  # past the pool
                answer = await extra.receive()
                assert (answer.status, answer.headers["connection"]) == (413, "close")
                assert b"pool" in answer.body
            # Refused bodies and dropped connections give their share back.
            for client in holders:
                await client.close()
            await eventually(lambda: endpoint.statistics().pooled_body_bytes == 0)
            async with RuntimeClient.connect(address) as client:
                assert (await client.request("GET", "/unknown", b"x" * each)).status == 404

    run(scenario)
