"""Errors in the JSON 1.0/1.1 protocols' wire shape (the `X-Amz-Target` services such as
CloudWatch Logs): `{"__type": code, "message": …}`. Lambda's REST-JSON shape is rendered by
`api.errors`, from Lambda's own model."""

from __future__ import annotations

import orjson

from ember.errors import LambdaError

JSON_1_1 = "application/x-amz-json-1.1"

Headers = list[tuple[bytes, bytes]]


def json_error(
    error: LambdaError, request_id: str, content_type: str = JSON_1_1
) -> tuple[int, Headers, bytes]:
    """Status, headers and body. JSON-protocol services answer every client fault with 400,
    authentication failures included (Lambda's REST API says 403 for those)."""
    status = 500 if error.fault == "Service" else 400
    body = orjson.dumps({"__type": error.code, "message": error.message})
    headers = [
        (b"content-type", content_type.encode()),
        (b"x-amzn-requestid", request_id.encode()),
    ]
    return status, headers, body


def query_compatible_error(
    error: LambdaError, type_name: str, query_code: str, status: int | None = None
) -> tuple[int, bytes, Headers]:
    """Status, body and extra headers of an awsQueryCompatible JSON service's error (SQS,
    CloudWatch): `__type` is the shape name botocore reads; `x-amzn-query-error:
    <query_code>;Sender|Receiver` (left out when `query_code` is empty) becomes the
    client's Error.Code. `status` defaults to 400 for client faults, 500 for ours."""
    if status is None:
        status = 500 if error.fault == "Service" else 400
    fault = "Sender" if error.fault == "User" else "Receiver"
    body = orjson.dumps({"__type": type_name, "message": error.message})
    extra = [(b"x-amzn-query-error", f"{query_code};{fault}".encode())] if query_code else []
    return status, body, extra
