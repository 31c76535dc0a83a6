"""Streamed responses through RuntimeEndpoint over real sockets: the body reaches the
invocation's ResponseStream as the runtime writes it, error trailers end it, the 20 MiB
limit holds, and an invoker that wants the response whole still gets it whole."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable

from ember.runtime_api import RuntimeState
from ember.runtime_api.streaming import MAX_STREAMED_RESPONSE_BYTES, ResponseStream
from tests.component.runtime_api.loops import Scenario
from tests.component.runtime_api.test_endpoint import (
    NEXT,
    RuntimeClient,
    invocation,
    render_request,
    response_path,
    serving,
)

STREAM_HEADERS = [
    ("Lambda-Runtime-Function-Response-Mode", "streaming"),
    ("Transfer-Encoding", "chunked"),
    ("Content-Type", "text/plain"),
    ("Trailer", "Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body"),
]


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def start_stream(client: RuntimeClient, request_id: str) -> None:
    client.writer.write(render_request("POST", response_path(request_id), headers=STREAM_HEADERS))


def test_chunks_reach_the_stream_before_the_body_ends(run: Callable[[Scenario], None]) -> None:
    async def scenario() -> None:
        async with serving() as (endpoint, address), RuntimeClient.connect(address) as client:
            stream = ResponseStream()
            request = invocation(1, stream=stream)
            async with asyncio.TaskGroup() as tg:
                invoked = tg.create_task(endpoint.invoke(request))
                await client.request("GET", NEXT)
                start_stream(client, request.request_id)
                client.writer.write(chunk(b"first "))
                await stream.wait_open()
                assert stream.content_type == "text/plain"
                assert await stream.read() == b"first "  # the body is still open
                assert endpoint.state is RuntimeState.STREAMING
                assert not invoked.done()
                client.writer.write(chunk(b"second") + b"0\r\n\r\n")
                answer = await client.receive()
            assert answer.status == 202
            assert await stream.read() == b"second"
            assert invoked.result().body == b""
            assert invoked.result().error_type is None
            assert endpoint.statistics().state is RuntimeState.RESPONDED

    run(scenario)


def test_error_trailers_end_the_stream_with_the_error(run: Callable[[Scenario], None]) -> None:
    error = {"errorType": "Custom.Broken", "errorMessage": "it broke"}

    async def scenario() -> None:
        async with serving() as (endpoint, address), RuntimeClient.connect(address) as client:
            stream = ResponseStream()
            request = invocation(2, stream=stream)
            async with asyncio.TaskGroup() as tg:
                invoked = tg.create_task(endpoint.invoke(request))
                await client.request("GET", NEXT)
                start_stream(client, request.request_id)
                client.writer.write(
                    chunk(b"partial")
                    + b"0\r\nLambda-Runtime-Function-Error-Type: Custom.Broken\r\n"
                    + b"Lambda-Runtime-Function-Error-Body: "
                    + base64.b64encode(json.dumps(error).encode())
                    + b"\r\n\r\n"
                )
                answer = await client.receive()
            assert answer.status == 202
            assert await stream.read() == b"partial"
            assert invoked.result().error_type == "Custom.Broken"
            assert json.loads(invoked.result().body) == error

    run(scenario)


def test_a_whole_response_is_wanted_the_stream_is_buffered(
    run: Callable[[Scenario], None],
) -> None:
    async def scenario() -> None:
        async with serving() as (endpoint, address), RuntimeClient.connect(address) as client:
            request = invocation(3)  # no stream: plain Invoke
            async with asyncio.TaskGroup() as tg:
                invoked = tg.create_task(endpoint.invoke(request))
                await client.request("GET", NEXT)
                start_stream(client, request.request_id)
                client.writer.write(chunk(b"all ") + chunk(b"at once") + b"0\r\n\r\n")
                answer = await client.receive()
            assert answer.status == 202
            assert invoked.result().body == b"all at once"
            assert invoked.result().error_type is None

    run(scenario)


def test_a_stream_past_the_limit_fails_the_invocation(run: Callable[[Scenario], None]) -> None:
    piece = b"z" * (1024 * 1024)

    async def scenario() -> None:
        async with serving() as (endpoint, address), RuntimeClient.connect(address) as client:
            stream = ResponseStream()
            request = invocation(4, stream=stream)
            received = 0

            async def drain() -> None:
                nonlocal received
                while (data := await stream.read()) is not None:
                    received += len(data)

            async def write() -> None:
                for _ in range(MAX_STREAMED_RESPONSE_BYTES // len(piece) + 1):
                    client.writer.write(chunk(piece))
                    await client.writer.drain()  # paused while the reader lags
                client.writer.write(b"0\r\n\r\n")

            async with asyncio.TaskGroup() as tg:
                invoked = tg.create_task(endpoint.invoke(request))
                await client.request("GET", NEXT)
                start_stream(client, request.request_id)
                reader = tg.create_task(drain())
                await write()
                answer = await client.receive()
                await invoked
                stream.close()  # as the invoker does once the invocation ends
                await reader
            assert answer.status == 413
            assert received == MAX_STREAMED_RESPONSE_BYTES
            assert invoked.result().error_type == "Function.ResponseSizeTooLarge"
            assert b"(20971520 bytes)" in invoked.result().body

    run(scenario)


def test_a_stream_for_another_request_id_is_refused_unread(
    run: Callable[[Scenario], None],
) -> None:
    async def scenario() -> None:
        async with serving() as (endpoint, address), RuntimeClient.connect(address) as client:
            stream = ResponseStream()
            request = invocation(5, stream=stream)
            async with asyncio.TaskGroup() as tg:
                tg.create_task(endpoint.invoke(request))
                await client.request("GET", NEXT)
                start_stream(client, "not-the-id")
                client.writer.write(chunk(b"x"))
                answer = await client.receive()
                assert answer.status == 400
                assert await client.at_eof()
                assert not stream.opened
                assert endpoint.state is RuntimeState.INVOKING
                async with RuntimeClient.connect(address) as again:
                    done = await again.request("POST", response_path(request.request_id), b"ok")
                    assert done.status == 202

    run(scenario)
