"""RuntimeEndpoint over real sockets, driven the way a runtime drives it.

Every scenario runs on the default asyncio loop and on uvloop (what `ember serve` uses).
The runtime side is a raw HTTP/1.1 client on asyncio streams, or http.client in a thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, replace

import pytest

from ember.runtime_api import (
    MAX_RESPONSE_BYTES,
    EndpointBusyError,
    EndpointClosedError,
    InitError,
    InitFailedError,
    Invocation,
    RuntimeEndpoint,
    RuntimeResponse,
    RuntimeState,
)
from tests.component.runtime_api.loops import Scenario

NEXT = "/2018-06-01/runtime/invocation/next"
INIT_ERROR = "/2018-06-01/runtime/init/error"
ACCEPTED = b'{"status":"OK"}\n'
INVALID_REQUEST_ID = b'{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}\n'
ARN = "arn:aws:lambda:us-east-1:000000000000:function:hello"
TRACE_ROOT = "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419"


def response_path(request_id: str) -> str:
    return f"/2018-06-01/runtime/invocation/{request_id}/response"


def error_path(request_id: str) -> str:
    return f"/2018-06-01/runtime/invocation/{request_id}/error"


def forbidden(state: str, event: str) -> bytes:
    message = (
        f"State transition from {state} to {event} failed for runtime. "
        "Error: State transition is not allowed"
    )
    return (
        json.dumps(
            {"errorMessage": message, "errorType": "InvalidStateTransition"}, separators=(",", ":")
        ).encode()
        + b"\n"
    )


def invocation(n: int = 1, **changes: object) -> Invocation:
    base = Invocation(
        request_id=f"8476a536-e9f4-11e8-9739-{n:012d}",
        payload=b'{"n": %d}' % n,
        deadline_ms=1_700_000_003_000 + n,
        invoked_function_arn=ARN,
        trace_id=TRACE_ROOT + f";Sampled={n % 2}",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


# -- the harness ---------------------------------------------------------------------


@contextlib.asynccontextmanager
async def serving(
    max_response_bytes: int = MAX_RESPONSE_BYTES,
) -> AsyncIterator[tuple[RuntimeEndpoint, str]]:
    endpoint = RuntimeEndpoint(max_response_bytes=max_response_bytes)
    address = await endpoint.start()
    try:
        yield endpoint, address
    finally:
        await endpoint.close()


async def eventually(condition: Callable[[], bool]) -> None:
    """Poll `condition` until it holds; fail after 2 s."""
    async with asyncio.timeout(2):
        # Polling with a deadline on purpose: the conditions are statistics, not events.
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.001)


@dataclass
class Response:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes


class RuntimeClient:
    """One keep-alive connection of a runtime: raw HTTP/1.1 over asyncio streams."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    @contextlib.asynccontextmanager
    async def connect(cls, address: str) -> AsyncIterator[RuntimeClient]:
        host, port = address.rsplit(":", 1)
        reader, writer = await asyncio.open_connection(host, int(port))
        client = cls(reader, writer)
        try:
            yield client
        finally:
            await client.close()

    async def close(self) -> None:
        if not self.writer.is_closing():
            self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()

    def send(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        headers: Iterable[tuple[str, str]] = (),
    ) -> None:
        self.writer.write(render_request(method, path, body, headers))

    async def receive(self) -> Response:
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")[:-2]
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        return Response(int(status_line.split()[1]), headers, body)

    async def request(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        headers: Iterable[tuple[str, str]] = (),
    ) -> Response:
        self.send(method, path, body, headers)
        return await self.receive()

    async def at_eof(self) -> bool:
        """Whether the server closed this connection (without sending anything more)."""
        try:
            return await self.reader.read(1) == b""
        except ConnectionError:
            return True


