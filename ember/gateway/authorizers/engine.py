"""`AuthorizerEngine`: one decision per request for a route behind an authorizer."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import orjson

from ember.clock import Clock
from ember.control.names import parse_function_name
from ember.errors import LambdaError
from ember.gateway.authorizers import identity, lambdas
from ember.gateway.authorizers.cache import Answer, Key, ResultCache
from ember.gateway.authorizers.jwks import MIN_REFRESH, Fetch, IssuerKeys, fetch_json
from ember.gateway.authorizers.jwt import (
    JwtValidator,
    ScopeError,
    TokenError,
    bearer,
    claims_context,
)
from ember.gateway.authorizers.lambdas import AuthorizerFailure, Invoke
from ember.gateway.authorizers.model import AuthRequest, Decision
from ember.gateway.authorizers.policy import PolicyError

log = logging.getLogger("ember.gateway")

AUTHORIZER_TIMEOUT = 10.0  # seconds: API Gateway's limit for a Lambda authorizer
DEFAULT_JWT_SOURCE = "$request.header.Authorization"
APIGATEWAY = "apigateway.amazonaws.com"


class Permissions(Protocol):
    """What the engine needs of the functions' resource policies."""

    def allows(
        self,
        function: str,
        qualifier: str | None,
        action: str,
        principal: str,
        *,
        source_arn: str | None = None,
        source_account: str | None = None,
    ) -> bool: ...


