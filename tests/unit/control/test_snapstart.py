"""SnapStart's configuration rules (control.snapstart) and the Runtime API's restore gate
(runtime_api.restore): pure logic, no server."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ember.control import snapstart
from ember.errors import InvalidParameterValueError
from ember.runtime_api.invocation import InitError
from ember.runtime_api.lifecycle import Lifecycle
from ember.runtime_api.messages import Reply, Request
from ember.runtime_api.restore import RestoreGate, RestoreRejectedError, RestoreState


def _fields(**values: Any) -> dict[str, Any]:
    return {"runtime": "python3.12", "snap_start": "PublishedVersions", **values}


@pytest.mark.parametrize("runtime", ["python3.12", "python3.13", "python3.14", "java11", "java21"])
def test_supported_runtimes_may_turn_it_on(runtime: str) -> None:
    snapstart.check(_fields(runtime=runtime))


@pytest.mark.parametrize("runtime", ["python3.11", "python3.9", "nodejs20.x", "provided.al2023"])
def test_other_runtimes_are_refused_in_aws_words(runtime: str) -> None:
    with pytest.raises(InvalidParameterValueError) as refused:
        snapstart.check(_fields(runtime=runtime))
    assert refused.value.message == f"{runtime} is not supported for SnapStart enabled functions."


def test_off_is_always_allowed() -> None:
    snapstart.check({"runtime": "python3.9", "snap_start": "None", "ephemeral_storage": 10240})


def test_ephemeral_storage_over_512_mb_is_refused() -> None:
    snapstart.check(_fields(ephemeral_storage=512))
    with pytest.raises(InvalidParameterValueError):
        snapstart.check(_fields(ephemeral_storage=513))


def test_provisioned_concurrency_is_refused_on_a_snapstart_version() -> None:
    snapstart.check_provisioned({"snap_start": "None", "version": "1"})
    with pytest.raises(InvalidParameterValueError):
        snapstart.check_provisioned({"snap_start": "PublishedVersions", "version": "1"})


def test_a_failed_init_reads_as_function_error() -> None:
    assert snapstart.failed_reason("Runtime.ImportModuleError", "no module x") == (
        "FunctionError",
        "Init error during snapshot creation: Runtime.ImportModuleError: no module x",
    )
    assert snapstart.failed_reason("Sandbox.Timedout", "")[0] == "FunctionError.InitTimeout"


class _Channel:
    closing = False

    def __init__(self) -> None:
        self.sent: list[Reply] = []

    def send(self, request: Request, reply: Reply) -> None:
        self.sent.append(reply)

    def close(self) -> None:
        self.closing = True


def _request(channel: _Channel, method: str = "GET", body: bytes = b"") -> Request:
    return Request(method, "/", {}, body, oversize=False, keep_alive=True, channel=channel)


def test_the_gate_parks_restore_next_until_released() -> None:
    async def scenario() -> None:
        gate = RestoreGate(Lifecycle())
        parked = asyncio.ensure_future(gate.wait_parked())
        await asyncio.sleep(0)
        assert not parked.done()
        channel = _Channel()
        assert gate.restore_next(_request(channel), {}) is None  # parked, no answer yet
        assert await parked is None
        assert gate.state is RestoreState.PARKED
        gate.release()
        assert [reply.status for reply in channel.sent] == [200]
        with pytest.raises(RestoreRejectedError):
            gate.restore_next(_request(channel), {})  # once only
        restored = asyncio.ensure_future(gate.wait_restored())
        await asyncio.sleep(0)
        gate.restore_error(_request(channel, "POST", b'{"errorType": "X"}'), {})
        error = await restored
        assert isinstance(error, InitError)
        assert error.error_type == "Runtime.AfterRestoreError"

    asyncio.run(scenario())


def test_restore_error_before_release_is_refused() -> None:
    gate = RestoreGate(Lifecycle())
    with pytest.raises(RestoreRejectedError):
        gate.restore_error(_request(_Channel(), "POST"), {})
