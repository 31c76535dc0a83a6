"""RuntimeEndpoint over real sockets: HTTP/1.1 connections as runtimes use them."""

from __future__ import annotations

import asyncio
import http.client
from collections.abc import Awaitable, Callable

from runtime_api_client import (
    ACCEPTED,
    INIT_ERROR,
    NEXT,
    RuntimeClient,
    eventually,
    invocation,
    park,
    render_request,
    response_path,
    serving,
)

from ember.runtime_api import (
    RuntimeResponse,
    RuntimeState,
)

Run = Callable[[Callable[[], Awaitable[None]]], None]


# -- connections ---------------------------------------------------------------------------


def test_keep_alive_connection_serves_many_invokes(run: Run) -> None:
    async def scenario() -> None:
        async with serving() as (endpoint, address), RuntimeClient.connect(address) as client:
            for n in range(200):
                async with asyncio.TaskGroup() as tg:
                    invoked = tg.create_task(endpoint.invoke(invocation(n)))
                    delivered = await client.request("GET", NEXT)
                    request_id = delivered.headers["lambda-runtime-aws-request-id"]
                    await client.request("POST", response_path(request_id), delivered.body)
                assert invoked.result() == RuntimeResponse(request_id, b'{"n": %d}' % n, None)
            stats = endpoint.statistics()
            assert (stats.connections_accepted, stats.open_connections) == (1, 1)
            assert (stats.requests_served, stats.invocations) == (400, 200)

    run(scenario)


def http_client_runtime(address: str, count: int) -> list[str]:
    """A runtime loop on http.client's single keep-alive connection, as a thread runs it."""
    connection = http.client.HTTPConnection(address, timeout=5)
    seen = []
    try:
        for _ in range(count):
            connection.request("GET", NEXT)
            delivered = connection.getresponse()
            event = delivered.read()
            request_id = delivered.headers["Lambda-Runtime-Aws-Request-Id"]
            seen.append(request_id)
            connection.request("POST", response_path(request_id), event.upper())
            answered = connection.getresponse()
            assert (answered.status, answered.read()) == (202, ACCEPTED)
    finally:
        connection.close()
    return seen


def test_http_client_runtime_in_a_thread(run: Run) -> None:
    async def scenario() -> None:
        async with serving() as (endpoint, address):
            async with asyncio.TaskGroup() as tg:
                runtime = tg.create_task(asyncio.to_thread(http_client_runtime, address, 20))
                results = [await endpoint.invoke(invocation(n)) for n in range(20)]
            assert runtime.result() == [invocation(n).request_id for n in range(20)]
            assert [r.body for r in results] == [b'{"N": %d}' % n for n in range(20)]
            assert endpoint.statistics().connections_accepted == 1

    run(scenario)


def test_parked_poll_whose_client_disconnects(run: Run) -> None:
    async def scenario() -> None:
        async with serving() as (endpoint, address):
            async with RuntimeClient.connect(address) as gone:
                await park(endpoint, gone)
            await eventually(lambda: endpoint.statistics().polls_dropped == 1)
            assert not endpoint.statistics().parked
            assert endpoint.state is RuntimeState.IDLE
            async with RuntimeClient.connect(address) as client, asyncio.TaskGroup() as tg:
                invoked = tg.create_task(endpoint.invoke(invocation(21)))
                await asyncio.sleep(0.01)  # nobody to hand it to: it waits
                assert endpoint.state is RuntimeState.IDLE
                delivered = await client.request("GET", NEXT)
                await client.request("POST", response_path(invocation(21).request_id), b"ok")
            assert delivered.headers["lambda-runtime-aws-request-id"] == invocation(21).request_id
            assert invoked.result().body == b"ok"

    run(scenario)


def test_a_newer_poll_supersedes_a_parked_one(run: Run) -> None:
    async def scenario() -> None:
        async with (
            serving() as (endpoint, address),
            RuntimeClient.connect(address) as old,
            RuntimeClient.connect(address) as new,
        ):
            await park(endpoint, old)
            new.send("GET", NEXT)
            assert await old.at_eof()
            async with asyncio.TaskGroup() as tg:
                invoked = tg.create_task(endpoint.invoke(invocation(22)))
                delivered = await new.receive()
                await new.request("POST", response_path(invocation(22).request_id), b"ok")
            assert delivered.headers["lambda-runtime-aws-request-id"] == invocation(22).request_id
            assert invoked.result().body == b"ok"

    run(scenario)


