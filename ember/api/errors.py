"""Render every `LambdaError` in AWS's rest-json wire shape, in this one place."""

from __future__ import annotations

import uuid
from typing import Any

import orjson

from ember.errors import LambdaError, RequestEntityTooLargeError

# AWS omits `Type` on these (see shared/conformance).
_UNTYPED = (RequestEntityTooLargeError,)


def error_body(error: LambdaError) -> bytes:
    body: dict[str, Any] = {}
    if not isinstance(error, _UNTYPED):
        body["Type"] = error.fault
    body["Message"] = error.message
    body.update(error.extra)
    return orjson.dumps(body)


def error_headers(error: LambdaError, request_id: str | None = None) -> list[tuple[bytes, bytes]]:
    return [
        (b"content-type", b"application/json"),
        (b"x-amzn-errortype", error.code.encode()),
        (b"x-amzn-requestid", (request_id or str(uuid.uuid4())).encode()),
    ]
