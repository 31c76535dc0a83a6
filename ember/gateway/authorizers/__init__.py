"""HTTP API authorizers: JWT (OAuth 2.0 / OpenID Connect) and Lambda REQUEST authorizers,
deciding whether one request may reach its route, as API Gateway HTTP APIs decide.

The one entry point is `AuthorizerEngine.decide`; the HTTP API door calls it for a route
whose AuthorizationType is JWT or CUSTOM, before the integration runs:

    engine = AuthorizerEngine(invoker, clock, region=..., account=...)   # server.py
    decision = await engine.decide(authorizer, route["AuthorizationScopes"], request)
    if not decision.allowed:
        answer decision.status, decision.headers, decision.body    # 401 / 403 / 500
    else:
        event["requestContext"]["authorizer"] = decision.context_for(payload_version)

- `authorizer`: the apigatewayv2 Authorizer exactly as GetAuthorizer returns it (AuthorizerId,
  AuthorizerType JWT | REQUEST, IdentitySource list, JwtConfiguration {Issuer, Audience},
  AuthorizerUri, AuthorizerPayloadFormatVersion, EnableSimpleResponses,
  AuthorizerResultTtlInSeconds). Missing optional keys take AWS's defaults.
- `route_scopes`: the route's AuthorizationScopes ([] when none; JWT only).
- `request`: an `AuthRequest` (model.py) with what authorizers read from the request.
- the `Decision` (model.py): `allowed`; for a refusal the status, body and headers to answer
  with (401 `{"message":"Unauthorized"}`, 403 `{"message":"Forbidden"}`, 500
  `{"message":"Internal Server Error"}`); for an allowed request the value of
  `requestContext.authorizer` for payload format 2.0 (`{"jwt": {"claims", "scopes"}}` or
  `{"lambda": context}`) and 1.0 (`{"claims", "scopes"}` or the context with principalId and
  integrationLatency), through `context_for("2.0" | "1.0")`.

`decide` never raises for anything a client or an authorizer function can cause: every
failure is a refusal. Modules: model (the two dataclasses and the refusals), identity
(identity-source expressions), jwt (token checks), jwks (issuers' key sets: discovery,
cache, refresh), lambdas (the Lambda REQUEST authorizer: event, invoke, answer), policy (IAM
policy documents against a route ARN), cache (authorizer results with their TTL), engine.

Imports `control` (function ARNs) and `invoke` (the Invoker); never `api` or `server`.
"""

from ember.gateway.authorizers.engine import AuthorizerEngine
from ember.gateway.authorizers.model import AuthRequest, Decision

__all__ = ["AuthRequest", "AuthorizerEngine", "Decision"]