def test_connection_close_is_honoured(run: Run) -> None:
    async def scenario() -> None:
        async with serving() as (endpoint, address), asyncio.TaskGroup() as tg:
            invoked = tg.create_task(endpoint.invoke(invocation(23)))
            async with RuntimeClient.connect(address) as client:
                delivered = await client.request("GET", NEXT, headers=[("Connection", "close")])
                assert delivered.headers["connection"] == "close"
                assert await client.at_eof()
            # Like curl in a shell bootstrap: a new connection for each request.
            async with RuntimeClient.connect(address) as client:
                answer = await client.request(
                    "POST",
                    response_path(invocation(23).request_id),
                    b"ok",
                    headers=[("Connection", "close")],
                )
                assert (answer.status, answer.headers["connection"]) == (202, "close")
                assert await client.at_eof()
            assert (await invoked).body == b"ok"
            await eventually(lambda: endpoint.statistics().open_connections == 0)

    run(scenario)


def test_chunked_response_body(run: Run) -> None:
    async def scenario() -> None:
        async with serving() as (endpoint, address), RuntimeClient.connect(address) as client:
            async with asyncio.TaskGroup() as tg:
                invoked = tg.create_task(endpoint.invoke(invocation(24)))
                await client.request("GET", NEXT)
                client.writer.write(
                    render_request(
                        "POST",
                        response_path(invocation(24).request_id),
                        headers=[("Transfer-Encoding", "chunked")],
                    )
                    + b"5\r\nhello\r\n"
                )
                await asyncio.sleep(0.01)  # the rest comes in a later segment
                client.writer.write(b"6\r\n world\r\n0\r\n\r\n")
                answer = await client.receive()
            assert answer.status == 202
            assert invoked.result().body == b"hello world"

    run(scenario)


def test_expect_100_continue(run: Run) -> None:
    async def scenario() -> None:
        async with serving() as (endpoint, address), RuntimeClient.connect(address) as client:
            async with asyncio.TaskGroup() as tg:
                invoked = tg.create_task(endpoint.invoke(invocation(25)))
                await client.request("GET", NEXT)
                request = render_request(
                    "POST",
                    response_path(invocation(25).request_id),
                    b"x" * 2000,
                    headers=[("Expect", "100-continue")],
                )
                head, _, body = request.partition(b"\r\n\r\n")
                client.writer.write(head + b"\r\n\r\n")
                interim = await client.reader.readuntil(b"\r\n\r\n")
                client.writer.write(body)
                answer = await client.receive()
            assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
            assert answer.status == 202
            assert invoked.result().body == b"x" * 2000

    run(scenario)


def test_pipelined_requests_are_answered_in_order(run: Run) -> None:
    async def scenario() -> None:
        async with serving() as (endpoint, address), RuntimeClient.connect(address) as client:
            async with asyncio.TaskGroup() as tg:
                first = tg.create_task(endpoint.invoke(invocation(26)))
                await client.request("GET", NEXT)
                # The response and the next poll in one segment: the poll parks behind it.
                client.writer.write(
                    render_request("POST", response_path(invocation(26).request_id), b"one")
                    + render_request("GET", NEXT)
                )
                answer = await client.receive()
                assert (answer.status, answer.body) == (202, ACCEPTED)
                await eventually(lambda: endpoint.statistics().parked)
                second = tg.create_task(endpoint.invoke(invocation(27)))
                delivered = await client.receive()
                await client.request("POST", response_path(invocation(27).request_id), b"two")
            assert delivered.headers["lambda-runtime-aws-request-id"] == invocation(27).request_id
            assert (first.result().body, second.result().body) == (b"one", b"two")

    run(scenario)


# -- what is not the Runtime API -----------------------------------------------------


def test_unknown_path_and_wrong_method(run: Run) -> None:
    async def scenario() -> None:
        async with serving() as (endpoint, address), RuntimeClient.connect(address) as client:
            missing = await client.request("GET", "/2018-06-01/runtime/invocation/next/more")
            assert (missing.status, missing.body) == (404, b"404 page not found\n")
            empty_id = await client.request("POST", response_path(""), b"x")
            assert empty_id.status == 404
            wrong = await client.request("POST", NEXT, b"")
            assert (wrong.status, wrong.headers["allow"]) == (405, "GET")
            with_query = await client.request("POST", INIT_ERROR + "?x=1", b"{}")
            assert with_query.status == 202
            assert endpoint.state is RuntimeState.INIT_FAILED

    run(scenario)


def test_malformed_request_gets_400_and_close(run: Run) -> None:
    async def scenario() -> None:
        async with serving() as (_, address), RuntimeClient.connect(address) as client:
            client.writer.write(b"NOT HTTP AT ALL\r\n\r\n")
            answer = await client.receive()
            assert (answer.status, answer.headers["connection"]) == (400, "close")
            assert await client.at_eof()

    run(scenario)