def render_request(
    method: str, path: str, body: bytes = b"", headers: Iterable[tuple[str, str]] = ()
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{n}: {v}" for n, v in headers)]
    if not any(n.lower() == "transfer-encoding" for n, _ in headers):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def park(endpoint: RuntimeEndpoint, client: RuntimeClient) -> None:
    """Send GET /next and wait until the endpoint holds it."""
    parked = endpoint.statistics().polls_dropped
    client.send("GET", NEXT)
    await eventually(lambda: endpoint.statistics().parked)
    assert endpoint.statistics().polls_dropped == parked


# -- the happy path --------------------------------------------------------------------


def test_ready_invoke_response(run: Callable[[Scenario], None]) -> None:
    async def scenario() -> None:
        async with serving() as (endpoint, address), RuntimeClient.connect(address) as client:
            assert endpoint.statistics().state is RuntimeState.STARTING
            async with asyncio.TaskGroup() as tg:
                polled = tg.create_task(client.request("GET", NEXT))
                assert await endpoint.wait_ready() is None
                assert endpoint.statistics().state is RuntimeState.IDLE
                invoked = tg.create_task(endpoint.invoke(invocation(1)))
                delivered = await polled
                assert endpoint.statistics().state is RuntimeState.INVOKING
                answer = await client.request(
                    "POST", response_path(invocation(1).request_id), b'{"answer": 42}'
                )
            assert delivered.status == 200
            assert delivered.body == b'{"n": 1}'
            assert delivered.headers == {
                "content-type": "application/json",
                "lambda-runtime-aws-request-id": invocation(1).request_id,
                "lambda-runtime-deadline-ms": "1700000003001",
                "lambda-runtime-invoked-function-arn": ARN,
                "lambda-runtime-trace-id": invocation(1).trace_id,
                "content-length": "8",
            }
            assert (answer.status, answer.body) == (202, ACCEPTED)
            assert answer.headers["content-type"] == "application/json"
            assert invoked.result() == RuntimeResponse(
                invocation(1).request_id, b'{"answer": 42}', None
            )
            assert endpoint.state is RuntimeState.RESPONDED
            stats = endpoint.statistics()
            assert (stats.requests_served, stats.invocations, stats.rejected_requests) == (2, 1, 0)
            await park(endpoint, client)
            assert endpoint.statistics().state is RuntimeState.IDLE

    run(scenario)


def test_optional_context_headers_are_sent_only_when_set(run: Callable[[Scenario], None]) -> None:
    client_context = '{"client": {"installation_id": "abc"},\n "custom": {"k": "v"}}'
    cognito = '{"cognitoIdentityId": "id-1", "cognitoIdentityPoolId": "pool-1"}'

    async def scenario() -> None:
        async with serving() as (endpoint, address), RuntimeClient.connect(address) as client:
            async with asyncio.TaskGroup() as tg:
                polled = tg.create_task(client.request("GET", NEXT))
                invoked = tg.create_task(
                    endpoint.invoke(
                        invocation(2, client_context=client_context, cognito_identity=cognito)
                    )
                )
                delivered = await polled
                await client.request("POST", response_path(invocation(2).request_id), b"null")
            assert invoked.result().body == b"null"
            # A raw line break in JSON text is whitespace: as a space it cannot end the header.
            assert delivered.headers["lambda-runtime-client-context"] == client_context.replace(
                "\n", " "
            )
            assert delivered.headers["lambda-runtime-cognito-identity"] == cognito

    run(scenario)


def test_invocation_header_with_a_line_break_is_refused(run: Callable[[Scenario], None]) -> None:
    async def scenario() -> None:
        async with serving() as (endpoint, _):
            with pytest.raises(ValueError, match="line break"):
                await endpoint.invoke(invocation(1, invoked_function_arn="arn\r\nX-Evil: 1"))
            assert endpoint.state is RuntimeState.STARTING

    run(scenario)


def test_invoke_before_init_is_delivered_to_the_first_poll(run: Callable[[Scenario], None]) -> None:
    async def scenario() -> None:
        async with serving() as (endpoint, address), RuntimeClient.connect(address) as client:
            async with asyncio.TaskGroup() as tg:
                invoked = tg.create_task(endpoint.invoke(invocation(3)))
                await asyncio.sleep(0.01)
                assert endpoint.state is RuntimeState.STARTING
                delivered = await client.request("GET", NEXT)
                assert await endpoint.wait_ready() is None
                await client.request("POST", response_path(invocation(3).request_id), b"{}")
            assert delivered.headers["lambda-runtime-aws-request-id"] == invocation(3).request_id
            assert invoked.result().request_id == invocation(3).request_id

    run(scenario)


@pytest.mark.parametrize(
    ("headers", "error_type"),
    [
        (
            (("Lambda-Runtime-Function-Error-Type", "Runtime.ImportModuleError"),),
            "Runtime.ImportModuleError",
        ),
        ((), "Unhandled"),
    ],
    ids=["with-header", "without-header"],
)
def test_invocation_error(
    run: Callable[[Scenario], None], headers: tuple[tuple[str, str], ...], error_type: str
) -> None:
    body = b'{"errorMessage": "boom", "errorType": "ValueError", "stackTrace": []}'

    async def scenario() -> None:
        async with serving() as (endpoint, address), RuntimeClient.connect(address) as client:
            async with asyncio.TaskGroup() as tg:
                polled = tg.create_task(client.request("GET", NEXT))
                invoked = tg.create_task(endpoint.invoke(invocation(4)))
                await polled
                answer = await client.request(
                    "POST", error_path(invocation(4).request_id), body, headers
                )
            assert (answer.status, answer.body) == (202, ACCEPTED)
            assert invoked.result() == RuntimeResponse(invocation(4).request_id, body, error_type)
            assert endpoint.state is RuntimeState.RESPONDED

    run(scenario)


@pytest.mark.parametrize(
    ("headers", "body", "error_type"),
    [
        (
            (("Lambda-Runtime-Function-Error-Type", "Runtime.HandlerNotFound"),),
            b'{"errorMessage": "no handler", "errorType": "Runtime.ImportModuleError"}',
            "Runtime.HandlerNotFound",
        ),
        (
            (),
            b'{"errorMessage": "bad import", "errorType": "Runtime.ImportModuleError"}',
            "Runtime.ImportModuleError",
        ),
        ((), b"not json at all", "Runtime.Unknown"),
    ],
    ids=["header", "body-error-type", "neither"],
)
def test_init_error(
    run: Callable[[Scenario], None],
    headers: tuple[tuple[str, str], ...],
    body: bytes,
    error_type: str,
) -> None:
    async def scenario() -> None:
        async with serving() as (endpoint, address), RuntimeClient.connect(address) as client:
            answer = await client.request("POST", INIT_ERROR, body, headers)
            assert (answer.status, answer.body) == (202, ACCEPTED)
            assert await endpoint.wait_ready() == InitError(error_type, body)
            assert endpoint.state is RuntimeState.INIT_FAILED
            # The runtime may not go on: its poll is refused, and so is any work.
            refused = await client.request("GET", NEXT)
            assert (refused.status, refused.body) == (403, forbidden("InitError", "Ready"))
            with pytest.raises(InitFailedError) as caught:
                await endpoint.invoke(invocation(5))
            assert caught.value.init_error == InitError(error_type, body)
            with pytest.raises(InitFailedError):
                await endpoint.wait_idle()

    run(scenario)


def test_init_error_fails_an_invoke_waiting_for_init(run: Callable[[Scenario], None]) -> None:
    async def scenario() -> None:
        async with serving() as (endpoint, address), RuntimeClient.connect(address) as client:

            async def invoke() -> None:
                with pytest.raises(InitFailedError):
                    await endpoint.invoke(invocation(6))

            async with asyncio.TaskGroup() as tg:
                invoked = tg.create_task(invoke())
                await asyncio.sleep(0.01)
                await client.request("POST", INIT_ERROR, b"{}")
            assert invoked.done()

    run(scenario)


# -- what the runtime may not do --------------------------------------------------------


def test_init_error_after_ready_is_an_illegal_transition(run: Callable[[Scenario], None]) -> None:
    async def scenario() -> None:
        async with (
            serving() as (endpoint, address),
            RuntimeClient.connect(address) as runtime,
            RuntimeClient.connect(address) as other,
        ):
            await park(endpoint, runtime)
            refused = await other.request("POST", INIT_ERROR, b"{}")
            assert (refused.status, refused.body) == (403, forbidden("Ready", "InitError"))
            assert refused.headers["content-type"] == "application/json"
            assert endpoint.state is RuntimeState.IDLE
            assert await endpoint.wait_ready() is None
            assert endpoint.statistics().rejected_requests == 1

    run(scenario)


def test_duplicate_response_is_an_illegal_transition(run: Callable[[Scenario], None]) -> None:
    async def scenario() -> None:
        async with serving() as (endpoint, address), RuntimeClient.connect(address) as client:
            request_id = invocation(7).request_id
            async with asyncio.TaskGroup() as tg:
                polled = tg.create_task(client.request("GET", NEXT))
                invoked = tg.create_task(endpoint.invoke(invocation(7)))
                await polled
                await client.request("POST", response_path(request_id), b"first")
            again = await client.request("POST", error_path(request_id), b"second")
            assert (again.status, again.body) == (
                403,
                forbidden("RuntimeResponseSentState", "InvocationErrorResponse"),
            )
            assert invoked.result().body == b"first"
            assert endpoint.state is RuntimeState.RESPONDED

    run(scenario)


def test_second_poll_while_invoking_is_an_illegal_transition(
    run: Callable[[Scenario], None],
) -> None:
    async def scenario() -> None:
        async with (
            serving() as (endpoint, address),
            RuntimeClient.connect(address) as runtime,
            RuntimeClient.connect(address) as other,
        ):
            async with asyncio.TaskGroup() as tg:
                polled = tg.create_task(runtime.request("GET", NEXT))
                invoked = tg.create_task(endpoint.invoke(invocation(8)))
                await polled
                refused = await other.request("GET", NEXT)
                assert (refused.status, refused.body) == (403, forbidden("Running", "Ready"))
                assert endpoint.state is RuntimeState.INVOKING
                await runtime.request("POST", response_path(invocation(8).request_id), b"ok")
            assert invoked.result().body == b"ok"

    run(scenario)


def test_unknown_and_stale_request_ids_are_invalid(run: Callable[[Scenario], None]) -> None:
    async def scenario() -> None:
        async with serving() as (endpoint, address), RuntimeClient.connect(address) as client:
            before_any = await client.request("POST", response_path("nobody"), b"x")
            assert (before_any.status, before_any.body) == (400, INVALID_REQUEST_ID)
            async with asyncio.TaskGroup() as tg:
                polled = tg.create_task(client.request("GET", NEXT))
                first = tg.create_task(endpoint.invoke(invocation(9)))
                await polled
                wrong = await client.request("POST", error_path("not-the-current-one"), b"x")
                assert (wrong.status, wrong.body) == (400, INVALID_REQUEST_ID)
                assert endpoint.state is RuntimeState.INVOKING  # a wrong id moves nothing
                await client.request("POST", response_path(invocation(9).request_id), b"one")
            async with asyncio.TaskGroup() as tg:
                polled = tg.create_task(client.request("GET", NEXT))
                second = tg.create_task(endpoint.invoke(invocation(10)))
                await polled
                stale = await client.request("POST", response_path(invocation(9).request_id), b"x")
                assert (stale.status, stale.body) == (400, INVALID_REQUEST_ID)
                await client.request("POST", response_path(invocation(10).request_id), b"two")
            assert (first.result().body, second.result().body) == (b"one", b"two")

    run(scenario)


# -- sizes -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", [response_path, error_path], ids=["response", "error"])
def test_oversize_body_gets_413_and_fails_the_invocation(
    run: Callable[[Scenario], None], path: Callable[[str], str]
) -> None:
    async def scenario() -> None:
        async with (
            serving(max_response_bytes=1024) as (endpoint, address),
            RuntimeClient.connect(address) as client,
        ):
            async with asyncio.TaskGroup() as tg:
                polled = tg.create_task(client.request("GET", NEXT))
                at_limit = tg.create_task(endpoint.invoke(invocation(11)))
                await polled
                fits = await client.request("POST", path(invocation(11).request_id), b"a" * 1024)
                assert fits.status == 202
                polled = tg.create_task(client.request("GET", NEXT))
                over = tg.create_task(endpoint.invoke(invocation(12)))
                await polled
                refused = await client.request("POST", path(invocation(12).request_id), b"b" * 1025)
            assert at_limit.result().body == b"a" * 1024
            assert refused.status == 413
            assert refused.body == (
                b'{"errorMessage":"Exceeded maximum allowed payload size (1024 bytes).",'
                b'"errorType":"RequestEntityTooLarge"}\n'
            )
            assert over.result() == RuntimeResponse(
                invocation(12).request_id,
                b'{"errorMessage": "Response payload size exceeded maximum allowed payload size'
                b' (1024 bytes).", "errorType": "Function.ResponseSizeTooLarge"}',
                "Function.ResponseSizeTooLarge",
            )
            # The connection survives the 413: the runtime polls on it again.
            await park(endpoint, client)
            assert endpoint.statistics().connections_accepted == 1

    run(scenario)


def test_default_limit_is_aws_payload_limit_with_its_exact_text(
    run: Callable[[Scenario], None],
) -> None:
    aws_limit = 6 * 1024 * 1024 + 100

    async def scenario() -> None:
        async with serving() as (endpoint, address), RuntimeClient.connect(address) as client:
            results = []
            for n, size in ((13, aws_limit), (14, aws_limit + 1)):
                async with asyncio.TaskGroup() as tg:
                    polled = tg.create_task(client.request("GET", NEXT))
                    invoked = tg.create_task(endpoint.invoke(invocation(n)))
                    await polled
                    answer = await client.request(
                        "POST", response_path(invocation(n).request_id), b"x" * size
                    )
                results.append((answer.status, invoked.result()))
            (fits_status, fits), (over_status, over) = results
            assert (fits_status, len(fits.body), fits.error_type) == (202, aws_limit, None)
            assert over_status == 413
            assert over.error_type == "Function.ResponseSizeTooLarge"
            assert json.loads(over.body) == {
                "errorMessage": "Response payload size exceeded maximum allowed payload size "
                "(6291556 bytes).",
                "errorType": "Function.ResponseSizeTooLarge",
            }

    run(scenario)


# -- the platform gives up ---------------------------------------------------------------


def test_cancelled_invoke_then_late_response(run: Callable[[Scenario], None]) -> None:
    async def scenario() -> None:
        async with serving() as (endpoint, address), RuntimeClient.connect(address) as client:
            await park(endpoint, client)
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.05):
                    await endpoint.invoke(invocation(15))
            assert endpoint.state is RuntimeState.ABANDONED
            delivered = await client.receive()  # it had been handed out before the timeout
            assert delivered.headers["lambda-runtime-aws-request-id"] == invocation(15).request_id
            late = await client.request("POST", response_path(invocation(15).request_id), b"late")
            assert (late.status, late.body) == (403, forbidden("Abandoned", "InvocationResponse"))
            with pytest.raises(EndpointClosedError):
                await endpoint.invoke(invocation(16))
            with pytest.raises(EndpointClosedError):
                await endpoint.wait_idle()
            assert endpoint.state is RuntimeState.ABANDONED

    run(scenario)


