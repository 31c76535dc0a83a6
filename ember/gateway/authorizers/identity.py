"""Identity sources: the selection expressions an authorizer reads its inputs through
(`$request.header.Authorization`, `$request.querystring.x`, `$context.x`,
`$stageVariables.x`), as HTTP APIs evaluate them."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ember.gateway.authorizers.model import AuthRequest

# The $context variables an identity source may name (HTTP APIs' logging variables that
# exist before the integration runs).
_CONTEXT: dict[str, Callable[[AuthRequest], str]] = {
    "accountId": lambda r: r.account_id,
    "apiId": lambda r: r.api_id,
    "domainName": lambda r: r.domain_name,
    "domainPrefix": lambda r: r.domain_prefix,
    "httpMethod": lambda r: r.method,
    "path": lambda r: r.raw_path,
    "protocol": lambda r: r.protocol,
    "requestId": lambda r: r.request_id,
    "requestTime": lambda r: r.time,
    "requestTimeEpoch": lambda r: str(r.time_epoch_ms),
    "routeKey": lambda r: r.route_key,
    "stage": lambda r: r.stage,
    "identity.sourceIp": lambda r: r.source_ip,
    "identity.userAgent": lambda r: r.user_agent,
}


def evaluate(expression: str, request: AuthRequest) -> str | None:
    """The value one identity source selects from the request; None when it is absent or
    empty (API Gateway treats both as missing)."""
    value: str | None
    if expression.startswith("$request.header."):
        # Header names are case-insensitive; the door lower-cased them.
        value = request.headers.get(expression[len("$request.header.") :].lower())
    elif expression.startswith("$request.querystring."):
        value = request.query.get(expression[len("$request.querystring.") :])
    elif expression.startswith("$stageVariables."):
        value = request.stage_variables.get(expression[len("$stageVariables.") :])
    elif expression.startswith("$context."):
        getter = _CONTEXT.get(expression[len("$context.") :])
        value = getter(request) if getter is not None else None
    else:
        value = None
    return value or None


def evaluate_all(expressions: Sequence[str], request: AuthRequest) -> list[str] | None:
    """The values of every identity source in order; None when any one is missing (the
    request is then refused with 401 without invoking the authorizer)."""
    values = []
    for expression in expressions:
        value = evaluate(expression, request)
        if value is None:
            return None
        values.append(value)
    return values
