"""Payload format 1.0 for HTTP APIs: the event an integration hands its function and how the
function's answer is read (API Gateway: "Working with AWS Lambda proxy integrations for HTTP
APIs", format 1.0). Format 2.0 is gateway.payload's, shared with function URLs."""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import unquote

import orjson

from ember.gateway.payload import BadResponseError, HttpRequest, HttpResponse, clf_time, is_text

Header = tuple[bytes, bytes]
_HOP_BY_HOP = frozenset({b"content-length", b"transfer-encoding", b"connection", b"keep-alive"})
# What requestContext.authorizer holds on a route without an authorizer (AWS's example).
NO_AUTHORIZER: dict[str, Any] = {"claims": None, "scopes": None}


def event_v1(
    request: HttpRequest,
    *,
    request_id: str,
    time_ms: int,
    account_id: str,
    api_id: str,
    domain_name: str,
    route_key: str,
    resource_path: str,
    stage: str,
    path_parameters: dict[str, str],
    stage_variables: dict[str, str],
    authorizer: dict[str, Any] | None,
    identity: dict[str, Any] | None = None,
    extra_headers: tuple[tuple[str, str], ...] = (),
) -> dict[str, Any]:
    """`resource_path`: the route's path ("/items/{id}"), the request's for `$default`;
    `identity`: an AWS_IAM caller (requestContext.authorizer.iam's shape)."""
    headers: dict[str, str] = {}
    multi_headers: dict[str, list[str]] = {}
    for name, value in (*request.headers, *extra_headers):
        headers[name] = value  # the last value, as format 1.0 keeps it
        multi_headers.setdefault(name, []).append(value)
    query: dict[str, str] = {}
    multi_query: dict[str, list[str]] = {}
    for part in request.raw_query.split("&") if request.raw_query else ():
        if not part:
            continue
        name, _, value = part.partition("=")
        name, value = unquote(name), unquote(value)
        query[name] = value
        multi_query.setdefault(name, []).append(value)
    body: str | None = None
    encoded = False
    if request.body:
        if is_text(headers.get("content-type")):
            try:
                body = request.body.decode()
            except UnicodeDecodeError:
                encoded = True
        else:
            encoded = True
        if encoded:
            body = base64.b64encode(request.body).decode()
    user_agent = headers.get("user-agent")
    return {
        "version": "1.0",
        "resource": resource_path,
        "path": request.raw_path,
        "httpMethod": request.method,
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": multi_query or None,
        "requestContext": {
            "accountId": account_id,
            "apiId": api_id,
            "authorizer": authorizer if authorizer is not None else dict(NO_AUTHORIZER),
            "domainName": domain_name,
            "domainPrefix": domain_name.split(".", 1)[0],
            "extendedRequestId": request_id,
            "httpMethod": request.method,
            "identity": {
                "accessKey": identity.get("accessKey") if identity else None,
                "accountId": identity.get("accountId") if identity else None,
                "caller": identity.get("callerId") if identity else None,
                "cognitoAuthenticationProvider": None,
                "cognitoAuthenticationType": None,
                "cognitoIdentityId": None,
                "cognitoIdentityPoolId": None,
                "principalOrgId": None,
                "sourceIp": request.source_ip,
                "user": identity.get("userId") if identity else None,
                "userAgent": user_agent,
                "userArn": identity.get("userArn") if identity else None,
            },
            "path": request.raw_path,
            "protocol": request.protocol,
            "requestId": request_id,
            "requestTime": clf_time(time_ms),
            "requestTimeEpoch": time_ms,
            "resourceId": route_key,
            "resourcePath": resource_path,
            "stage": stage,
        },
        "pathParameters": path_parameters or None,
        "stageVariables": stage_variables or None,
        "body": body,
        "isBase64Encoded": encoded,
    }


def read_response_v1(payload: bytes) -> HttpResponse:
    """Format 1.0 answers must be `{"statusCode", "headers", "multiValueHeaders", "body",
    "isBase64Encoded"}`; anything else is a malformed response (AWS answers 500)."""
    try:
        doc = orjson.loads(payload)
    except orjson.JSONDecodeError:
        raise BadResponseError("the function's answer is not JSON") from None
    if not isinstance(doc, dict) or "statusCode" not in doc:
        raise BadResponseError("a format 1.0 answer needs statusCode")
    status = doc["statusCode"]
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise BadResponseError("statusCode is not an HTTP status")
    single = doc.get("headers") or {}
    multi = doc.get("multiValueHeaders") or {}
    if not isinstance(single, dict) or not isinstance(multi, dict):
        raise BadResponseError("headers and multiValueHeaders must be objects")
    headers: list[Header] = []
    for name, values in multi.items():
        if not isinstance(values, list):
            raise BadResponseError("multiValueHeaders values must be lists")
        headers += [(_name(name), _value(v)) for v in values if v is not None]
    taken = {name for name, _ in headers}
    # A name in both: multiValueHeaders' values win, as API Gateway merges them.
    for name, value in single.items():
        if _name(name) not in taken and value is not None:
            headers.append((_name(name), _value(value)))
    headers = [(k, v) for k, v in headers if k not in _HOP_BY_HOP]
    if not any(k == b"content-type" for k, _ in headers):
        headers.append((b"content-type", b"application/json"))
    body = doc.get("body")
    if body is None:
        raw = b""
    elif isinstance(body, str):
        raw = body.encode()
    else:
        raise BadResponseError("body must be a string")
    if doc.get("isBase64Encoded") is True and raw:
        try:
            raw = base64.b64decode(raw, validate=True)
        except binascii.Error:
            raise BadResponseError("body is not base64") from None
    return HttpResponse(status, headers, raw)


def _name(name: Any) -> bytes:
    return str(name).lower().encode("latin-1", "replace")


def _value(value: Any) -> bytes:
    if isinstance(value, bool):
        text = "true" if value else "false"
    else:
        text = value if isinstance(value, str) else str(value)
    return text.encode("latin-1", "replace")
