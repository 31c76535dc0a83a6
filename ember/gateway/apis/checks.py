"""Each resource's rules, checked on the whole resource as it would be stored (a create, or
an update merged over the old one), so a refused request changes nothing."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

from ember.control.names import parse_function_name
from ember.errors import LambdaError
from ember.gateway.apis.errors import BadRequestError, ConflictError, NotFoundError
from ember.gateway.apis.routekeys import RouteKeyError, parse

Doc = dict[str, Any]

# The Lambda forms an AWS_PROXY integration or a REQUEST authorizer may name.
_INVOCATIONS = re.compile(
    r"arn:aws[a-zA-Z-]*:apigateway:(?P<region>[a-z0-9-]+):lambda:path/2015-03-31/functions/"
    r"(?P<arn>.+)/invocations"
)
_FUNCTION_ARN = re.compile(r"arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:\d{12}:function:[^/]+")
_STAGE_NAME = re.compile(r"[A-Za-z0-9_-]{1,128}")
_STAGE_VARIABLE_NAME = re.compile(r"[A-Za-z0-9_]{1,64}")
_STAGE_VARIABLE_VALUE = re.compile(r"[A-Za-z0-9\-._~:/?#&=,]{0,2048}")
_IDENTITY = re.compile(r"\$(request\.header|request\.querystring|context|stageVariables)\.\S+")
_JWT_IDENTITY = re.compile(r"\$request\.(header|querystring)\.\S+")
AUTHORIZATION_TYPES = ("NONE", "JWT", "CUSTOM", "AWS_IAM")
# `${stageVariables.name}` in an integration URI, filled in per stage when a request comes.
STAGE_VARIABLE = re.compile(r"\$\{stageVariables\.([A-Za-z0-9_]+)\}")


@functools.lru_cache(maxsize=1024)  # the serving door asks on every request
def function_of(uri: str, region: str, account: str) -> tuple[str, str | None]:
    """(function name, qualifier) an integration or authorizer URI names; BadRequestError
    for anything that is not a Lambda function, version or alias ARN in this region."""
    inner = _INVOCATIONS.fullmatch(uri)
    arn = inner.group("arn") if inner is not None else uri
    if _FUNCTION_ARN.fullmatch(arn) is None or (inner and inner.group("region") != region):
        raise BadRequestError(
            f"Invalid Lambda function ARN: '{uri}'. Use arn:aws:lambda:{region}:{account}:"
            "function:NAME[:VERSION|ALIAS] (or its arn:aws:apigateway:…:lambda:path/"
            "2015-03-31/functions/…/invocations form)"
        )
    try:
        ref = parse_function_name(arn, region, max_length=2048, account=account)
    except LambdaError as exc:
        raise BadRequestError(f"Invalid Lambda function ARN: '{uri}'. {exc.message}") from exc
    return ref.name, ref.qualifier


def check_api(api: Doc) -> None:
    if api.get("ProtocolType") != "HTTP":
        raise BadRequestError(
            "Ember serves HTTP APIs only: ProtocolType must be HTTP (WEBSOCKET is not supported)"
        )
    _length(api, "Name", 1, 128)
    _length(api, "Description", 0, 1024)
    _length(api, "Version", 1, 64)
    cors = api.get("CorsConfiguration")
    if cors and cors.get("AllowCredentials") and "*" in cors.get("AllowOrigins", []):
        raise BadRequestError("allow-credentials is not supported when allow-origins is set to '*'")


def check_integration(integration: Doc, region: str, account: str) -> None:
    kind = integration.get("IntegrationType")
    if kind is None:
        raise BadRequestError("IntegrationType is required")
    if kind != "AWS_PROXY":
        raise BadRequestError(
            f"Unsupported integration type '{kind}': Ember supports AWS_PROXY (Lambda) "
            "integrations only"
        )
    uri = integration.get("IntegrationUri")
    if not uri:
        raise BadRequestError("IntegrationUri is required for an AWS_PROXY integration")
    # A stage variable may stand for the function's name or qualifier (AWS allows it).
    function_of(STAGE_VARIABLE.sub("stage-variable", uri), region, account)
    version = integration.get("PayloadFormatVersion")
    if version is None:
        raise BadRequestError("PayloadFormatVersion is required for AWS_PROXY integrations")
    if version not in ("1.0", "2.0"):
        raise BadRequestError(
            f"Invalid PayloadFormatVersion '{version}': AWS_PROXY integrations support 1.0 and 2.0"
        )
    _length(integration, "Description", 0, 1024)


def check_route(route: Doc, others: Mapping[str, Doc], integrations: Mapping[str, Doc],
                authorizers: Mapping[str, Doc]) -> None:  # fmt: skip
    """`others`: the API's other routes, by id."""
    text = route.get("RouteKey")
    if text is None:
        raise BadRequestError("RouteKey is required")
    try:
        parse(text)
    except RouteKeyError as exc:
        raise BadRequestError(str(exc)) from exc
    if any(other["RouteKey"] == text for other in others.values()):
        raise ConflictError(f"Route with key {text} already exists for this API")
    if route.get("ApiKeyRequired"):
        raise BadRequestError("API keys are not supported for HTTP APIs")
    target = route.get("Target")
    if target is not None:
        kind, _, ident = target.partition("/")
        if kind != "integrations" or not ident:
            raise BadRequestError(
                f"Invalid target '{target}': a route's target is integrations/<integration id>"
            )
        if ident not in integrations:
            raise NotFoundError(f"Invalid Integration identifier specified {ident}", "Integration")
    kind = route.get("AuthorizationType", "NONE")
    authorizer_id = route.get("AuthorizerId")
    if kind in ("JWT", "CUSTOM"):
        if not authorizer_id:
            raise BadRequestError(f"AuthorizerId is required for AuthorizationType {kind}")
        authorizer = authorizers.get(authorizer_id)
        if authorizer is None:
            raise NotFoundError(
                f"Invalid Authorizer identifier specified {authorizer_id}", "Authorizer"
            )
        wanted = "JWT" if kind == "JWT" else "REQUEST"
        if authorizer["AuthorizerType"] != wanted:
            raise BadRequestError(
                f"AuthorizationType {kind} requires an authorizer of type {wanted}; "
                f"{authorizer_id} is {authorizer['AuthorizerType']}"
            )
    elif authorizer_id:
        raise BadRequestError(
            f"AuthorizerId may be set only with AuthorizationType JWT or CUSTOM, not {kind}"
        )
    if route.get("AuthorizationScopes") and kind != "JWT":
        raise BadRequestError("AuthorizationScopes are supported only with JWT authorizers")


