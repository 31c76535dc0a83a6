"""The Invoke front door, as a raw ASGI handler: it is the hot path, so it skips the
router and request objects and touches only what Invoke needs."""

from __future__ import annotations

import base64
import binascii
import urllib.parse
import uuid
from typing import Any

import orjson

from ember.api.errors import error_body, error_headers
from ember.api.faults import hidden, public
from ember.api.model import function_name_rule
from ember.config import Settings
from ember.control.names import FunctionRef, parse_function_name
from ember.errors import (
    InvalidRequestContentError,
    LambdaError,
    RequestEntityTooLargeError,
    RequestTooLargeError,
    ServiceError,
    ValidationError,
)
from ember.invoke import Invoker
from ember.invoke.intake import EventIntake

PREFIX = "/2015-03-31/functions/"
SUFFIX = "/invocations"
SYNC_LIMIT = 6 * 1024 * 1024  # Lambda: 6 MB request payload for RequestResponse
EVENT_LIMIT = 1024 * 1024  # Lambda: 1 MB for asynchronous invocations (256 KB until 2025)
_TYPES = ("RequestResponse", "Event", "DryRun")
_REFS_KEPT = 4096  # parsed function names remembered by the Invoke handler

Scope = dict[str, Any]


def is_invoke(scope: Scope) -> bool:
    path: str = scope["path"]
    return scope["method"] == "POST" and path.startswith(PREFIX) and path.endswith(SUFFIX)


def _enum_error(value: str, field: str, allowed: str) -> ValidationError:
    return ValidationError(
        f"1 validation error detected: Value '{value}' at '{field}' failed to satisfy "
        f"constraint: Member must satisfy enum value set: [{allowed}]"
    )


class InvokeHandler:
    def __init__(
        self, settings: Settings, invoker: Invoker, intake: EventIntake | None = None
    ) -> None:
        self._settings = settings
        self._invoker = invoker
        self._intake = intake
        self._name_pattern, self._name_max = function_name_rule("Invoke")
        # (path, query) -> the function it names: parsed once per name, not per invoke.
        self._refs: dict[tuple[str, bytes], FunctionRef] = {}

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        request_id = str(uuid.uuid4())
        error: LambdaError | None = None
        try:
            status, headers, body = await self._handle(scope, receive, request_id)
        except _Disconnected:
            return  # nobody to answer
        except LambdaError as exc:
            error = public(exc, request_id, "Invoke")
        except Exception as exc:
            # Lambda's shape for our own faults too, never a bare 500 from the server.
            error = hidden(exc, request_id, "Invoke")
        if error is not None:
            status, headers, body = (
                error.status,
                error_headers(error, request_id),
                error_body(error),
            )
        else:
            headers.append((b"x-amzn-requestid", request_id.encode()))
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _handle(
        self, scope: Scope, receive: Any, request_id: str
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        headers: dict[bytes, bytes] = dict(scope["headers"])
        invocation_type, log_type = invocation_kinds(headers)
        ref = self._function(scope["path"], scope["query_string"])
        payload = await read_payload(receive)
        client_context = _client_context(headers.get(b"x-amz-client-context"))
        if invocation_type == "DryRun":
            await self._invoker.resolve(ref.name, ref.qualifier)
            return 204, [], b""  # AWS names no ExecutedVersion for a DryRun
        if invocation_type == "Event":
            check_event_size(payload, "Event invocation type", EVENT_LIMIT)
            if self._intake is None:
                raise ServiceError("asynchronous invocation is not wired into this server")
            await self._intake.accept(
                ref.name,
                ref.qualifier,
                payload,
                request_id=request_id,
                client_context=client_context,
            )
            return 202, [], b""
        result = await self._invoker.invoke(
            ref.name,
            ref.qualifier,
            payload,
            client_context=client_context,
            want_log_tail=log_type == "Tail",
            request_id=request_id,
            trace=headers.get(b"x-amzn-trace-id", b"").decode("latin-1") or None,
        )
        out = [
            (b"content-type", b"application/json"),
            (b"x-amz-executed-version", result.executed_version.encode()),
        ]
        if result.function_error is not None:
            out.append((b"x-amz-function-error", result.function_error.encode()))
        if log_type == "Tail":
            out.append((b"x-amz-log-result", base64.b64encode(result.log_tail)))
        return 200, out, result.payload

    def _function(self, path: str, query_string: bytes) -> FunctionRef:
        """The function (and qualifier) an Invoke path and query name; names refused are
        parsed (and refused) again each time, as they are not remembered."""
        key = (path, query_string)
        ref = self._refs.get(key)
        if ref is not None:
            return ref
        qualifier = None
        if query_string:
            query = urllib.parse.parse_qs(query_string.decode())
            qualifier = query.get("Qualifier", [None])[0]
        raw_name = urllib.parse.unquote(path[len(PREFIX) : -len(SUFFIX)])
        ref = parse_function_name(
            raw_name,
            self._settings.region,
            qualifier=qualifier,
            max_length=self._name_max,
            pattern=self._name_pattern,
            account=self._settings.account_id,
        )
        if len(self._refs) >= _REFS_KEPT:
            self._refs.clear()  # many names (or a caller making up new ones): start over
        self._refs[key] = ref
        return ref


def invocation_kinds(
    headers: dict[bytes, bytes], types: tuple[str, ...] = _TYPES
) -> tuple[str, str]:
    """X-Amz-Invocation-Type (one of `types`) and X-Amz-Log-Type, checked (Invoke and its
    streaming twin)."""
    invocation_type = headers.get(b"x-amz-invocation-type", b"RequestResponse").decode()
    if invocation_type not in types:
        raise _enum_error(invocation_type, "invocationType", ", ".join(types))
    log_type = headers.get(b"x-amz-log-type", b"None").decode()
    if log_type not in ("None", "Tail"):
        raise _enum_error(log_type, "logType", "None, Tail")
    return invocation_type, log_type


async def read_payload(receive: Any) -> bytes:
    """The request's payload, checked to be JSON (Invoke and its streaming twin)."""
    payload = await _read_body(receive, SYNC_LIMIT)
    if not payload.strip():
        return b"{}"  # Lambda hands an empty request to the function as {}
    try:
        orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequestContentError(
            f"Could not parse request body into json: Could not parse payload into json: {exc}"
        ) from None
    return payload


def check_event_size(payload: bytes, what: str, limit: int) -> None:
    """AWS's refusal of an asynchronous payload over its limit."""
    if len(payload) > limit:
        raise RequestEntityTooLargeError(
            f"{len(payload)} byte payload is too large for the {what} (limit {limit} bytes)"
        )


async def _read_body(receive: Any, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            # The client left mid-body: what arrived is not the payload it meant.
            raise _Disconnected
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise RequestTooLargeError(
                f"Request must be smaller than {limit} bytes for the InvokeFunction operation"
            )
        chunks.append(chunk)
        more = message.get("more_body", False)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


class _Disconnected(Exception):
    """The client went away before its request was read."""


def _client_context(raw: bytes | None) -> str | None:
    """X-Amz-Client-Context is base64 JSON; the runtime gets the JSON text."""
    if raw is None:
        return None
    try:
        decoded = base64.b64decode(raw, validate=True)
        orjson.loads(decoded)
    except (binascii.Error, ValueError):
        raise InvalidRequestContentError(
            "Client context must be a valid Base64-encoded JSON object."
        ) from None
    return decoded.decode()
