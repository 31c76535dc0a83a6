"""The Extensions API 2020-01-01 of a RuntimeEndpoint over real sockets, driven the way an
external extension (and the runtime beside it) drives it; statuses, types and messages are
the RIE's."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable

from ember.runtime_api import RuntimeEndpoint
from ember.runtime_api.extensions import ExtensionState
from tests.component.runtime_api.loops import Scenario
from tests.component.runtime_api.test_endpoint import (
    NEXT,
    RuntimeClient,
    eventually,
    invocation,
    response_path,
)

EXT = "/2020-01-01/extension"
BAD = ("Lambda-Extension-Function-Error-Type", "Extension.Bad")
METADATA = {"functionName": "hello", "functionVersion": "$LATEST", "handler": "app.handler"}


@contextlib.asynccontextmanager
async def serving(
    external: frozenset[str] = frozenset(),
) -> AsyncIterator[tuple[RuntimeEndpoint, str]]:
    endpoint = RuntimeEndpoint(metadata=METADATA)
    endpoint.declare_external_extensions(external)
    address = await endpoint.start()
    try:
        yield endpoint, address
    finally:
        await endpoint.close()


def error(error_type: str, message: str) -> dict[str, str]:
    return {"errorMessage": message, "errorType": error_type}


async def register(client: RuntimeClient, name: str, events: list[str]) -> str:
    answer = await client.request(
        "POST", f"{EXT}/register", json.dumps({"events": events}).encode(),
        [("Lambda-Extension-Name", name)],
    )  # fmt: skip
    assert answer.status == 200, answer.body
    assert json.loads(answer.body) == METADATA
    return answer.headers["lambda-extension-identifier"]


def test_register_next_invoke_and_completion(run: Callable[[Scenario], None]) -> None:
    async def scenario() -> None:
        async with (
            serving(frozenset({"ext"})) as (endpoint, address),
            RuntimeClient.connect(address) as extension,
            RuntimeClient.connect(address) as runtime,
        ):
            ident = await register(extension, "ext", ["INVOKE", "SHUTDOWN"])
            assert await endpoint.wait_extensions_registered(frozenset({"ext"})) is None
            extension.send(
                "GET", f"{EXT}/event/next", headers=[("Lambda-Extension-Identifier", ident)]
            )
            async with asyncio.TaskGroup() as tg:
                polled = tg.create_task(runtime.request("GET", NEXT))
                assert await endpoint.wait_ready() is None
                assert await endpoint.wait_extensions_ready() is None
                invoked = tg.create_task(endpoint.invoke(invocation(1)))
                event = await extension.receive()
                await polled
                await runtime.request("POST", response_path(invocation(1).request_id), b"{}")
            assert invoked.done()
            assert event.status == 200
            assert event.headers["lambda-extension-event-identifier"]
            assert json.loads(event.body) == {
                "eventType": "INVOKE",
                "deadlineMs": invocation(1).deadline_ms,
                "requestId": invocation(1).request_id,
                "invokedFunctionArn": invocation(1).invoked_function_arn,
                "tracing": {"type": "X-Amzn-Trace-Id", "value": invocation(1).trace_id},
            }
            # The runtime is back in next, the extension is not: not complete yet.
            runtime.send("GET", NEXT)
            idle = asyncio.ensure_future(endpoint.wait_idle())
            await asyncio.sleep(0.05)
            assert not idle.done()
            extension.send(
                "GET", f"{EXT}/event/next", headers=[("Lambda-Extension-Identifier", ident)]
            )
            await asyncio.wait_for(idle, 2)
            # SHUTDOWN goes to the parked next.
            sent = endpoint.shutdown_extensions("spindown", 1_700_000_009_000)
            assert [e.name for e in sent] == ["ext"]
            shutdown = await extension.receive()
            assert json.loads(shutdown.body) == {
                "eventType": "SHUTDOWN",
                "shutdownReason": "spindown",
                "deadlineMs": 1_700_000_009_000,
            }

    run(scenario)


def test_refusals(run: Callable[[Scenario], None]) -> None:
    async def scenario() -> None:
        async with (
            serving(frozenset({"ext"})) as (endpoint, address),
            RuntimeClient.connect(address) as client,
        ):

            async def refused(
                method: str, path: str, body: bytes, headers: list[tuple[str, str]]
            ) -> dict[str, str]:
                answer = await client.request(method, path, body, headers)
                assert answer.status == 403, answer.body
                parsed: dict[str, str] = json.loads(answer.body)
                return parsed

            assert await refused("POST", f"{EXT}/register", b'{"events": []}', []) == error(
                "Extension.InvalidExtensionName", "Empty extension name"
            )
            assert await refused(
                "POST",
                f"{EXT}/register",
                b'{"events": ["BOGUS"]}',
                [("Lambda-Extension-Name", "ext")],
            ) == error("Extension.InvalidEventType", "BOGUS: ErrorInvalidEventType")
            assert await refused(
                "POST",
                f"{EXT}/register",
                b'{"events": ["SHUTDOWN"]}',
                [("Lambda-Extension-Name", "inner")],
            ) == error(
                "Extension.InvalidEventType",
                "SHUTDOWN: ShutdownEventNotSupportedForInternalExtension",
            )
            ident = await register(client, "ext", ["INVOKE"])
            assert await refused(
                "POST", f"{EXT}/register", b'{"events": []}', [("Lambda-Extension-Name", "ext")]
            ) == error(
                "Extension.InvalidExtensionState",
                "State transition from Registered to Registered failed for extension ext. "
                "Error: State transition is not allowed",
            )
            assert await refused("GET", f"{EXT}/event/next", b"", []) == error(
                "Extension.MissingExtensionIdentifier", "Missing Lambda-Extension-Identifier header"
            )
            assert await refused(
                "GET", f"{EXT}/event/next", b"", [("Lambda-Extension-Identifier", "nope")]
            ) == error(
                "Extension.InvalidExtensionIdentifier", "Invalid Lambda-Extension-Identifier"
            )
            unknown = "00000000-0000-0000-0000-000000000000"
            assert await refused(
                "GET", f"{EXT}/event/next", b"", [("Lambda-Extension-Identifier", unknown)]
            ) == error("Extension.UnknownExtensionIdentifier", f"Unknown extension {unknown}")
            assert await refused(
                "POST", f"{EXT}/init/error", b"", [("Lambda-Extension-Identifier", ident)]
            ) == error("Extension.MissingHeader", "Lambda-Extension-Function-Error-Type not found")
            answer = await client.request(
                "POST", f"{EXT}/init/error", b"{}",
                [("Lambda-Extension-Identifier", ident), BAD],
            )  # fmt: skip
            assert answer.status == 202
            failed = endpoint.extension_failure()
            assert failed is not None
            assert (failed.name, failed.error_type) == ("ext", "Extension.Bad")
            # Init is over once the runtime is ready: internal registration closes.
            await endpoint.wait_extensions_ready()
            assert await refused(
                "POST",
                f"{EXT}/register",
                b'{"events": ["INVOKE"]}',
                [("Lambda-Extension-Name", "late")],
            ) == error("Extension.RegistrationClosed", "Extension registration closed already")

    run(scenario)


def test_an_invoke_event_waits_for_an_extension_that_is_not_parked(
    run: Callable[[Scenario], None],
) -> None:
    async def scenario() -> None:
        async with serving() as (endpoint, address), RuntimeClient.connect(address) as extension:
            ident = await register(extension, "internal", ["INVOKE"])
            extension.send(
                "GET", f"{EXT}/event/next", headers=[("Lambda-Extension-Identifier", ident)]
            )
            await eventually(lambda: endpoint.extensions()[0].poll is not None)
            await extension.close()  # its poll goes away before the event
            await eventually(lambda: endpoint.extensions()[0].poll is None)
            invoked = asyncio.ensure_future(endpoint.invoke(invocation(2)))
            await eventually(lambda: len(endpoint.extensions()[0].pending) == 1)
            assert endpoint.extensions()[0].state is ExtensionState.RUNNING  # owes a next
            async with RuntimeClient.connect(address) as again:
                event = await again.request(
                    "GET", f"{EXT}/event/next", headers=[("Lambda-Extension-Identifier", ident)]
                )
            assert json.loads(event.body)["requestId"] == invocation(2).request_id
            invoked.cancel()  # no runtime here: withdrawn before anyone took it
            with contextlib.suppress(asyncio.CancelledError):
                await invoked

    run(scenario)
