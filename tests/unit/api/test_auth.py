"""The guard in front of the API: modes, the environments' door, role scoping, and each
protocol's error shape (ASGI messages only, no sockets)."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from ember.api.auth import ENVIRONMENT_SCOPE_KEY, Guard
from ember.clock import ManualClock
from ember.config import Settings
from ember.protocols import SessionIssuer

HOST = "127.0.0.1:9001"


class FakeKeys:
    def __init__(self, keys: dict[str, str]) -> None:
        self.keys = keys

    async def secret(self, key_id: str) -> str | None:
        return self.keys.get(key_id)


def _scope(
    method: str,
    path: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    creds: tuple[str, str, str | None] | None = None,
    service: str = "lambda",
) -> dict[str, Any]:
    url = f"http://{HOST}{path}"
    sent = dict(headers or {})
    if creds is not None:
        request = AWSRequest(method=method, url=url, data=body, headers=sent)
        SigV4Auth(Credentials(*creds), service, "us-east-1").add_auth(request)
        sent = dict(request.headers.items())
    parts = urlsplit(url)
    raw = [(b"host", HOST.encode())]
    raw += [(k.lower().encode(), v.encode() if isinstance(v, str) else v) for k, v in sent.items()]
    return {
        "type": "http", "method": method, "path": parts.path, "raw_path": parts.path.encode(),
        "query_string": parts.query.encode(), "headers": raw,
    }  # fmt: skip


def _admit(guard: Guard, scope: dict[str, Any], body: bytes = b"") -> tuple[bool, list[Any]]:
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def run() -> bool:
        admitted = await guard.admit(scope, receive, send)
        if admitted is not None:
            assert (await admitted())["body"] == body  # the body is handed on whole
        return admitted is not None

    return asyncio.run(run()), sent


def _refusal(sent: list[Any]) -> tuple[int, dict[str, str], Any]:
    start, body = sent
    headers = {k.decode(): v.decode() for k, v in start["headers"]}
    return start["status"], headers, json.loads(body["body"])


@pytest.fixture
def setup() -> tuple[ManualClock, SessionIssuer]:
    import time

    clock = ManualClock(wall=time.time())  # botocore signs with the real time
    return clock, SessionIssuer(clock, "000000000000")


def _guard(setup: Any, auth: str, keys: dict[str, str] | None = None) -> Guard:
    clock, sessions = setup
    return Guard(Settings(auth=auth), clock, FakeKeys(keys or {}), sessions)


def test_none_lets_anything_in_that_is_not_an_environment(setup: Any) -> None:
    guard = _guard(setup, "none")
    assert _admit(guard, _scope("GET", "/2015-03-31/functions/"))[0]
    signed = _scope("GET", "/2015-03-31/functions/", creds=("AKIAANY", "whatever", None))
    assert _admit(guard, signed)[0]


def test_sigv4_wants_a_known_key(setup: Any) -> None:
    guard = _guard(setup, "sigv4", {"AKIAGOOD": "secret"})
    ok = _scope(
        "POST", "/2015-03-31/functions/f/invocations", b"{}", creds=("AKIAGOOD", "secret", None)
    )
    assert _admit(guard, ok, b"{}")[0]
    admitted, sent = _admit(guard, _scope("GET", "/2015-03-31/functions/"))
    assert not admitted
    status, headers, body = _refusal(sent)
    assert (status, headers["x-amzn-errortype"]) == (403, "MissingAuthenticationTokenException")
    unknown = _scope("GET", "/2015-03-31/functions/", creds=("AKIABAD", "secret", None))
    status, headers, body = _refusal(_admit(guard, unknown)[1])
    assert headers["x-amzn-errortype"] == "UnrecognizedClientException"
    assert body == {"message": "The security token included in the request is invalid."}


def test_json_protocol_refusals_have_the_json_shape(setup: Any) -> None:
    guard = _guard(setup, "sigv4", {"AKIAGOOD": "secret"})
    target = {"x-amz-target": "Logs_20140328.DescribeLogGroups"}
    scope = _scope("POST", "/", b"{}", target, creds=("AKIAGOOD", "wrong", None), service="logs")
    status, headers, body = _refusal(_admit(guard, scope, b"{}")[1])
    assert status == 400
    assert headers["content-type"] == "application/x-amz-json-1.1"
    assert body["__type"] == "InvalidSignatureException"


def _session(setup: Any, function: str = "caller") -> tuple[str, str, str]:
    session = setup[1].issue(function, "arn:aws:iam::000000000000:role/lambda-role")
    return session.access_key, session.secret, session.token


@pytest.mark.parametrize("auth", ["none", "sigv4"])
def test_environment_credentials_may_invoke_and_write_logs(setup: Any, auth: str) -> None:
    guard = _guard(setup, auth)
    creds = _session(setup)
    allowed = [
        _scope("POST", "/2015-03-31/functions/other/invocations", b"{}", creds=creds),
        _scope("POST", "/2014-11-13/functions/other/invoke-async/", b"{}", creds=creds),
        _scope("POST", "/", OWN_GROUP, {"x-amz-target": "Logs_20140328.PutLogEvents"},
               creds=creds, service="logs"),
    ]  # fmt: skip
    for scope in allowed:
        body = OWN_GROUP if scope["path"] == "/" else b"{}"
        assert _admit(guard, scope, body)[0], scope["path"]


OWN_GROUP = b'{"logGroupName": "/aws/lambda/caller"}'  # the role writes only its own logs


@pytest.mark.parametrize("auth", ["none", "sigv4"])
def test_environment_credentials_may_do_nothing_else(setup: Any, auth: str) -> None:
    guard = _guard(setup, auth)
    creds = _session(setup)
    scope = _scope("GET", "/2015-03-31/functions/callee", creds=creds)
    status, headers, body = _refusal(_admit(guard, scope)[1])
    assert (status, headers["x-amzn-errortype"]) == (403, "AccessDeniedException")
    assert body["message"] == (
        "User: arn:aws:sts::000000000000:assumed-role/lambda-role/caller is not authorized to "
        "perform: lambda:GetFunction on resource: "
        "arn:aws:lambda:us-east-1:000000000000:function:callee because no identity-based "
        "policy allows the lambda:GetFunction action"
    )
    target = {"x-amz-target": "Logs_20140328.GetLogEvents"}
    group = b'{"logGroupName": "/aws/lambda/x"}'
    logs = _scope("POST", "/", group, target, creds=creds, service="logs")
    status, _, body = _refusal(_admit(guard, logs, group)[1])
    assert status == 400
    assert body["__type"] == "AccessDeniedException"
    assert (
        "logs:GetLogEvents on resource: arn:aws:logs:us-east-1:000000000000:log-group:/aws/lambda/x"
        in body["message"]
    )


def test_environment_credentials_need_their_token_and_expire(setup: Any) -> None:
    clock, _ = setup
    guard = _guard(setup, "none")
    key, secret, _ = _session(setup)
    path = "/2015-03-31/functions/f/invocations"
    forged = _scope("POST", path, b"{}", creds=(key, secret, "another-token"))
    assert _refusal(_admit(guard, forged, b"{}")[1])[1]["x-amzn-errortype"] == (
        "UnrecognizedClientException"
    )
    creds = _session(setup)
    clock.advance(13 * 3600)
    _, headers, _ = _refusal(_admit(guard, _scope("POST", path, b"{}", creds=creds), b"{}")[1])
    assert headers["x-amzn-errortype"] == "ExpiredTokenException"


def test_the_door_takes_environment_credentials_only(setup: Any) -> None:
    guard = _guard(setup, "none", {"AKIAGOOD": "secret"})
    path = "/2015-03-31/functions/f/invocations"
    for creds, code in [
        (None, "MissingAuthenticationTokenException"),
        (("AKIAGOOD", "secret", None), "UnrecognizedClientException"),
    ]:
        scope = _scope("POST", path, b"{}", creds=creds)
        scope[ENVIRONMENT_SCOPE_KEY] = True
        assert _refusal(_admit(guard, scope, b"{}")[1])[1]["x-amzn-errortype"] == code
    scope = _scope("POST", path, b"{}", creds=_session(setup))
    scope[ENVIRONMENT_SCOPE_KEY] = True
    assert _admit(guard, scope, b"{}")[0]
    link = _scope("GET", "/_ember/code/abc")
    link[ENVIRONMENT_SCOPE_KEY] = True
    assert not _admit(guard, link)[0]  # links are for callers outside only
