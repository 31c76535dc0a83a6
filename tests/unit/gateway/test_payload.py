"""Payload format 2.0 as function URLs build it and read the answer (AWS's documented and
recorded shapes)."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest

from ember.gateway import payload
from ember.gateway.payload import BadResponseError, HttpRequest

TIME_MS = 1583348638390  # 04/Mar/2020:19:03:58 +0000


def scope(
    method: str = "POST",
    raw_path: bytes = b"/my/path",
    query: bytes = b"",
    headers: list[tuple[bytes, bytes]] | None = None,
) -> dict[str, Any]:
    return {
        "type": "http",
        "method": method,
        "path": raw_path.decode(),
        "raw_path": raw_path,
        "query_string": query,
        "headers": headers or [],
        "client": ("10.1.2.3", 5555),
        "http_version": "1.1",
    }


def build(request: HttpRequest, **kwargs: Any) -> dict[str, Any]:
    defaults: dict[str, Any] = {
        "request_id": "req-1",
        "time_ms": TIME_MS,
        "account_id": "anonymous",
        "api_id": "abc",
        "domain_name": "abc.lambda-url.us-east-1.localhost",
        "domain_prefix": "abc",
    }
    return payload.event(request, **{**defaults, **kwargs})


def test_event_has_aws_members_in_aws_order() -> None:
    request = HttpRequest.from_scope(
        scope(
            query=b"parameter1=value1&parameter1=value2&parameter2=value",
            headers=[
                (b"host", b"abc.lambda-url.us-east-1.localhost:9001"),
                (b"user-agent", b"agent"),
                (b"content-type", b"text/plain"),
                (b"x-multi", b"a"),
                (b"x-multi", b"b"),
                (b"cookie", b"cookie1=1; cookie2=2"),
            ],
        ),
        b"Hello from client!",
    )
    doc = build(request)
    assert list(doc) == [
        "version", "routeKey", "rawPath", "rawQueryString", "cookies", "headers",
        "queryStringParameters", "requestContext", "body", "isBase64Encoded",
    ]  # fmt: skip
    assert doc["version"] == "2.0"
    assert doc["routeKey"] == "$default"
    assert doc["rawPath"] == "/my/path"
    assert doc["cookies"] == ["cookie1=1", "cookie2=2"]
    assert doc["headers"] == {
        "host": "abc.lambda-url.us-east-1.localhost:9001",
        "user-agent": "agent",
        "content-type": "text/plain",
        "x-multi": "a,b",
    }
    assert doc["queryStringParameters"] == {"parameter1": "value1,value2", "parameter2": "value"}
    assert doc["requestContext"] == {
        "accountId": "anonymous",
        "apiId": "abc",
        "domainName": "abc.lambda-url.us-east-1.localhost",
        "domainPrefix": "abc",
        "http": {
            "method": "POST",
            "path": "/my/path",
            "protocol": "HTTP/1.1",
            "sourceIp": "10.1.2.3",
            "userAgent": "agent",
        },
        "requestId": "req-1",
        "routeKey": "$default",
        "stage": "$default",
        "time": "04/Mar/2020:19:03:58 +0000",
        "timeEpoch": TIME_MS,
    }
    assert doc["body"] == "Hello from client!"
    assert doc["isBase64Encoded"] is False


def test_no_body_no_query_no_cookies_leaves_them_out() -> None:
    doc = build(HttpRequest.from_scope(scope(method="GET"), b""))
    assert "body" not in doc
    assert "cookies" not in doc
    assert "queryStringParameters" not in doc
    assert doc["rawQueryString"] == ""
    assert doc["isBase64Encoded"] is False
    assert "pathParameters" not in doc
    assert "stageVariables" not in doc
    assert "authorizer" not in doc["requestContext"]


@pytest.mark.parametrize(
    ("content_type", "text"),
    [
        (b"application/json", True),
        (b"application/json; charset=utf-8", True),
        (b"text/html", True),
        (b"application/vnd.api+json", True),
        (b"application/xml", True),
        (b"application/octet-stream", False),
        (b"multipart/form-data; boundary=x", False),
        (b"application/x-www-form-urlencoded", False),
        (b"image/png", False),
    ],
)
def test_binary_bodies_travel_as_base64(content_type: bytes, text: bool) -> None:
    body = b"a=1&b=\xff" if not text else b'{"a": 1}'
    request = HttpRequest.from_scope(scope(headers=[(b"content-type", content_type)]), body)
    doc = build(request)
    assert doc["isBase64Encoded"] is not text
    assert (doc["body"] if text else base64.b64decode(doc["body"])) == (
        body.decode() if text else body
    )


def test_text_type_that_is_not_utf8_goes_as_base64() -> None:
    request = HttpRequest.from_scope(scope(headers=[(b"content-type", b"text/plain")]), b"\xff")
    doc = build(request)
    assert doc["isBase64Encoded"] is True
    assert base64.b64decode(doc["body"]) == b"\xff"


def test_query_values_are_decoded_raw_string_kept() -> None:
    request = HttpRequest.from_scope(scope(query=b"q=a%20b&empty&x=%2F"), b"")
    doc = build(request)
    assert doc["rawQueryString"] == "q=a%20b&empty&x=%2F"
    assert doc["queryStringParameters"] == {"q": "a b", "empty": "", "x": "/"}


def test_http_api_members_pass_through() -> None:
    request = HttpRequest.from_scope(scope(raw_path=b"/prod/items/7"), b"")
    doc = build(
        request,
        route_key="GET /items/{id}",
        stage="prod",
        path="/prod/items/7",
        authorizer={"jwt": {"claims": {"sub": "x"}, "scopes": None}},
        path_parameters={"id": "7"},
        stage_variables={"v": "1"},
        extra_headers=[("x-forwarded-proto", "http")],
    )
    assert doc["routeKey"] == "GET /items/{id}"
    assert doc["pathParameters"] == {"id": "7"}
    assert doc["stageVariables"] == {"v": "1"}
    assert doc["headers"]["x-forwarded-proto"] == "http"
    context = doc["requestContext"]
    assert context["authorizer"] == {"jwt": {"claims": {"sub": "x"}, "scopes": None}}
    assert context["stage"] == "prod"
    assert context["routeKey"] == "GET /items/{id}"
    assert context["http"]["path"] == "/prod/items/7"


def test_encoded_event_is_json() -> None:
    doc = build(HttpRequest.from_scope(scope(), b"x"))
    assert orjson.loads(payload.encode(doc)) == doc


# -- the function's answer ------------------------------------------------------------------


def header(answer: payload.HttpResponse, name: bytes) -> list[bytes]:
    return [v for k, v in answer.headers if k == name]


@pytest.mark.parametrize(
    ("returned", "body"),
    [
        # AWS's recorded answers (test_lambda_url_invocation): status 200, application/json.
        (b'{"hello":"world"}', b'{"hello":"world"}'),
        (b'["hello",3,true]', b'["hello",3,true]'),
        (b'"hello"', b"hello"),
        (b"3", b"3"),
        (b"3.1", b"3.1"),
        (b"true", b"true"),
        (b"null", b"null"),
    ],
)
def test_anything_but_a_response_is_the_body(returned: bytes, body: bytes) -> None:
    answer = payload.read_response(returned)
    assert answer.status == 200
    assert header(answer, b"content-type") == [b"application/json"]
    assert answer.body == body


def test_a_response_object_sets_status_headers_cookies_and_body() -> None:
    answer = payload.read_response(
        orjson.dumps(
            {
                "statusCode": 201,
                "headers": {"Content-Type": "text/plain", "My-Custom-Header": "Custom Value"},
                "body": "hello",
                "cookies": ["Cookie_1=Value1; Max-Age=78000", "Cookie_2=Value2"],
                "isBase64Encoded": False,
            }
        )
    )
    assert answer.status == 201
    assert header(answer, b"content-type") == [b"text/plain"]
    assert header(answer, b"my-custom-header") == [b"Custom Value"]
    assert header(answer, b"set-cookie") == [b"Cookie_1=Value1; Max-Age=78000", b"Cookie_2=Value2"]
    assert answer.body == b"hello"


def test_response_defaults_and_string_status() -> None:
    # AWS's recorded answer: {"statusCode": 200, "body": "body123"} is application/json.
    answer = payload.read_response(b'{"statusCode": "418", "body": "i\'m a teapot"}')
    assert answer.status == 418
    assert header(answer, b"content-type") == [b"application/json"]
    assert answer.body == b"i'm a teapot"
    assert payload.read_response(b'{"statusCode": 204}').body == b""


def test_base64_body_is_decoded() -> None:
    encoded = base64.b64encode(b"\x89PNG").decode()
    answer = payload.read_response(
        orjson.dumps({"statusCode": 200, "body": encoded, "isBase64Encoded": True})
    )
    assert answer.body == b"\x89PNG"


def test_hop_by_hop_headers_from_the_function_are_dropped() -> None:
    answer = payload.read_response(
        b'{"statusCode": 200, "headers": {"Content-Length": "99", "X-N": 5}, "body": "ok"}'
    )
    assert header(answer, b"content-length") == []
    assert header(answer, b"x-n") == [b"5"]


@pytest.mark.parametrize(
    "returned",
    [
        b"not json",
        b'{"statusCode": "abc"}',
        b'{"statusCode": true}',
        b'{"statusCode": 999}',
        b'{"statusCode": 200, "headers": ["x"]}',
        b'{"statusCode": 200, "body": "@@@", "isBase64Encoded": true}',
    ],
)
def test_unmappable_answers_raise(returned: bytes) -> None:
    with pytest.raises(BadResponseError):
        payload.read_response(returned)
