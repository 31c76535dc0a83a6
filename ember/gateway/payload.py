"""Payload format 2.0: the event a function URL or an HTTP API integration hands a function,
and how either reads the function's answer back into an HTTP response (AWS: "Invoking Lambda
function URLs", and API Gateway's "payload format version 2.0").

Shared by gateway.urls (function URLs) and gateway.apis (HTTP APIs, PayloadFormatVersion
2.0), which pass in what only they know. The functions:

- `HttpRequest.from_scope(scope, body) -> HttpRequest`: the parts of an ASGI HTTP request the
  event names (method, raw path and query, headers in arrival order, source IP, protocol,
  body bytes). `request.header(name)` reads one (lower-case name, repeats comma-joined).
- `event(request, *, request_id, time_ms, account_id, api_id, domain_name, domain_prefix,
  route_key="$default", stage="$default", raw_path=None, path=None, authorizer=None,
  path_parameters=None, stage_variables=None, extra_headers=()) -> dict`: the event, members
  in AWS's order. `raw_path`/`path` override rawPath / requestContext.http.path (HTTP APIs:
  the stage prefix); `authorizer` is requestContext.authorizer as is ({"iam": {...}},
  {"jwt": {...}}, {"lambda": {...}}); `path_parameters`/`stage_variables` are left out when
  None (function URLs never have them); `extra_headers` are (name, value) pairs added as if
  the client had sent them (x-forwarded-*, x-amzn-trace-id). Cookie headers become
  `cookies`; `queryStringParameters` and `body` are left out when empty, as AWS does.
- `encode(event) -> bytes`: the event as the invocation payload (compact JSON).
- `is_text(content_type) -> bool`: whether a body of that type travels as text (else
  base64 with isBase64Encoded).
- `read_response(payload) -> HttpResponse`: the function's answer as AWS reads format 2.0:
  a dict with statusCode (headers, cookies, body, isBase64Encoded) is a response; any other
  JSON is the body of a 200 application/json answer (a JSON string's value itself, anything
  else its text as returned). Raises BadResponseError for an answer AWS cannot map (function
  URLs answer 502, HTTP APIs 500).
- `HttpResponse(status, headers, body)`: headers as (lower-case bytes, bytes) pairs, without
  content-length (the door adds it).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote

import orjson

Scope = dict[str, Any]
Header = tuple[bytes, bytes]

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# Media types whose bodies go to the function as text; every other type (and none) as
# base64 — multipart and form bodies arrive base64-encoded on AWS too.
_TEXT_TYPES = frozenset(
    {
        "application/json",
        "application/xml",
        "application/javascript",
        "application/ecmascript",
        "application/graphql",
        "application/yaml",
        "application/x-yaml",
        "application/x-ndjson",
    }
)
# Set by the door from the real body, never taken from the function's headers.
_HOP_BY_HOP = frozenset({b"content-length", b"transfer-encoding", b"connection", b"keep-alive"})
_JSON = b"application/json"


class BadResponseError(Exception):
    """A function answer that payload format 2.0 cannot turn into an HTTP response."""


@dataclasses.dataclass(frozen=True, slots=True)
class HttpRequest:
    method: str
    raw_path: str  # as it came, percent-encoding kept
    raw_query: str
    headers: tuple[tuple[str, str], ...]  # (lower-case name, value) in arrival order
    source_ip: str
    protocol: str  # "HTTP/1.1"
    body: bytes

    @classmethod
    def from_scope(cls, scope: Scope, body: bytes) -> HttpRequest:
        raw = scope.get("raw_path")
        client = scope.get("client")
        return cls(
            method=scope["method"],
            raw_path=raw.decode("latin-1").split("?", 1)[0] if raw else scope["path"],
            raw_query=scope["query_string"].decode("latin-1"),
            headers=tuple(
                (name.decode("latin-1").lower(), value.decode("latin-1"))
                for name, value in scope["headers"]
            ),
            source_ip=client[0] if client else "",
            protocol=f"HTTP/{scope.get('http_version', '1.1')}",
            body=body,
        )

    def header(self, name: str) -> str | None:
        """One header's value (repeats comma-joined), `name` in lower case."""
        found = [value for key, value in self.headers if key == name]
        return ",".join(found) if found else None


def is_text(content_type: str | None) -> bool:
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return (
        media.startswith("text/")
        or media in _TEXT_TYPES
        or media.endswith("+json")
        or media.endswith("+xml")
    )


