"""HTTP APIs' payload format 1.0 and the apigatewayv2 wire conversion (pure)."""

from __future__ import annotations

import base64

import pytest

from ember.gateway.apis import wire
from ember.gateway.apis.errors import BadRequestError
from ember.gateway.apis.events import event_v1, read_response_v1
from ember.gateway.payload import BadResponseError, HttpRequest


def _request(**changes: object) -> HttpRequest:
    fields: dict[str, object] = {
        "method": "POST",
        "raw_path": "/prod/items/7",
        "raw_query": "a=1&a=2&b=%20x",
        "headers": (("content-type", "text/plain"), ("x-a", "1"), ("x-a", "2")),
        "source_ip": "10.0.0.1",
        "protocol": "HTTP/1.1",
        "body": b"hello",
    }
    fields.update(changes)
    return HttpRequest(**fields)  # type: ignore[arg-type]


def _event(request: HttpRequest) -> dict[str, object]:
    return event_v1(
        request, request_id="rid", time_ms=1_583_348_638_390, account_id="123456789012",
        api_id="abc", domain_name="abc.execute-api.localhost", route_key="POST /items/{id}",
        resource_path="/items/{id}", stage="prod", path_parameters={"id": "7"},
        stage_variables={}, authorizer=None,
    )  # fmt: skip


def test_event_v1_shape() -> None:
    event = _event(_request())
    assert event["resource"] == "/items/{id}"
    assert event["path"] == "/prod/items/7"
    assert event["headers"] == {"content-type": "text/plain", "x-a": "2"}
    assert event["multiValueHeaders"] == {"content-type": ["text/plain"], "x-a": ["1", "2"]}
    assert event["queryStringParameters"] == {"a": "2", "b": " x"}
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"], "b": [" x"]}
    assert event["pathParameters"] == {"id": "7"}
    assert event["stageVariables"] is None
    assert event["body"] == "hello"
    assert event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert isinstance(context, dict)
    assert context["requestTime"] == "04/Mar/2020:19:03:58 +0000"
    assert context["authorizer"] == {"claims": None, "scopes": None}
    assert context["domainPrefix"] == "abc"
    assert context["resourceId"] == "POST /items/{id}"


def test_event_v1_binary_body_and_no_query() -> None:
    event = _event(_request(headers=(), raw_query="", body=b"\xff\x00"))
    assert event["body"] == base64.b64encode(b"\xff\x00").decode()
    assert event["isBase64Encoded"] is True
    assert event["queryStringParameters"] is None


def test_read_response_v1() -> None:
    answer = read_response_v1(
        b'{"statusCode": 201, "headers": {"X-One": "a", "Set-Cookie": "x"},'
        b' "multiValueHeaders": {"set-cookie": ["a=1", "b=2"]},'
        b' "body": "aGk=", "isBase64Encoded": true}'
    )
    assert answer.status == 201
    assert answer.body == b"hi"
    assert (b"set-cookie", b"a=1") in answer.headers
    assert (b"set-cookie", b"b=2") in answer.headers
    assert (b"set-cookie", b"x") not in answer.headers
    assert (b"x-one", b"a") in answer.headers
    assert (b"content-type", b"application/json") in answer.headers


@pytest.mark.parametrize(
    "payload",
    [
        b'"text"',
        b'{"body": "x"}',
        b'{"statusCode": "x"}',
        b"not json",
        b'{"statusCode": 200, "body": 1}',
    ],
)
def test_read_response_v1_refuses(payload: bytes) -> None:
    with pytest.raises(BadResponseError):
        read_response_v1(payload)


def test_wire_round_trip() -> None:
    body = wire.from_wire(
        "CreateAuthorizerRequest",
        {"name": "a", "authorizerType": "JWT", "identitySource": ["$request.header.A"],
         "jwtConfiguration": {"issuer": "https://i", "audience": ["x"]}, "unknown": 1},
    )  # fmt: skip
    assert body == {
        "Name": "a", "AuthorizerType": "JWT", "IdentitySource": ["$request.header.A"],
        "JwtConfiguration": {"Issuer": "https://i", "Audience": ["x"]},
    }  # fmt: skip
    out = wire.to_wire("GetAuthorizerResponse", {**body, "AuthorizerId": "x1"})
    assert out["jwtConfiguration"] == {"issuer": "https://i", "audience": ["x"]}
    assert out["authorizerId"] == "x1"


@pytest.mark.parametrize(
    ("shape", "value"),
    [
        ("CreateApiRequest", {"name": 1}),
        ("CreateApiRequest", {"protocolType": "GRPC"}),
        ("CreateIntegrationRequest", {"timeoutInMillis": 40}),
        ("CreateIntegrationRequest", {"timeoutInMillis": True}),
        ("CreateStageRequest", {"stageVariables": []}),
        ("CreateApiRequest", []),
    ],
)
def test_wire_refuses_wrong_types(shape: str, value: object) -> None:
    with pytest.raises(BadRequestError):
        wire.from_wire(shape, value)
