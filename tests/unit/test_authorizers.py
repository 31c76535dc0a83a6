"""Lambda REQUEST authorizers: events, answers, policies, caching, failures — with an
in-memory function standing for the Invoker."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from ember.clock import ManualClock
from ember.errors import TooManyRequestsError
from ember.gateway.authorizers import AuthorizerEngine, AuthRequest, Decision, identity, policy

ROUTE_ARN = "arn:aws:execute-api:us-east-1:123456789012:api1/prod/GET/items/7"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:auth"
URI = f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{FUNCTION_ARN}/invocations"


def _authorizer(**changes: Any) -> dict[str, Any]:
    authorizer = {
        "AuthorizerId": "auth1",
        "AuthorizerType": "REQUEST",
        "AuthorizerUri": URI,
        "AuthorizerPayloadFormatVersion": "2.0",
        "EnableSimpleResponses": True,
        "AuthorizerResultTtlInSeconds": 0,
        "IdentitySource": ["$request.header.Authorization"],
        "Name": "auth",
    }
    authorizer.update(changes)
    return authorizer


def _request(**changes: Any) -> AuthRequest:
    request = AuthRequest(
        method="GET",
        raw_path="/prod/items/7",
        raw_query="a=1&a=2",
        headers={"authorization": "secret", "user-agent": "curl/8"},
        query={"a": "1,2"},
        cookies=("c=1",),
        path_params={"id": "7"},
        stage="prod",
        stage_variables={"tier": "gold"},
        route_key="GET /items/{id}",
        route_id="r1",
        route_arn=ROUTE_ARN,
        source_ip="127.0.0.1",
        user_agent="curl/8",
        api_id="api1",
        account_id="123456789012",
        domain_name="api1.execute-api.localhost",
        request_id="req-1",
        time_epoch_ms=1_700_000_000_123,
    )
    return dataclasses.replace(request, **changes)


@dataclasses.dataclass
class Result:
    payload: bytes
    function_error: str | None = None


class Function:
    """The authorizer function: answers with `answer(event)`; records every call."""

    def __init__(self, answer: Callable[[dict[str, Any]], Any]) -> None:
        self.answer = answer
        self.calls: list[tuple[str, str | None, dict[str, Any]]] = []
        self.hang = False

    async def invoke(self, name: str, qualifier: str | None, payload: bytes) -> Result:
        event = orjson.loads(payload)
        self.calls.append((name, qualifier, event))
        if self.hang:
            await asyncio.Event().wait()
        answer = self.answer(event)
        if isinstance(answer, Result):
            return answer
        if isinstance(answer, Exception):
            raise answer
        return Result(answer if isinstance(answer, bytes) else orjson.dumps(answer))


def _policy(effect: str, resource: Any, **extra: Any) -> dict[str, Any]:
    return {
        "principalId": "user-1",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}],
        },
        **extra,
    }


class World:
    def __init__(self, answer: Callable[[dict[str, Any]], Any], permissions: Any = None) -> None:
        self.clock = ManualClock()
        self.function = Function(answer)
        self.engine = AuthorizerEngine(
            self.function,
            self.clock,
            region="us-east-1",
            account="123456789012",
            permissions=permissions,
        )

    def decide(self, authorizer: dict[str, Any], request: AuthRequest | None = None) -> Decision:
        return asyncio.run(self.engine.decide(authorizer, [], request or _request()))


def _simple(authorized: bool) -> Callable[[dict[str, Any]], Any]:
    return lambda event: {"isAuthorized": authorized, "context": {"user": "u1", "n": 1}}


def test_simple_allow_passes_the_context() -> None:
    world = World(_simple(True))
    decision = world.decide(_authorizer())
    assert decision.allowed
    assert decision.context_for("2.0") == {"lambda": {"user": "u1", "n": 1}}
    v1 = decision.context_for("1.0")
    assert v1 is not None
    assert (v1["user"], v1["principalId"]) == ("u1", "")
    name, qualifier, event = world.function.calls[0]
    assert (name, qualifier) == ("auth", None)
    assert event["version"] == "2.0"
    assert event["type"] == "REQUEST"
    assert event["routeArn"] == ROUTE_ARN
    assert event["identitySource"] == ["secret"]
    assert event["routeKey"] == "GET /items/{id}"
    assert event["rawPath"] == "/prod/items/7"
    assert event["rawQueryString"] == "a=1&a=2"
    assert event["cookies"] == ["c=1"]
    assert event["queryStringParameters"] == {"a": "1,2"}
    assert event["pathParameters"] == {"id": "7"}
    assert event["stageVariables"] == {"tier": "gold"}
    context = event["requestContext"]
    assert context["http"] == {
        "method": "GET",
        "path": "/prod/items/7",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": "curl/8",
    }
    assert context["time"] == "14/Nov/2023:22:13:20 +0000"
    assert context["timeEpoch"] == 1_700_000_000_123
    assert (context["domainPrefix"], context["stage"]) == ("api1", "prod")


def test_simple_deny_is_forbidden() -> None:
    decision = World(_simple(False)).decide(_authorizer())
    assert (decision.status, orjson.loads(decision.body)) == (403, {"message": "Forbidden"})


def test_a_missing_identity_source_is_unauthorized_without_invoking() -> None:
    world = World(_simple(True))
    authorizer = _authorizer(
        IdentitySource=["$request.header.Authorization", "$request.querystring.missing"]
    )
    decision = world.decide(authorizer)
    assert (decision.status, orjson.loads(decision.body)) == (401, {"message": "Unauthorized"})
    assert world.function.calls == []
    empty = world.decide(_authorizer(), _request(headers={"authorization": ""}))
    assert empty.status == 401


def test_payload_1_0_event_and_policy_answer() -> None:
    world = World(lambda event: _policy("Allow", event["methodArn"], context={"k": "v"}))
    decision = world.decide(_authorizer(AuthorizerPayloadFormatVersion="1.0"))
    assert decision.allowed
    v1 = decision.context_for("1.0")
    assert v1 is not None
    assert (v1["k"], v1["principalId"]) == ("v", "user-1")
    assert isinstance(v1["integrationLatency"], int)
    assert decision.context_for("2.0") == {"lambda": {"k": "v"}}
    event = world.function.calls[0][2]
    assert event["version"] == "1.0"
    assert event["methodArn"] == ROUTE_ARN
    assert event["identitySource"] == event["authorizationToken"] == "secret"
    assert (event["resource"], event["path"], event["httpMethod"]) == (
        "/items/{id}",
        "/prod/items/7",
        "GET",
    )
    assert event["requestContext"]["resourceId"] == "r1"
    assert event["requestContext"]["identity"]["sourceIp"] == "127.0.0.1"


@pytest.mark.parametrize(
    ("resource", "allowed"),
    [
        (ROUTE_ARN, True),
        ("arn:aws:execute-api:us-east-1:123456789012:api1/*", True),
        ("arn:aws:execute-api:us-east-1:123456789012:api1/prod/GET/*", True),
        ("arn:aws:execute-api:us-east-1:123456789012:api1/*/GET/items/?", True),
        (["arn:aws:execute-api:*:*:other/*", ROUTE_ARN], True),
        ("arn:aws:execute-api:us-east-1:123456789012:api1/prod/POST/*", False),
        ("arn:aws:execute-api:us-east-1:123456789012:api1/prod/GET/items", False),
    ],
)
def test_policy_resources_with_wildcards(resource: Any, allowed: bool) -> None:
    decision = World(lambda event: _policy("Allow", resource)).decide(
        _authorizer(EnableSimpleResponses=False)
    )
    assert decision.allowed is allowed
    assert decision.status == (200 if allowed else 403)


def test_an_explicit_deny_wins() -> None:
    document = {
        "Statement": [
            {"Action": "execute-api:*", "Effect": "Allow", "Resource": "*"},
            {"Action": ["execute-api:Invoke"], "Effect": "Deny", "Resource": ROUTE_ARN},
        ]
    }
    assert not policy.allows(document, ROUTE_ARN)
    assert policy.allows(document, ROUTE_ARN.replace("/7", "/8"))


@pytest.mark.parametrize(
    "answer",
    [
        b"not json",
        b"[]",
        {"isAuthorized": "yes"},
        {"isAuthorized": True, "context": "x"},
        {},
    ],
)
def test_invalid_simple_answers_are_server_errors(answer: Any) -> None:
    decision = World(lambda event: answer).decide(_authorizer())
    assert (decision.status, orjson.loads(decision.body)) == (
        500,
        {"message": "Internal Server Error"},
    )


@pytest.mark.parametrize(
    "answer",
    [
        {"isAuthorized": True},  # a simple answer where a policy is expected
        {"policyDocument": {"Statement": [{"Effect": "Maybe", "Action": "*", "Resource": "*"}]}},
        {"policyDocument": {"Statement": [{"Effect": "Allow", "Resource": "*"}]}},
        {"policyDocument": "Allow"},
        _policy("Allow", "*", principalId=7),
    ],
)
def test_invalid_policy_answers_are_server_errors(answer: Any) -> None:
    decision = World(lambda event: answer).decide(_authorizer(EnableSimpleResponses=False))
    assert decision.status == 500


def test_function_errors_throttles_and_bad_uris_are_server_errors(
    caplog: pytest.LogCaptureFixture,
) -> None:
    failing = World(lambda event: Result(b'{"errorMessage":"boom"}', "Unhandled"))
    with caplog.at_level("WARNING", logger="ember.gateway"):
        assert failing.decide(_authorizer()).status == 500
    assert any("boom" in record.getMessage() for record in caplog.records)
    throttled = World(lambda event: TooManyRequestsError("Rate Exceeded."))
    assert throttled.decide(_authorizer()).status == 500
    assert throttled.decide(_authorizer(AuthorizerUri="arn:aws:lambda:nope")).status == 500
    other_region = URI.replace(":lambda:us-east-1:", ":lambda:eu-west-1:")
    assert throttled.decide(_authorizer(AuthorizerUri=other_region)).status == 500


def test_a_qualified_function_arn_invokes_that_qualifier() -> None:
    world = World(_simple(True))
    assert world.decide(_authorizer(AuthorizerUri=URI.replace(":auth/", ":auth:live/"))).allowed
    assert world.function.calls[0][:2] == ("auth", "live")


def test_a_hanging_authorizer_times_out_with_500() -> None:
    async def main() -> Decision:
        world = World(_simple(True))
        world.function.hang = True
        task = asyncio.create_task(world.engine.decide(_authorizer(), [], _request()))
        for _ in range(100):  # until the engine waits on the clock's timeout
            if world.clock.pending():
                break
            await asyncio.sleep(0)
        world.clock.advance(10)
        return await task

    assert asyncio.run(main()).status == 500


def test_answers_are_cached_by_identity_source_values() -> None:
    world = World(_simple(True))
    authorizer = _authorizer(AuthorizerResultTtlInSeconds=300)
    assert world.decide(authorizer).allowed
    assert world.decide(authorizer).allowed
    assert len(world.function.calls) == 1
    other = _request(headers={"authorization": "another"})
    assert world.decide(authorizer, other).allowed
    assert len(world.function.calls) == 2
    world.clock.advance(300)
    assert world.decide(authorizer).allowed
    assert len(world.function.calls) == 3
    world.engine.forget("auth1")
    assert world.decide(authorizer).allowed
    assert len(world.function.calls) == 4


def test_no_cache_with_ttl_0_or_without_identity_sources() -> None:
    world = World(_simple(True))
    for _ in range(2):
        assert world.decide(_authorizer()).allowed
        assert world.decide(
            _authorizer(AuthorizerResultTtlInSeconds=300, IdentitySource=[])
        ).allowed
    assert len(world.function.calls) == 4


def test_a_cached_policy_is_evaluated_again_for_each_route() -> None:
    world = World(lambda event: _policy("Allow", event["routeArn"]))
    authorizer = _authorizer(EnableSimpleResponses=False, AuthorizerResultTtlInSeconds=60)
    assert world.decide(authorizer).allowed
    elsewhere = _request(route_arn=ROUTE_ARN.replace("/GET/", "/DELETE/"))
    assert world.decide(authorizer, elsewhere).status == 403
    assert len(world.function.calls) == 1


def test_a_denied_answer_is_cached_too() -> None:
    world = World(_simple(False))
    authorizer = _authorizer(AuthorizerResultTtlInSeconds=60)
    assert world.decide(authorizer).status == 403
    assert world.decide(authorizer).status == 403
    assert len(world.function.calls) == 1


def test_without_permission_the_authorizer_is_not_invoked() -> None:
    asked: list[tuple[Any, ...]] = []

    class Policies:
        def allows(
            self,
            function: str,
            qualifier: str | None,
            action: str,
            principal: str,
            *,
            source_arn: str | None = None,
            source_account: str | None = None,
        ) -> bool:
            asked.append((function, qualifier, action, principal, source_arn, source_account))
            return False

    world = World(_simple(True), Policies())
    assert world.decide(_authorizer()).status == 500
    assert world.function.calls == []
    # With a credentials role, AWS invokes as the role: the resource policy is not asked.
    role = "arn:aws:iam::123456789012:role/invoker"
    assert world.decide(_authorizer(AuthorizerCredentialsArn=role)).allowed
    assert len(asked) == 1
    assert asked == [
        (
            "auth",
            None,
            "lambda:InvokeFunction",
            "apigateway.amazonaws.com",
            "arn:aws:execute-api:us-east-1:123456789012:api1/authorizers/auth1",
            "123456789012",
        )
    ]


def test_identity_source_expressions() -> None:
    request = _request(headers={"x-token": "h"})
    assert identity.evaluate("$request.header.X-Token", request) == "h"
    assert identity.evaluate("$request.querystring.a", request) == "1,2"
    assert identity.evaluate("$request.querystring.A", request) is None  # case-sensitive
    assert identity.evaluate("$stageVariables.tier", request) == "gold"
    assert identity.evaluate("$context.routeKey", request) == "GET /items/{id}"
    assert identity.evaluate("$context.identity.sourceIp", request) == "127.0.0.1"
    assert identity.evaluate("$context.nope", request) is None
    assert identity.evaluate("$request.body.x", request) is None
    assert identity.evaluate_all(["$context.stage", "$request.header.x-token"], request) == [
        "prod",
        "h",
    ]


def test_an_unknown_authorizer_type_is_a_server_error() -> None:
    assert World(_simple(True)).decide(_authorizer(AuthorizerType="COGNITO")).status == 500
