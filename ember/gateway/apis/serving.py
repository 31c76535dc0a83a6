"""The execute-api door: `<api-id>.execute-api.<domain>` requests, reached by Host and not
through the SigV4 guard (routes carry their own authorization).

A request picks its stage (a named stage by its first path segment, else `$default`), then a
route of the stage's deployment (routekeys), passes the route's authorizer, and runs the
route's AWS_PROXY integration: a Lambda function the API may invoke (its resource policy
must allow `apigateway.amazonaws.com` for the route's ARN), within TimeoutInMillis. Errors
answer as HTTP APIs do: 404 `{"message":"Not Found"}`, 413, 500 `{"message":"Internal
Server Error"}` (function error, throttle, missing permission, malformed answer), 503
`{"message":"Service Unavailable"}` (integration timeout).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import uuid
from typing import Any, Protocol

import orjson

from ember.clock import Clock
from ember.errors import LambdaError, RequestTooLargeError
from ember.gateway import cors, payload
from ember.gateway.apis.checks import STAGE_VARIABLE, function_of
from ember.gateway.apis.events import event_v1, read_response_v1
from ember.gateway.apis.routekeys import Match
from ember.gateway.apis.service import Deployed, HttpApis
from ember.gateway.authorizers.model import AuthRequest, Decision
from ember.gateway.seams import Invoking, Permissions, Result
from ember.protocols.asgi import (
    ClientGoneError,
    Header,
    Receive,
    Scope,
    Send,
    header,
    read_body_within,
    respond,
)

log = logging.getLogger("ember.gateway")

Doc = dict[str, Any]

MAX_BODY = 10 * 1024 * 1024  # HTTP APIs' payload quota
INVOKE = "lambda:InvokeFunction"
PRINCIPAL = "apigateway.amazonaws.com"
_JSON = b"application/json"


class Authorizing(Protocol):
    """gateway.authorizers.AuthorizerEngine."""

    async def decide(
        self, authorizer: dict[str, Any], route_scopes: list[str], request: AuthRequest
    ) -> Decision: ...


class Signing(Protocol):
    """gateway.iam.UrlSigner for service execute-api: the caller a SigV4 signature proves."""

    async def identify(self, request: payload.HttpRequest) -> dict[str, Any] | None: ...


class ApiDoor:
    def __init__(
        self,
        apis: HttpApis,
        invoker: Invoking,
        clock: Clock,
        *,
        permissions: Permissions | None,
        authorizers: Authorizing | None,
        signer: Signing | None = None,
    ) -> None:
        self._apis = apis
        self._invoker = invoker
        self._clock = clock
        # None: resource policies are not enforced (no PolicyService on this server).
        self._permissions = permissions
        self._authorizers = authorizers
        self._signer = signer  # None: AWS_IAM routes refuse every request
        self._port = str(apis.port)
        # Invocations that outlived their integration's timeout: the function runs on, as
        # on AWS; close() cancels what is left.
        self._outliving: set[asyncio.Task[Result]] = set()

    async def close(self) -> None:
        for task in list(self._outliving):
            task.cancel()
        await asyncio.gather(*self._outliving, return_exceptions=True)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = str(uuid.uuid4())
        try:
            status, headers, body = await self._serve(scope, receive, request_id)
        except ClientGoneError:
            return
        except Exception:  # a fault of ours: logged with the request id, no detail out
            log.exception("HTTP API request %s failed", request_id)
            status, headers, body = _message(500, "Internal Server Error")
        await respond(send, status, [*headers, (b"apigw-requestid", request_id.encode())], body)

    async def _serve(
        self, scope: Scope, receive: Receive, request_id: str
    ) -> tuple[int, list[Header], bytes]:
        time_ms = int(self._clock.wall() * 1000)
        host = header(scope, b"host") or ""
        domain_name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
        api_id = domain_name.split(".execute-api.", 1)[0].rsplit(".", 1)[-1].lower()
        state = self._apis.find(api_id)
        if state is None:
            return _message(404, "Not Found")
        if state.api.get("DisableExecuteApiEndpoint"):
            return _message(403, "Forbidden")
        path: str = scope["path"]
        first, _, rest = path[1:].partition("/")
        if first and first != "$default" and first in state.stages:
            stage, route_path = first, "/" + rest
        elif "$default" in state.stages:
            stage, route_path = "$default", path
        else:
            return _message(404, "Not Found")
        method: str = scope["method"]
        origin = header(scope, b"origin")
        rules = _Cors.of(state.api.get("CorsConfiguration"))
        if rules is not None and cors.is_preflight(
            method, origin, header(scope, b"access-control-request-method")
        ):
            # AWS answers a preflight itself once CORS is configured, route or not.
            assert origin is not None
            requested = header(scope, b"access-control-request-headers")
            return 204, cors.preflight_headers(rules, origin, requested), b""
        deployed = self._apis.deployed(api_id, stage)
        match = deployed.router.match(method, route_path) if deployed else None
        if deployed is None or match is None:
            return _message(404, "Not Found")
        route = deployed.routes[match.route_id]
        integration = deployed.integrations.get(route.get("Target", "").partition("/")[2])
        if integration is None:
            return _message(404, "Not Found")  # a route without an integration
        body = await read_body_within(receive, MAX_BODY)
        if body is None:
            return _message(413, "Request Entity Too Large")
        request = payload.HttpRequest.from_scope(scope, body)
        arn = self._route_arn(api_id, stage, method, route_path)
        version: str = integration.get("PayloadFormatVersion", "2.0")
        authorizer_context: dict[str, Any] | None = None
        iam: dict[str, Any] | None = None  # the SigV4 caller of an AWS_IAM route
        kind = route.get("AuthorizationType", "NONE")
        if kind in ("JWT", "CUSTOM"):
            decision = await self._authorize(
                deployed, route, match, request, arn, stage, domain_name, request_id, time_ms
            )
            if not decision.allowed:
                log.info("HTTP API %s %s refused: %s", api_id, route["RouteKey"], decision.reason)
                headers = [(b"content-type", _JSON)]
                headers += [(k.lower().encode(), v.encode()) for k, v in decision.headers]
                return decision.status, headers, decision.body
            authorizer_context = decision.context_for(version)
        elif kind == "AWS_IAM":
            iam = await self._signer.identify(request) if self._signer else None
            if iam is None:
                return _message(403, "Forbidden")
            authorizer_context = {"iam": iam} if version == "2.0" else None
        target = self._function(integration, deployed.stage_variables, api_id)
        if target is None:
            return _message(500, "Internal Server Error")
        function, qualifier = target
        if not self._permitted(api_id, stage, method, match, function, qualifier, integration):
            return _message(500, "Internal Server Error")
        extra = (
            ("x-amzn-trace-id", f"Root=1-{time_ms // 1000:08x}-{request_id.replace('-', '')[:24]}"),
            ("x-forwarded-for", request.source_ip),
            ("x-forwarded-port", self._port),
            ("x-forwarded-proto", "http"),
        )
        if version == "1.0":
            doc = event_v1(
                request, request_id=request_id, time_ms=time_ms,
                account_id=self._apis.account, api_id=api_id, domain_name=domain_name,
                route_key=match.key.text, resource_path=match.key.path or request.raw_path,
                stage=stage, path_parameters=match.path_parameters,
                stage_variables=deployed.stage_variables, authorizer=authorizer_context,
                identity=iam, extra_headers=extra,
            )  # fmt: skip
        else:
            doc = payload.event(
                request, request_id=request_id, time_ms=time_ms,
                account_id=self._apis.account, api_id=api_id, domain_name=domain_name,
                domain_prefix=domain_name.split(".", 1)[0], route_key=match.key.text,
                stage=stage, authorizer=authorizer_context,
                path_parameters=match.path_parameters or None,
                stage_variables=deployed.stage_variables or None, extra_headers=extra,
            )  # fmt: skip
        status, headers, body = await self._integrate(
            function, qualifier, payload.encode(doc), version, integration, request_id, arn
        )
        if rules is not None:
            headers = cors.response_headers(rules, origin, headers)
        return status, headers, body

    def _function(
        self, integration: Doc, stage_variables: dict[str, str], api_id: str
    ) -> tuple[str, str | None] | None:
        """(name, qualifier) the integration invokes, its stage variables filled in; None
        (and a log line) when they do not make a function ARN."""
        uri: str = integration["IntegrationUri"]
        if "${" in uri:
            missing = [v for v in STAGE_VARIABLE.findall(uri) if v not in stage_variables]
            if missing:
                log.warning(
                    "HTTP API %s integration %s: stage variable(s) %s not set on this stage",
                    api_id, integration.get("IntegrationId"), ", ".join(missing),
                )  # fmt: skip
                return None
            uri = STAGE_VARIABLE.sub(lambda m: stage_variables[m.group(1)], uri)
        try:
            return function_of(uri, self._apis.region, self._apis.account)
        except LambdaError as exc:
            log.warning(
                "HTTP API %s integration %s: %s", api_id, integration.get("IntegrationId"),
                exc.message,
            )  # fmt: skip
            return None

    def _route_arn(self, api_id: str, stage: str, method: str, route_path: str) -> str:
        """The request's execute-api ARN: arn:aws:execute-api:{region}:{account}:
        {api-id}/{stage}/{METHOD}/{path} (authorizers' policies are written against it)."""
        return (
            f"arn:aws:execute-api:{self._apis.region}:{self._apis.account}:"
            f"{api_id}/{stage}/{method}{route_path}"
        )

    def _permitted(
        self, api_id: str, stage: str, method: str, match: Match, function: str,
        qualifier: str | None, integration: Doc,
    ) -> bool:  # fmt: skip
        """Whether the function's resource policy lets API Gateway invoke it for this route
        (source ARN api-id/stage/METHOD/route-path, or api-id/stage/$default)."""
        if self._permissions is None or integration.get("CredentialsArn"):
            return True  # with a credentials role, AWS invokes as that role instead
        resource = "$default" if match.key.is_default else f"{method}{match.key.path}"
        source_arn = (
            f"arn:aws:execute-api:{self._apis.region}:{self._apis.account}:"
            f"{api_id}/{stage}/{resource}"
        )
        if self._permissions.allows(function, qualifier, INVOKE, PRINCIPAL, source_arn=source_arn):
            return True
        log.warning(
            "HTTP API %s: integration %s may not invoke function %s%s: its resource policy "
            "allows no lambda:InvokeFunction by %s for source ARN %s (add one with "
            "`aws lambda add-permission --principal %s --source-arn ...`); answered 500",
            api_id, integration.get("IntegrationId"), function,
            f":{qualifier}" if qualifier else "", PRINCIPAL, source_arn, PRINCIPAL,
        )  # fmt: skip
        return False

    async def _authorize(
        self, deployed: Deployed, route: Doc, match: Match, request: payload.HttpRequest,
        arn: str, stage: str, domain_name: str, request_id: str, time_ms: int,
    ) -> Decision:  # fmt: skip
        authorizer = deployed.authorizers.get(route.get("AuthorizerId", ""))
        if authorizer is None or self._authorizers is None:
            return Decision.server_error("the route's authorizer is missing")
        headers: dict[str, str] = {}
        cookies: list[str] = []
        for name, value in request.headers:
            if name == "cookie":
                cookies += [c.strip() for c in value.split(";") if c.strip()]
            headers[name] = f"{headers[name]},{value}" if name in headers else value
        auth_request = AuthRequest(
            method=request.method,
            raw_path=request.raw_path,
            raw_query=request.raw_query,
            headers=headers,
            query=payload.query_parameters(request.raw_query),
            cookies=tuple(cookies),
            path_params=match.path_parameters,
            stage=stage,
            stage_variables=deployed.stage_variables,
            route_key=match.key.text,
            route_arn=arn,
            source_ip=request.source_ip,
            user_agent=headers.get("user-agent", ""),
            api_id=deployed.api_id,
            account_id=self._apis.account,
            domain_name=domain_name,
            request_id=request_id,
            time_epoch_ms=time_ms,
            protocol=request.protocol,
        )
        scopes: list[str] = list(route.get("AuthorizationScopes") or [])
        return await self._authorizers.decide(authorizer, scopes, auth_request)

    async def _integrate(
        self, function: str, qualifier: str | None, event: bytes, version: str,
        integration: Doc, request_id: str, arn: str,
    ) -> tuple[int, list[Header], bytes]:  # fmt: skip
        timeout = integration.get("TimeoutInMillis", 30000) / 1000
        task = asyncio.ensure_future(
            self._invoker.invoke(function, qualifier, event, request_id=request_id)
        )
        try:
            done, _ = await asyncio.wait({task}, timeout=timeout)
        except asyncio.CancelledError:
            task.cancel()
            raise
        if not done:
            self._outliving.add(task)
            task.add_done_callback(self._outlived)
            log.warning("HTTP API integration timed out after %.0f ms: %s", timeout * 1000, arn)
            return _message(503, "Service Unavailable")
        try:
            result = task.result()
        except RequestTooLargeError:
            return _message(413, "Request Entity Too Large")
        except LambdaError as exc:  # throttled, unknown function or version: AWS says 500
            log.warning("HTTP API integration for %s failed: %s: %s", arn, exc.code, exc.message)
            return _message(500, "Internal Server Error")
        if result.function_error is not None:
            return _message(500, "Internal Server Error")
        try:
            if version == "1.0":
                response = read_response_v1(result.payload)
            else:
                response = payload.read_response(result.payload)
        except payload.BadResponseError as exc:
            log.warning("HTTP API integration for %s answered malformed: %s", arn, exc)
            return _message(500, "Internal Server Error")
        return response.status, response.headers, response.body

    def _outlived(self, task: asyncio.Task[Result]) -> None:
        self._outliving.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: the client was answered 503 long ago


@dataclasses.dataclass(frozen=True, slots=True)
class _Cors:
    """An API's CorsConfiguration as gateway.cors reads rules."""

    allow_credentials: bool | None
    allow_headers: tuple[str, ...] | None
    allow_methods: tuple[str, ...] | None
    allow_origins: tuple[str, ...] | None
    expose_headers: tuple[str, ...] | None
    max_age: int | None

    @classmethod
    def of(cls, config: Doc | None) -> _Cors | None:
        if not config:
            return None

        def listed(member: str) -> tuple[str, ...] | None:
            values = config.get(member)
            return tuple(values) if values is not None else None

        return cls(
            allow_credentials=config.get("AllowCredentials"),
            allow_headers=listed("AllowHeaders"),
            allow_methods=listed("AllowMethods"),
            allow_origins=listed("AllowOrigins"),
            expose_headers=listed("ExposeHeaders"),
            max_age=config.get("MaxAge"),
        )


def _message(status: int, text: str) -> tuple[int, list[Header], bytes]:
    return status, [(b"content-type", _JSON)], orjson.dumps({"message": text})