def test_invoke_cancelled_before_delivery_is_withdrawn(run: Callable[[Scenario], None]) -> None:
    async def scenario() -> None:
        async with serving() as (endpoint, address), RuntimeClient.connect(address) as client:
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.02):
                    await endpoint.invoke(invocation(17))
            assert endpoint.state is RuntimeState.STARTING
            # The runtime's first poll must not get the withdrawn invocation.
            await park(endpoint, client)
            async with asyncio.TaskGroup() as tg:
                invoked = tg.create_task(endpoint.invoke(invocation(18)))
                delivered = await client.receive()
                await client.request("POST", response_path(invocation(18).request_id), b"ok")
            assert delivered.headers["lambda-runtime-aws-request-id"] == invocation(18).request_id
            assert invoked.result().body == b"ok"
            assert endpoint.statistics().invocations == 1

    run(scenario)


def test_one_invocation_at_a_time(run: Callable[[Scenario], None]) -> None:
    async def scenario() -> None:
        async with serving() as (endpoint, address), RuntimeClient.connect(address) as client:
            async with asyncio.TaskGroup() as tg:
                invoked = tg.create_task(endpoint.invoke(invocation(19)))
                await asyncio.sleep(0)
                with pytest.raises(EndpointBusyError):
                    await endpoint.invoke(invocation(20))
                await client.request("GET", NEXT)
                await client.request("POST", response_path(invocation(19).request_id), b"ok")
            assert invoked.result().body == b"ok"

    run(scenario)


