"""Calling Ember's control plane as a client does, and reading its answers: the error a call
got (code, HTTP status, message), raw HTTP for what boto3 refuses to send, and deploys that
poll instead of waiting a waiter's whole second."""

from __future__ import annotations

import dataclasses
import http.client
import io
import stat
import sys
import uuid
import zipfile
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import orjson
from botocore.exceptions import ClientError

from tests.e2e.harness import ROLE, Server, make_zip, wait_until

ACCOUNT = "000000000000"
REGION = "us-east-1"
ARN_PREFIX = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:"
HANDLER_CODE = "def handler(event, context):\n    return event\n"
# The Python the tests (and so `ember serve`) run on: a server always runs its own version.
RUNTIME = f"python{sys.version_info.major}.{sys.version_info.minor}"


def unique(prefix: str) -> str:
    """A function name no other test uses on the shared server."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def arn(name: str) -> str:
    return ARN_PREFIX + name


@dataclasses.dataclass(frozen=True)
class Outcome:
    """The error one call got, as the client parsed it."""

    code: str
    status: int
    message: str
    fields: Mapping[str, Any]  # other top-level members botocore parsed (Type, Reason)


def outcome_of(call: Callable[[], Any]) -> Outcome:
    """Run `call`, which must fail with a service error, and return that error."""
    try:
        call()
    except ClientError as exc:
        return outcome_from(exc)
    raise AssertionError("the call succeeded; an error was expected")


def outcome_from(error: ClientError) -> Outcome:
    response = error.response
    fields = {k: v for k, v in response.items() if k not in ("Error", "ResponseMetadata")}
    return Outcome(
        code=response["Error"]["Code"],
        status=response["ResponseMetadata"]["HTTPStatusCode"],
        message=response["Error"].get("Message", ""),
        fields=fields,
    )


def expect_error(call: Callable[[], Any], code: str, status: int, message: str) -> Outcome:
    """`call` fails with exactly this code, status and message."""
    got = outcome_of(call)
    assert (got.code, got.status, got.message) == (code, status, message)
    return got


@dataclasses.dataclass(frozen=True)
class RawAnswer:
    status: int
    error_type: str | None  # X-Amzn-ErrorType
    body: Any  # the JSON document, or None for an empty body


def raw_request(
    server: Server,
    method: str,
    path: str,
    body: bytes | Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> RawAnswer:
    """One HTTP request with exactly this body (boto3 checks types before sending)."""
    data = orjson.dumps(body) if isinstance(body, Mapping) else body
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request(method, path, data, {"content-type": "application/json", **(headers or {})})
        response = conn.getresponse()
        raw = response.read()
        return RawAnswer(
            response.status,
            response.getheader("x-amzn-errortype"),
            orjson.loads(raw) if raw else None,
        )
    finally:
        conn.close()


def deploy(
    lam: Any,
    name: str,
    files: Mapping[str, str | bytes] | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """Create a function and poll until it is Active; the CreateFunction answer."""
    kwargs.setdefault("Runtime", RUNTIME)
    kwargs.setdefault("Handler", "app.handler")
    kwargs.setdefault("Role", ROLE)
    created: dict[str, Any] = lam.create_function(
        FunctionName=name, Code={"ZipFile": make_zip(files or {"app.py": HANDLER_CODE})}, **kwargs
    )
    wait_settled(lam, name)
    return created


def wait_settled(lam: Any, name: str, limit: float = 15.0) -> dict[str, Any]:
    """The configuration once no longer Pending nor InProgress."""

    def settled() -> dict[str, Any] | None:
        config: dict[str, Any] = lam.get_function_configuration(FunctionName=name)
        # A Pending function shows no LastUpdateStatus yet, as on AWS.
        busy = config["State"] == "Pending" or config.get("LastUpdateStatus") == "InProgress"
        return None if busy else config

    config: dict[str, Any] = wait_until(settled, limit=limit)
    return config


def function_names(lam: Any) -> list[str]:
    """Every function on the server, through ListFunctions' pages."""
    pages = lam.get_paginator("list_functions").paginate()
    return sorted(f["FunctionName"] for page in pages for f in page["Functions"])


def zip_with_links(entries: Iterable[tuple[str, str | bytes, int]]) -> bytes:
    """A zip of (name, content, st_mode) entries: symlinks are S_IFLNK with the target as
    content, as `zip --symlinks` stores them."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content, mode in entries:
            info = zipfile.ZipInfo(name)
            info.external_attr = mode << 16
            archive.writestr(info, content)
    return buffer.getvalue()


SYMLINK = stat.S_IFLNK | 0o777
FILE = stat.S_IFREG | 0o644
