"""Reading one API request's input: bounded body, JSON, the model's checks."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request

from ember.api.validation import parse_input, validate
from ember.errors import InvalidRequestContentError, RequestEntityTooLargeError

# AWS's request-size limits per operation (bytes of HTTP body).
_BODY_LIMITS = {
    "CreateFunction": 70_167_211,
    "UpdateFunctionCode": 70_167_211,
    "PublishLayerVersion": 70_167_211,
}
_DEFAULT_LIMIT = 6 * 1024 * 1024


async def read_body(request: Request, op_name: str) -> bytes:
    limit = _BODY_LIMITS.get(op_name, _DEFAULT_LIMIT)
    too_large = RequestEntityTooLargeError(
        f"Request must be smaller than {limit} bytes for the {op_name} operation"
    )
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


async def read_document(request: Request, op_name: str) -> dict[str, Any] | None:
    """The body as a JSON object; None when it is empty."""
    raw = await read_body(request, op_name)
    if not raw.strip():
        return None
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequestContentError(f"Could not parse request body into json: {exc}") from None
    if not isinstance(body, dict):
        raise InvalidRequestContentError(
            "Could not parse request body into json: the body must be a JSON object"
        )
    return body


async def read_input(request: Request, op_name: str) -> dict[str, Any]:
    """The operation's input, parsed and checked against the model."""
    has_body = request.method in ("POST", "PUT")
    body = await read_document(request, op_name) if has_body else None
    values = parse_input(op_name, request.path_params, request.query_params, request.headers, body)
    validate(op_name, values)
    return values