def check_stage(stage: Doc, deployments: Mapping[str, Doc]) -> None:
    name = stage.get("StageName", "")
    if name != "$default" and _STAGE_NAME.fullmatch(name) is None:
        raise BadRequestError(
            f"Invalid stage name '{name}': use $default or 1-128 of A-Z a-z 0-9 - _"
        )
    deployment = stage.get("DeploymentId")
    if deployment is not None and deployment not in deployments:
        raise NotFoundError(f"Invalid Deployment identifier specified {deployment}", "Deployment")
    for key, value in (stage.get("StageVariables") or {}).items():
        if _STAGE_VARIABLE_NAME.fullmatch(key) is None:
            raise BadRequestError(f"Invalid stage variable name '{key}': use 1-64 of A-Z a-z 0-9 _")
        if _STAGE_VARIABLE_VALUE.fullmatch(value) is None:
            raise BadRequestError(
                f"Invalid stage variable value for '{key}': use up to 2048 of "
                "A-Z a-z 0-9 - . _ ~ : / ? # & = ,"
            )
    _length(stage, "Description", 0, 1024)


def check_authorizer(authorizer: Doc, region: str, account: str) -> None:
    _length(authorizer, "Name", 1, 128)
    kind = authorizer.get("AuthorizerType")
    sources = authorizer.get("IdentitySource") or []
    if kind == "JWT":
        config = authorizer.get("JwtConfiguration") or {}
        if not config.get("Issuer"):
            raise BadRequestError("JwtConfiguration.Issuer is required for a JWT authorizer")
        if not config.get("Audience"):
            raise BadRequestError("JwtConfiguration.Audience is required for a JWT authorizer")
        if len(sources) != 1 or _JWT_IDENTITY.fullmatch(sources[0]) is None:
            raise BadRequestError(
                "A JWT authorizer takes one identity source, $request.header.<name> or "
                "$request.querystring.<name>"
            )
        for member in ("AuthorizerUri", "AuthorizerPayloadFormatVersion"):
            if authorizer.get(member) is not None:
                raise BadRequestError(f"{member} is not supported for JWT authorizers")
        if authorizer.get("EnableSimpleResponses"):
            raise BadRequestError("EnableSimpleResponses is not supported for JWT authorizers")
        return
    if kind != "REQUEST":
        raise BadRequestError("AuthorizerType must be REQUEST or JWT for HTTP APIs")
    uri = authorizer.get("AuthorizerUri")
    if not uri:
        raise BadRequestError("AuthorizerUri is required for a REQUEST authorizer")
    if _INVOCATIONS.fullmatch(uri) is None:  # AWS takes only this form for authorizers
        raise BadRequestError(
            f"Invalid AuthorizerUri '{uri}': use arn:aws:apigateway:{region}:lambda:path/"
            f"2015-03-31/functions/arn:aws:lambda:{region}:{account}:function:NAME/invocations"
        )
    function_of(uri, region, account)
    version = authorizer.get("AuthorizerPayloadFormatVersion")
    if version not in ("1.0", "2.0"):
        raise BadRequestError(
            "AuthorizerPayloadFormatVersion is required for a REQUEST authorizer: 1.0 or 2.0"
        )
    if authorizer.get("EnableSimpleResponses") and version != "2.0":
        raise BadRequestError(
            "EnableSimpleResponses is supported only with AuthorizerPayloadFormatVersion 2.0"
        )
    if authorizer.get("JwtConfiguration") is not None:
        raise BadRequestError("JwtConfiguration is supported only for JWT authorizers")
    for source in sources:
        if _IDENTITY.fullmatch(source) is None:
            raise BadRequestError(
                f"Invalid identity source '{source}': use $request.header.<name>, "
                "$request.querystring.<name>, $context.<variable> or $stageVariables.<name>"
            )
    if authorizer.get("AuthorizerResultTtlInSeconds", 0) > 0 and not sources:
        raise BadRequestError("Identity sources are required when caching is enabled")


def _length(doc: Doc, member: str, low: int, high: int) -> None:
    value = doc.get(member)
    if value is not None and not low <= len(value) <= high:
        raise BadRequestError(f"{member} must be {low} to {high} characters long")