# -- closing -------------------------------------------------------------------------------


def test_close_fails_waiters_and_drops_connections(run: Callable[[Scenario], None]) -> None:
    async def scenario() -> None:
        endpoint = RuntimeEndpoint()
        address = await endpoint.start()
        async with RuntimeClient.connect(address) as client:

            async def fails_closed(waiting: Awaitable[object]) -> None:
                with pytest.raises(EndpointClosedError):
                    await waiting

            async with asyncio.TaskGroup() as tg:
                tg.create_task(fails_closed(endpoint.wait_ready()))
                tg.create_task(fails_closed(endpoint.wait_idle()))
                tg.create_task(fails_closed(endpoint.invoke(invocation(28))))
                await asyncio.sleep(0.01)
                await endpoint.close()
            assert await client.at_eof()
            assert endpoint.state is RuntimeState.CLOSED
            await endpoint.close()  # idempotent
        host, port = address.rsplit(":", 1)
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection(host, int(port))

    run(scenario)


def test_close_drops_a_parked_poll(run: Callable[[Scenario], None]) -> None:
    async def scenario() -> None:
        async with serving() as (endpoint, address), RuntimeClient.connect(address) as client:
            await park(endpoint, client)
            await endpoint.close()
            assert await client.at_eof()
            assert endpoint.statistics().open_connections == 0
            with pytest.raises(EndpointClosedError):
                await endpoint.invoke(invocation(29))

    run(scenario)


