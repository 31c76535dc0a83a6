"""apigatewayv2's errors, as `LambdaError`s rendered in its REST-JSON shape.

    LambdaError
    ├── BadRequestError      (400)  BadRequestException
    ├── NotFoundError        (404)  NotFoundException, with resourceType
    └── ConflictError        (409)  ConflictException

The body is `{"message": …}` (the model's `Message` member is located as `message`) and
the code travels in `x-amzn-ErrorType`, which botocore's rest-json parser reads first.
"""

from __future__ import annotations

import uuid

import orjson

from ember.errors import LambdaError


class BadRequestError(LambdaError):
    code = "BadRequestException"
    status = 400
    fault = "User"


class NotFoundError(LambdaError):
    code = "NotFoundException"
    status = 404
    fault = "User"

    def __init__(self, message: str, resource_type: str) -> None:
        super().__init__(message, resourceType=resource_type)


class ConflictError(LambdaError):
    code = "ConflictException"
    status = 409
    fault = "User"


def render(
    error: LambdaError, request_id: str | None = None
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Status, headers and body of `error` as apigatewayv2 answers it."""
    body = orjson.dumps({"message": error.message, **error.extra})
    headers = [
        (b"content-type", b"application/json"),
        (b"x-amzn-errortype", error.code.encode()),
        (b"x-amzn-requestid", (request_id or str(uuid.uuid4())).encode()),
    ]
    return error.status, headers, body
