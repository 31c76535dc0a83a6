"""The HTTP messages of the Runtime API: a parsed request, a reply, and the bodies AWS sends."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Protocol

from ember.runtime_api.invocation import Invocation

# Rendered header lines end in CRLF; Content-Length and Connection are added on write.
JSON_CONTENT_TYPE = b"Content-Type: application/json\r\n"

# The limit AWS enforces on a response: 6 MiB + 100 bytes (the RIE's interop.MaxPayloadSize),
# which is why its message says "6291556 bytes".
MAX_RESPONSE_BYTES = 6 * 1024 * 1024 + 100

# The invocation error type AWS reports for an oversize response (fatalerror package).
RESPONSE_SIZE_TOO_LARGE = "Function.ResponseSizeTooLarge"


class Channel(Protocol):
    """Where a request's reply goes: its connection."""

    @property
    def closing(self) -> bool: ...

    def send(self, request: Request, reply: Reply) -> None: ...

    def close(self) -> None: ...


class Request:
    """One parsed HTTP request; header names are lower-cased bytes."""

    __slots__ = (
        "body",
        "channel",
        "headers",
        "keep_alive",
        "method",
        "on_drop",
        "oversize",
        "path",
        "streamed",
    )

    def __init__(
        self,
        method: str,
        path: str,
        headers: dict[bytes, bytes],
        body: bytes,
        *,
        oversize: bool,
        keep_alive: bool,
        channel: Channel,
        streamed: bool = False,
    ) -> None:
        self.method = method
        self.path = path
        self.headers = headers
        # Empty when oversize: a body over the limit is counted, not kept.
        self.body = body
        self.oversize = oversize
        # The body went to a ResponseStream as it arrived (so `body` is empty); headers
        # include its trailers.
        self.streamed = streamed
        self.keep_alive = keep_alive
        self.channel = channel
        # Set by a handler that parks the request, so a dropped connection can tell it.
        self.on_drop: Callable[[Request], None] | None = None

    def header(self, name: bytes) -> str | None:
        """The value of header `name` (lower-case), or None when absent or empty."""
        value = self.headers.get(name)
        return value.decode("utf-8", "replace") if value else None

    def reply(self, reply: Reply) -> None:
        """Answer this request later (it was parked)."""
        self.channel.send(self, reply)

    @property
    def closing(self) -> bool:
        return self.channel.closing


class Reply:
    """A response to render: status, pre-rendered header lines, body."""

    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, body: bytes = b"", headers: bytes = b"") -> None:
        self.status = status
        self.body = body
        self.headers = headers


def json_body(fields: dict[str, str]) -> bytes:
    """A JSON body as Go's json.Encoder writes it for the RIE: compact, newline-terminated."""
    return json.dumps(fields, separators=(",", ":")).encode() + b"\n"


def error_reply(status: int, error_type: str, message: str) -> Reply:
    """The RIE's model.ErrorResponse."""
    return Reply(
        status, json_body({"errorMessage": message, "errorType": error_type}), JSON_CONTENT_TYPE
    )


ACCEPTED = Reply(202, json_body({"status": "OK"}), JSON_CONTENT_TYPE)
INTERNAL_SERVER_ERROR = error_reply(500, "InternalServerError", "Internal Server Error")
# Go's http.NotFound, which the RIE's router answers for a path it does not know.
NOT_FOUND = Reply(404, b"404 page not found\n", b"Content-Type: text/plain; charset=utf-8\r\n")


def entity_too_large_reply(limit: int) -> Reply:
    """What the runtime gets for an oversize body (the RIE's RenderRequestEntityTooLarge)."""
    return error_reply(
        413, "RequestEntityTooLarge", f"Exceeded maximum allowed payload size ({limit} bytes)."
    )


def trailer_error(headers: dict[bytes, bytes]) -> tuple[str, bytes] | None:
    """The error a streamed response's trailers report: its type and its body (sent in
    base64), or None when it reports none."""
    error_type = headers.get(b"lambda-runtime-function-error-type")
    if not error_type:
        return None
    encoded = headers.get(b"lambda-runtime-function-error-body", b"")
    try:
        body = base64.b64decode(encoded, validate=True)
    except binascii.Error:
        body = encoded  # not base64: passed on as it came
    return error_type.decode("utf-8", "replace"), body


def response_too_large_body(limit: int) -> bytes:
    """What the invoker gets for an oversize response; AWS's exact text at the default limit."""
    message = f"Response payload size exceeded maximum allowed payload size ({limit} bytes)."
    return json.dumps({"errorMessage": message, "errorType": RESPONSE_SIZE_TOO_LARGE}).encode()


def _header_value(value: str) -> bytes:
    if "\r" in value or "\n" in value or "\0" in value:
        raise ValueError(f"invocation header value contains a line break or NUL: {value!r}")
    return value.encode()


def _json_header_value(text: str) -> bytes:
    # Raw line breaks in valid JSON text are whitespace; as spaces they cannot split a header.
    return _header_value(text.replace("\r", " ").replace("\n", " "))


def invocation_reply(invocation: Invocation) -> Reply:
    """The 200 answer to GET /next that delivers `invocation` (the RIE's renderInvokeHeaders)."""
    lines = [
        JSON_CONTENT_TYPE,
        b"Lambda-Runtime-Aws-Request-Id: %s\r\n" % _header_value(invocation.request_id),
        b"Lambda-Runtime-Deadline-Ms: %d\r\n" % invocation.deadline_ms,
        b"Lambda-Runtime-Invoked-Function-Arn: %s\r\n"
        % _header_value(invocation.invoked_function_arn),
    ]
    # Like the RIE, optional headers are left out when empty rather than sent blank.
    if invocation.trace_id:
        lines.append(b"Lambda-Runtime-Trace-Id: %s\r\n" % _header_value(invocation.trace_id))
    if invocation.client_context:
        lines.append(
            b"Lambda-Runtime-Client-Context: %s\r\n" % _json_header_value(invocation.client_context)
        )
    if invocation.cognito_identity:
        lines.append(
            b"Lambda-Runtime-Cognito-Identity: %s\r\n"
            % _json_header_value(invocation.cognito_identity)
        )
    return Reply(200, invocation.payload, b"".join(lines))
