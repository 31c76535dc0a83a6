"""Render every `LambdaError` in AWS's rest-json wire shape, in this one place.

The body follows the error's shape in botocore's model: its message member is `message`
for some shapes (InvalidParameterValueException, ResourceConflictException, …) and
`Message` for others (ResourceNotFoundException, ServiceException, …), `Type` is there when
the shape has it, and extra members (TooManyRequestsException's `Reason`) go where the
model puts them: in the body, or in a header (`retryAfterSeconds` as Retry-After).
"""

from __future__ import annotations

import functools
import uuid
from typing import Any

import orjson

from ember.api.model import service_model
from ember.errors import LambdaError


@functools.cache
def _members(code: str) -> dict[str, dict[str, Any]] | None:
    """The model's members of error shape `code`; None for errors the model does not list."""
    found = service_model()["shapes"].get(code)
    if found is None or not found.get("exception"):
        return None
    members: dict[str, dict[str, Any]] = found["members"]
    return members


def error_body(error: LambdaError) -> bytes:
    members = _members(error.code)
    if members is None:
        # Errors of AWS's request framework (ValidationException, UnknownOperationException,
        # RequestEntityTooLargeException, AccessDeniedException) are outside the Lambda
        # model; AWS answers them with a bare lower-case `message` and no `Type`.
        return orjson.dumps({"message": error.message, **error.extra})
    body: dict[str, Any] = {}
    if "Type" in members and error.typed:
        body["Type"] = error.fault
    body["message" if "message" in members else "Message"] = error.message
    for name, value in error.extra.items():
        if members.get(name, {}).get("location") != "header":
            body[name] = value
    return orjson.dumps(body)


def error_headers(error: LambdaError, request_id: str | None = None) -> list[tuple[bytes, bytes]]:
    headers = [
        (b"content-type", b"application/json"),
        (b"x-amzn-errortype", error.code.encode()),
        (b"x-amzn-requestid", (request_id or str(uuid.uuid4())).encode()),
    ]
    for name, ref in (_members(error.code) or {}).items():
        if ref.get("location") == "header" and name in error.extra:
            headers.append((ref["locationName"].lower().encode(), str(error.extra[name]).encode()))
    return headers
