"""Faults on Ember's side reach a client as Lambda's ServiceException, never as their text.

The whole ASGI application of a real EmberServer, called directly (no sockets), with one
dependency made to fail.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ember.api.faults import INTERNAL_FAILURE
from ember.config import Settings
from ember.errors import ServiceError
from ember.server import EmberServer, listen

SECRET = "/var/lib/ember/blobs/ab/cdef: [Errno 5] Input/output error"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmberServer]:
    listener, settings = listen(Settings(port=0, data_dir=tmp_path / "data", isolation="none"))
    built = EmberServer(settings, listener)
    try:
        yield built
    finally:
        built.listener.close()
        built.door.close()
        built.queue.close()
        built.metadata.close()


def call(
    app: Any, method: str, path: str, body: bytes = b"", query: bytes = b""
) -> tuple[int, dict[str, str], bytes]:
    """One request through the ASGI app; what it answered."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/json")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 9001),
    }
    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    content = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], headers, content


def assert_service_exception(
    answer: tuple[int, dict[str, str], bytes], caplog: pytest.LogCaptureFixture
) -> None:
    status, headers, body = answer
    assert status == 500
    assert headers["x-amzn-errortype"] == "ServiceException"
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == {"Type": "Service", "Message": INTERNAL_FAILURE}
    assert b"Errno" not in body
    assert b"Traceback" not in body
    # The detail is in Ember's log, under the request id the client got.
    logged = [r for r in caplog.records if headers["x-amzn-requestid"] in r.getMessage()]
    assert logged
    assert logged[0].exc_info is not None
    assert SECRET in str(logged[0].exc_info[1])


def fail(*args: object, **kwargs: object) -> Any:
    raise RuntimeError(SECRET)


async def fail_async(*args: object, **kwargs: object) -> Any:
    raise RuntimeError(SECRET)


async def fail_service(*args: object, **kwargs: object) -> Any:
    raise ServiceError(f"cannot read blob {SECRET}")


def test_unexpected_error_on_the_control_plane(
    server: EmberServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(server.functions, "list", fail)
    with caplog.at_level(logging.ERROR, logger="ember.api"):
        answer = call(server.app, "GET", "/2015-03-31/functions/")
    assert_service_exception(answer, caplog)


@pytest.mark.parametrize("failure", [fail_async, fail_service], ids=["bug", "service-error"])
def test_faults_on_the_invoke_fast_path(
    server: EmberServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    failure: Any,
) -> None:
    monkeypatch.setattr(server.invoker, "invoke", failure)
    with caplog.at_level(logging.ERROR, logger="ember.api"):
        answer = call(server.app, "POST", "/2015-03-31/functions/f/invocations", b"{}")
    assert_service_exception(answer, caplog)


def test_fault_before_routing(
    server: EmberServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(server.doors._guard, "admit", fail_async)
    with caplog.at_level(logging.ERROR, logger="ember.api"):
        answer = call(server.doors, "GET", "/2015-03-31/functions/")
    assert_service_exception(answer, caplog)


def test_client_errors_keep_their_text(server: EmberServer) -> None:
    status, headers, body = call(server.app, "POST", "/2015-03-31/functions/nope/invocations")
    assert (status, headers["x-amzn-errortype"]) == (404, "ResourceNotFoundException")
    assert "nope" in json.loads(body)["Message"]