# -- connections ---------------------------------------------------------------------------


def test_keep_alive_connection_serves_many_invokes(run: Callable[[Scenario], None]) -> None:
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


def test_http_client_runtime_in_a_thread(run: Callable[[Scenario], None]) -> None:
    async def scenario() -> None:
        async with serving() as (endpoint, address):
            async with asyncio.TaskGroup() as tg:
                runtime = tg.create_task(asyncio.to_thread(http_client_runtime, address, 20))
                results = [await endpoint.invoke(invocation(n)) for n in range(20)]
            assert runtime.result() == [invocation(n).request_id for n in range(20)]
            assert [r.body for r in results] == [b'{"N": %d}' % n for n in range(20)]
            assert endpoint.statistics().connections_accepted == 1

    run(scenario)


def test_parked_poll_whose_client_disconnects(run: Callable[[Scenario], None]) -> None:
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


def test_a_newer_poll_supersedes_a_parked_one(run: Callable[[Scenario], None]) -> None:
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


def test_connection_close_is_honoured(run: Callable[[Scenario], None]) -> None:
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


def test_chunked_response_body(run: Callable[[Scenario], None]) -> None:
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


def test_expect_100_continue(run: Callable[[Scenario], None]) -> None:
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


def test_pipelined_requests_are_answered_in_order(run: Callable[[Scenario], None]) -> None:
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


