"""Lambda REQUEST authorizers: the event API Gateway sends the authorizer function
(payload format 1.0 or 2.0), the function's invocation, and the reading of its answer
(a simple `{"isAuthorized": ...}` or an IAM policy)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import orjson

from ember.gateway.authorizers import policy
from ember.gateway.authorizers.cache import Answer
from ember.gateway.authorizers.model import AuthRequest

# arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{function arn}/invocations
_URI = re.compile(
    r"arn:aws[\w-]*:apigateway:[\w-]+:lambda:path/2015-03-31/functions/(?P<arn>[^/]+)/invocations"
)


class AuthorizerFailure(Exception):
    """The authorizer could not answer, or answered nonsense: 500 to the client."""


class InvokeResult(Protocol):
    @property
    def payload(self) -> bytes: ...
    @property
    def function_error(self) -> str | None: ...


class Invoke(Protocol):
    """What the engine needs of `ember.invoke.sync.Invoker`."""

    async def invoke(self, name: str, qualifier: str | None, payload: bytes) -> InvokeResult: ...


def function_arn(authorizer_uri: str) -> str:
    """The function ARN inside an AuthorizerUri; AuthorizerFailure if it is not one."""
    match = _URI.fullmatch(authorizer_uri or "")
    if match is None:
        raise AuthorizerFailure(f"AuthorizerUri {authorizer_uri!r} names no Lambda function")
    return match.group("arn")


def event_v2(request: AuthRequest, identity: Sequence[str]) -> dict[str, Any]:
    """The payload format 2.0 event, as API Gateway documents it."""
    event: dict[str, Any] = {
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": request.route_arn,
        "identitySource": list(identity),
        "routeKey": request.route_key,
        "rawPath": request.raw_path,
        "rawQueryString": request.raw_query,
    }
    if request.cookies:
        event["cookies"] = list(request.cookies)
    event["headers"] = dict(request.headers)
    if request.query:
        event["queryStringParameters"] = dict(request.query)
    event["requestContext"] = {
        "accountId": request.account_id,
        "apiId": request.api_id,
        "domainName": request.domain_name,
        "domainPrefix": request.domain_prefix,
        "http": {
            "method": request.method,
            "path": request.raw_path,
            "protocol": request.protocol,
            "sourceIp": request.source_ip,
            "userAgent": request.user_agent,
        },
        "requestId": request.request_id,
        "routeKey": request.route_key,
        "stage": request.stage,
        "time": request.time,
        "timeEpoch": request.time_epoch_ms,
    }
    if request.path_params:
        event["pathParameters"] = dict(request.path_params)
    if request.stage_variables:
        event["stageVariables"] = dict(request.stage_variables)
    return event


def event_v1(request: AuthRequest, identity: Sequence[str]) -> dict[str, Any]:
    """The payload format 1.0 event (REST APIs' REQUEST authorizer shape)."""
    joined = ",".join(identity)
    return {
        "version": "1.0",
        "type": "REQUEST",
        "methodArn": request.route_arn,
        "identitySource": joined,
        "authorizationToken": joined,
        "resource": request.resource_path,
        "path": request.raw_path,
        "httpMethod": request.method,
        "headers": dict(request.headers),
        "queryStringParameters": dict(request.query),
        "pathParameters": dict(request.path_params),
        "stageVariables": dict(request.stage_variables),
        "requestContext": {
            "path": request.raw_path,
            "accountId": request.account_id,
            "resourceId": request.route_id,
            "stage": request.stage,
            "requestId": request.request_id,
            "identity": {"sourceIp": request.source_ip, "userAgent": request.user_agent},
            "resourcePath": request.resource_path,
            "httpMethod": request.method,
            "apiId": request.api_id,
        },
    }


def read_answer(payload: bytes, *, simple: bool, route_arn: str) -> Answer:
    """The authorizer function's answer; AuthorizerFailure when it is not a valid one."""
    try:
        answer = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise AuthorizerFailure("the authorizer's answer is not JSON") from exc
    if not isinstance(answer, dict):
        raise AuthorizerFailure("the authorizer's answer is not a JSON object")
    context = answer.get("context")
    if context is not None and not isinstance(context, dict):
        raise AuthorizerFailure("the authorizer's context is not an object")
    if simple:
        authorized = answer.get("isAuthorized")
        if not isinstance(authorized, bool):
            raise AuthorizerFailure("the authorizer's answer has no boolean isAuthorized")
        return Answer(authorized=authorized, context=context)
    document = answer.get("policyDocument")
    try:
        policy.allows(document, route_arn)  # malformed documents fail now, not when cached
    except policy.PolicyError as exc:
        raise AuthorizerFailure(f"the authorizer's policy is invalid: {exc}") from exc
    principal = answer.get("principalId")
    if principal is not None and not isinstance(principal, str):
        raise AuthorizerFailure("the authorizer's principalId is not a string")
    assert isinstance(document, dict)
    return Answer(policy=document, principal_id=principal, context=context)


def allowed(answer: Answer, route_arn: str) -> bool:
    if answer.policy is None:
        return answer.authorized
    return policy.allows(answer.policy, route_arn)


def contexts(answer: Answer, latency_ms: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """requestContext.authorizer for payload 2.0 and 1.0 integrations."""
    context: Mapping[str, Any] = answer.context or {}
    v1 = {**context, "principalId": answer.principal_id or "", "integrationLatency": latency_ms}
    return {"lambda": dict(answer.context) if answer.context is not None else None}, v1
