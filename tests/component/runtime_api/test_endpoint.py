"""RuntimeEndpoint over real sockets: the Runtime API's lifecycle as a runtime drives it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

import pytest
from runtime_api_client import (
    ACCEPTED,
    ARN,
    INIT_ERROR,
    INVALID_REQUEST_ID,
    NEXT,
    RuntimeClient,
    error_path,
    forbidden,
    invocation,
    park,
    response_path,
    serving,
)

from ember.runtime_api import (
    EndpointBusyError,
    EndpointClosedError,
    InitError,
    InitFailedError,
    RuntimeEndpoint,
    RuntimeResponse,
    RuntimeState,
)

Run = Callable[[Callable[[], Awaitable[None]]], None]


# -- the happy path --------------------------------------------------------------------


def test_ready_invoke_response(run: Run) -> None:
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


def test_optional_context_headers_are_sent_only_when_set(run: Run) -> None:
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


def test_invocation_header_with_a_line_break_is_refused(run: Run) -> None:
    async def scenario() -> None:
        async with serving() as (endpoint, _):
            with pytest.raises(ValueError, match="line break"):
                await endpoint.invoke(invocation(1, invoked_function_arn="arn\r\nX-Evil: 1"))
            assert endpoint.state is RuntimeState.STARTING

    run(scenario)


def test_invoke_before_init_is_delivered_to_the_first_poll(run: Run) -> None:
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
def test_invocation_error(run: Run, headers: tuple[tuple[str, str], ...], error_type: str) -> None:
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
    run: Run,
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


def test_init_error_fails_an_invoke_waiting_for_init(run: Run) -> None:
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


def test_init_error_after_ready_is_an_illegal_transition(run: Run) -> None:
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


def test_duplicate_response_is_an_illegal_transition(run: Run) -> None:
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
    run: Run,
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


def test_unknown_and_stale_request_ids_are_invalid(run: Run) -> None:
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
    run: Run, path: Callable[[str], str]
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
    run: Run,
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


def test_cancelled_invoke_then_late_response(run: Run) -> None:
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


def test_invoke_cancelled_before_delivery_is_withdrawn(run: Run) -> None:
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


def test_one_invocation_at_a_time(run: Run) -> None:
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


def test_close_fails_waiters_and_drops_connections(run: Run) -> None:
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


def test_close_drops_a_parked_poll(run: Run) -> None:
    async def scenario() -> None:
        async with serving() as (endpoint, address), RuntimeClient.connect(address) as client:
            await park(endpoint, client)
            await endpoint.close()
            assert await client.at_eof()
            assert endpoint.statistics().open_connections == 0
            with pytest.raises(EndpointClosedError):
                await endpoint.invoke(invocation(29))

    run(scenario)