def event(
    request: HttpRequest,
    *,
    request_id: str,
    time_ms: int,
    account_id: str,
    api_id: str,
    domain_name: str,
    domain_prefix: str,
    route_key: str = "$default",
    stage: str = "$default",
    raw_path: str | None = None,
    path: str | None = None,
    authorizer: dict[str, Any] | None = None,
    path_parameters: dict[str, str] | None = None,
    stage_variables: dict[str, str] | None = None,
    extra_headers: Iterable[tuple[str, str]] = (),
) -> dict[str, Any]:
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in (*request.headers, *extra_headers):
        if name == "cookie":
            cookies += [c.strip() for c in value.split(";") if c.strip()]
        elif name in headers:
            headers[name] = f"{headers[name]},{value}"
        else:
            headers[name] = value
    doc: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": raw_path if raw_path is not None else request.raw_path,
        "rawQueryString": request.raw_query,
    }
    if cookies:
        doc["cookies"] = cookies
    doc["headers"] = headers
    query = query_parameters(request.raw_query)
    if query:
        doc["queryStringParameters"] = query
    if path_parameters is not None:
        doc["pathParameters"] = path_parameters
    context: dict[str, Any] = {"accountId": account_id, "apiId": api_id}
    if authorizer is not None:
        context["authorizer"] = authorizer
    context.update(
        domainName=domain_name,
        domainPrefix=domain_prefix,
        http={
            "method": request.method,
            "path": path if path is not None else (raw_path or request.raw_path),
            "protocol": request.protocol,
            "sourceIp": request.source_ip,
            "userAgent": headers.get("user-agent", ""),
        },
        requestId=request_id,
        routeKey=route_key,
        stage=stage,
        time=clf_time(time_ms),
        timeEpoch=time_ms,
    )
    doc["requestContext"] = context
    if request.body:
        if is_text(headers.get("content-type")):
            try:
                doc["body"] = request.body.decode()
                doc["isBase64Encoded"] = False
            except UnicodeDecodeError:  # declared text, but not UTF-8: as binary
                doc["body"] = base64.b64encode(request.body).decode()
                doc["isBase64Encoded"] = True
        else:
            doc["body"] = base64.b64encode(request.body).decode()
            doc["isBase64Encoded"] = True
    else:
        doc["isBase64Encoded"] = False
    if stage_variables is not None:
        doc["stageVariables"] = stage_variables
    return doc


def encode(doc: dict[str, Any]) -> bytes:
    return orjson.dumps(doc)


def query_parameters(raw_query: str) -> dict[str, str]:
    """queryStringParameters: each name once, repeated values comma-joined, decoded."""
    found: dict[str, str] = {}
    if not raw_query:
        return found
    for part in raw_query.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        name, value = unquote(name), unquote(value)
        found[name] = f"{found[name]},{value}" if name in found else value
    return found


def clf_time(time_ms: int) -> str:
    """requestContext.time: `12/Mar/2020:19:03:58 +0000` (UTC, English month names)."""
    t = time.gmtime(time_ms / 1000)
    return (
        f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year}:"
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"
    )


@dataclasses.dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    headers: list[Header]
    body: bytes


def read_response(payload: bytes) -> HttpResponse:
    try:
        doc = orjson.loads(payload)
    except orjson.JSONDecodeError:
        raise BadResponseError("the function's answer is not JSON") from None
    if isinstance(doc, dict) and "statusCode" in doc:
        return _structured(doc)
    if isinstance(doc, str):
        # A JSON string is the body itself (AWS answers `"hello"` with `hello`).
        return HttpResponse(200, [(b"content-type", _JSON)], doc.encode())
    return HttpResponse(200, [(b"content-type", _JSON)], payload)


def _structured(doc: dict[str, Any]) -> HttpResponse:
    status = _status(doc["statusCode"])
    headers: list[Header] = []
    typed = False
    wire_headers = doc.get("headers") or {}
    if not isinstance(wire_headers, dict):
        raise BadResponseError("headers is not an object")
    for name, value in wire_headers.items():
        key = str(name).lower().encode("latin-1", "replace")
        if key in _HOP_BY_HOP or value is None:
            continue
        typed = typed or key == b"content-type"
        headers.append((key, _text(value).encode("latin-1", "replace")))
    if not typed:
        headers.append((b"content-type", _JSON))  # AWS's default, even for plain text
    cookies = doc.get("cookies") or []
    if not isinstance(cookies, list):
        raise BadResponseError("cookies is not a list")
    headers += [(b"set-cookie", _text(c).encode("latin-1", "replace")) for c in cookies]
    body = doc.get("body")
    if body is None:
        raw = b""
    elif isinstance(body, str):
        raw = body.encode()
    else:
        raw = orjson.dumps(body)
    if doc.get("isBase64Encoded") is True and raw:
        try:
            raw = base64.b64decode(raw, validate=True)
        except binascii.Error:
            raise BadResponseError("body is not base64") from None
    return HttpResponse(status, headers, raw)


def _status(value: Any) -> int:
    if isinstance(value, bool):
        raise BadResponseError("statusCode is not a number")
    try:
        status = int(value)  # AWS takes "418" as well as 418
    except (TypeError, ValueError):
        raise BadResponseError("statusCode is not a number") from None
    if not 100 <= status <= 599:
        raise BadResponseError(f"statusCode {status} is not an HTTP status")
    return status


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value) if isinstance(value, int | float) else orjson.dumps(value).decode()