class AuthorizerEngine:
    """Decides requests for JWT and Lambda REQUEST authorizers (see the package docstring).

    `permissions`: the functions' resource policies; when given, a Lambda authorizer runs
    only if its function allows `lambda:InvokeFunction` to apigateway.amazonaws.com for the
    authorizer's ARN (else 500, as on AWS). `fetch`: how JWKS documents are fetched.
    """

    def __init__(
        self,
        invoker: Invoke,
        clock: Clock,
        *,
        region: str,
        account: str,
        permissions: Permissions | None = None,
        fetch: Fetch = fetch_json,
        min_refresh: float = MIN_REFRESH,
    ) -> None:
        self._invoker = invoker
        self._clock = clock
        self._region = region
        self._account = account
        self._permissions = permissions
        self._keys = IssuerKeys(clock, fetch, min_refresh=min_refresh)
        self._jwt = JwtValidator(self._keys, clock)
        self._results = ResultCache(clock)

    async def decide(
        self, authorizer: Mapping[str, Any], route_scopes: Sequence[str], request: AuthRequest
    ) -> Decision:
        kind = authorizer.get("AuthorizerType")
        if kind == "JWT":
            return await self._decide_jwt(authorizer, route_scopes or (), request)
        if kind == "REQUEST":
            return await self._decide_lambda(authorizer, request)
        return self._failed(authorizer, request, f"unknown AuthorizerType {kind!r}")

    def forget(self, authorizer_id: str) -> None:
        """Drop cached answers of an authorizer that was updated or deleted."""
        self._results.forget(authorizer_id)

    # --- JWT -------------------------------------------------------------------------------

    async def _decide_jwt(
        self, authorizer: Mapping[str, Any], route_scopes: Sequence[str], request: AuthRequest
    ) -> Decision:
        sources = authorizer.get("IdentitySource") or [DEFAULT_JWT_SOURCE]
        value = identity.evaluate(sources[0], request)
        if value is None:
            return Decision.unauthorized("no token in the identity source")
        config = authorizer.get("JwtConfiguration") or {}
        issuer = config.get("Issuer")
        if not isinstance(issuer, str) or not issuer:
            return self._failed(authorizer, request, "the JWT authorizer has no Issuer")
        audiences = config.get("Audience") or []
        try:
            verified = await self._jwt.verify(bearer(value), issuer, audiences, route_scopes)
        except TokenError as exc:
            return Decision.unauthorized(
                str(exc), _challenge(route_scopes, "invalid_token", str(exc))
            )
        except ScopeError as exc:
            return Decision.forbidden(
                str(exc), _challenge(route_scopes, "insufficient_scope", str(exc))
            )
        claims = claims_context(verified.claims)
        # AWS passes the token's scopes when the route requires scopes, else null.
        scopes = list(verified.scopes) if route_scopes else None
        return Decision.allow(
            {"jwt": {"claims": claims, "scopes": scopes}}, {"claims": claims, "scopes": scopes}
        )

    # --- Lambda REQUEST --------------------------------------------------------------------

    async def _decide_lambda(self, authorizer: Mapping[str, Any], request: AuthRequest) -> Decision:
        sources = authorizer.get("IdentitySource") or []
        values = identity.evaluate_all(sources, request)
        if values is None:
            return Decision.unauthorized("an identity source is missing from the request")
        version = authorizer.get("AuthorizerPayloadFormatVersion") or "2.0"
        simple = version == "2.0" and bool(authorizer.get("EnableSimpleResponses"))
        ttl = authorizer.get("AuthorizerResultTtlInSeconds") or 0
        # Caching needs at least one identity source (the cache key), as on AWS.
        key: Key | None = None
        answer: Answer | None = None
        if ttl > 0 and sources:
            fingerprint = (authorizer.get("AuthorizerUri"), version, simple, tuple(sources))
            key = (str(authorizer.get("AuthorizerId")), fingerprint, tuple(values))
            answer = self._results.get(key)
        latency = 0
        if answer is None:
            started = self._clock.monotonic()
            try:
                answer = await self._invoke(authorizer, request, values, version, simple)
            except AuthorizerFailure as exc:
                return self._failed(authorizer, request, str(exc))
            latency = round((self._clock.monotonic() - started) * 1000)
            if key is not None:
                self._results.put(key, answer, float(ttl))
        try:
            if not lambdas.allowed(answer, request.route_arn):
                return Decision.forbidden("the authorizer denied the request")
        except PolicyError as exc:
            return self._failed(authorizer, request, f"the authorizer's policy is invalid: {exc}")
        return Decision.allow(*lambdas.contexts(answer, latency))

    async def _invoke(
        self,
        authorizer: Mapping[str, Any],
        request: AuthRequest,
        values: list[str],
        version: str,
        simple: bool,
    ) -> Answer:
        arn = lambdas.function_arn(str(authorizer.get("AuthorizerUri") or ""))
        try:
            ref = parse_function_name(arn, self._region, account=self._account)
            # With AuthorizerCredentialsArn AWS invokes as that role, not by the resource policy.
            permissions = None if authorizer.get("AuthorizerCredentialsArn") else self._permissions
            if permissions is not None and not permissions.allows(
                ref.name,
                ref.qualifier,
                "lambda:InvokeFunction",
                APIGATEWAY,
                source_arn=self._authorizer_arn(authorizer, request),
                source_account=self._account,
            ):
                raise AuthorizerFailure(
                    f"{arn}'s resource policy does not allow lambda:InvokeFunction to "
                    f"{APIGATEWAY} for {self._authorizer_arn(authorizer, request)} "
                    "(aws lambda add-permission)"
                )
            event = (
                lambdas.event_v1(request, values)
                if version == "1.0"
                else lambdas.event_v2(request, values)
            )
            async with self._clock.timeout(AUTHORIZER_TIMEOUT):
                result = await self._invoker.invoke(ref.name, ref.qualifier, orjson.dumps(event))
        except TimeoutError as exc:
            raise AuthorizerFailure(f"{arn} did not answer in {AUTHORIZER_TIMEOUT:g} s") from exc
        except LambdaError as exc:
            raise AuthorizerFailure(f"{arn} could not be invoked: {exc.message}") from exc
        if result.function_error is not None:
            raise AuthorizerFailure(f"{arn} failed: {result.payload[:512]!r}")
        return lambdas.read_answer(result.payload, simple=simple, route_arn=request.route_arn)

    def _authorizer_arn(self, authorizer: Mapping[str, Any], request: AuthRequest) -> str:
        return (
            f"arn:aws:execute-api:{self._region}:{self._account}:{request.api_id}"
            f"/authorizers/{authorizer.get('AuthorizerId')}"
        )

    def _failed(self, authorizer: Mapping[str, Any], request: AuthRequest, why: str) -> Decision:
        log.warning(
            "authorizer %s of API %s (request %s): %s",
            authorizer.get("AuthorizerId"),
            request.api_id,
            request.request_id,
            why,
        )
        return Decision.server_error(why)


def _challenge(
    route_scopes: Sequence[str], error: str, description: str
) -> tuple[tuple[str, str], ...]:
    """The www-authenticate header HTTP APIs' JWT authorizers answer refusals with."""
    scope = _quotable(" ".join(route_scopes))
    description = _quotable(description)
    return (
        (
            "www-authenticate",
            f'Bearer scope="{scope}" error="{error}" error_description="{description}"',
        ),
    )


def _quotable(text: str) -> str:
    # Parts of a token (alg, kid) reach the description: keep the header value well-formed.
    return re.sub(r'[^\x20-\x7e]|"', "", text)[:200]