def test_unknown_path_and_wrong_method(run: Callable[[Scenario], None]) -> None:
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


def test_malformed_request_gets_400_and_close(run: Callable[[Scenario], None]) -> None:
    async def scenario() -> None:
        async with serving() as (_, address), RuntimeClient.connect(address) as client:
            client.writer.write(b"NOT HTTP AT ALL\r\n\r\n")
            answer = await client.receive()
            assert (answer.status, answer.headers["connection"]) == (400, "close")
            assert await client.at_eof()

    run(scenario)


def test_start_on_serves_a_socket_made_by_the_caller(run: Callable[[Scenario], None]) -> None:
    """As an environment's network namespace hands it over: a listening socket made
    elsewhere; the endpoint owns (and closes) it from then on."""

    async def scenario() -> None:
        sock = socket.create_server(("127.0.0.1", 0))
        endpoint = RuntimeEndpoint()
        address = await endpoint.start_on(sock)
        assert address == f"127.0.0.1:{sock.getsockname()[1]}"
        with socket.create_server(("127.0.0.1", 0)) as second, pytest.raises(RuntimeError):
            await endpoint.start_on(second)
        try:
            async with RuntimeClient.connect(address) as client, asyncio.TaskGroup() as tg:
                polled = tg.create_task(client.request("GET", NEXT))
                assert await endpoint.wait_ready() is None
                invoked = tg.create_task(endpoint.invoke(invocation(1)))
                assert (await polled).status == 200
                path = response_path(invocation(1).request_id)
                assert (await client.request("POST", path, b"{}")).status == 202
                assert (await invoked).body == b"{}"
        finally:
            await endpoint.close()
        assert sock.fileno() == -1

    run(scenario)
