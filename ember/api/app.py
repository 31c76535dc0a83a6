"""The HTTP application: Invoke on its fast path, the control plane on Starlette's router,
CloudWatch Logs by X-Amz-Target, and every LambdaError rendered here."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ember.api.code_signing import CodeSigningRoutes
from ember.api.concurrency import ConcurrencyRoutes
from ember.api.downloads import DownloadRoutes
from ember.api.errors import error_body, error_headers
from ember.api.event_invoke import EventInvokeRoutes
from ember.api.faults import hidden, public
from ember.api.functions import FunctionRoutes
from ember.api.invocations import InvokeHandler, is_invoke
from ember.api.invoke_async import InvokeAsyncRoute
from ember.api.layers import LayerRoutes
from ember.api.logs import LogsApi
from ember.api.mappings import MappingRoutes
from ember.api.policies import PolicyRoutes
from ember.api.recursion import RecursionRoutes
from ember.api.references import References
from ember.api.runtime_management import RuntimeManagementRoutes
from ember.api.status import StatusRoutes
from ember.api.streaming import StreamingRoutes
from ember.api.tags import TagRoutes
from ember.api.urls import UrlRoutes
from ember.api.versions import VersionRoutes
from ember.clock import Clock, SystemClock
from ember.config import Settings
from ember.control import FunctionService
from ember.control.aliases import AliasService
from ember.control.code_signing import CodeSigningConfigs
from ember.control.concurrency import ConcurrencyService
from ember.control.event_invoke import EventInvokeConfigs
from ember.control.layers import LayerService
from ember.control.mappings import MappingService
from ember.control.policies import PolicyService
from ember.control.recursion import RecursionConfigs
from ember.control.runtime_management import RuntimeManagementConfigs
from ember.control.tags import TagService
from ember.control.urls import FunctionUrls
from ember.errors import LambdaError, UnknownOperationError
from ember.invoke import Invoker
from ember.invoke.dispatcher import Dispatcher
from ember.invoke.intake import EventIntake
from ember.protocols.links import LinkSigner
from ember.telemetry import LogStore, Metrics

log = logging.getLogger("ember.api")


def render(error: LambdaError, request_id: str | None = None) -> Response:
    headers = {k.decode(): v.decode() for k, v in error_headers(error, request_id)}
    return Response(error_body(error), status_code=error.status, headers=headers)


async def _lambda_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LambdaError)
    request_id = str(uuid.uuid4())
    return render(public(exc, request_id, f"{request.method} {request.url.path}"), request_id)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return render(
        UnknownOperationError(f"No operation matches {request.method} {request.url.path}")
    )


# Set in the scope once an unexpected error is answered: Starlette raises it again after.
_ANSWERED = "ember.unexpected_error_answered"


async def _unexpected(request: Request, exc: Exception) -> Response:
    request_id = str(uuid.uuid4())
    request.scope[_ANSWERED] = True
    return render(hidden(exc, request_id, f"{request.method} {request.url.path}"), request_id)


class EmberApp:
    """The ASGI application the server runs."""

    def __init__(
        self,
        settings: Settings,
        functions: FunctionService,
        invoker: Invoker,
        logs: LogStore,
        *,
        intake: EventIntake,
        event_configs: EventInvokeConfigs,
        dispatcher: Dispatcher,
        metrics: Metrics,
        aliases: AliasService,
        concurrency: ConcurrencyService,
        layers: LayerService | None = None,
        clock: Clock | None = None,
        links: LinkSigner | None = None,
        signing: CodeSigningConfigs | None = None,
        runtime_configs: RuntimeManagementConfigs | None = None,
        mappings: MappingService | None = None,
        policies: PolicyService | None = None,
        tags: TagService | None = None,
        recursion: RecursionConfigs | None = None,
        urls: FunctionUrls | None = None,
    ) -> None:
        clock = clock or SystemClock()
        links = links or LinkSigner(clock)
        self._invoke = InvokeHandler(settings, invoker, intake)
        logs_api = LogsApi(logs)
        references = References(settings, functions, aliases)
        routes = [
            *FunctionRoutes(settings, functions, aliases, concurrency, links, signing).routes(),
            *(CodeSigningRoutes(references, signing).routes() if signing is not None else []),
            *(
                RuntimeManagementRoutes(references, functions, runtime_configs).routes()
                if runtime_configs is not None
                else []
            ),
            *VersionRoutes(references, functions, aliases).routes(),
            *ConcurrencyRoutes(references, functions, concurrency).routes(),
            *EventInvokeRoutes(references, event_configs).routes(),
            *InvokeAsyncRoute(settings, intake).routes(),
            *StatusRoutes(functions, dispatcher, metrics).routes(),
            *(LayerRoutes(settings, layers, links).routes() if layers is not None else []),
            *StreamingRoutes(settings, invoker).routes(),
            *(MappingRoutes(mappings, tags).routes() if mappings is not None else []),
            *(PolicyRoutes(references, policies).routes() if policies is not None else []),
            *(TagRoutes(tags).routes() if tags is not None else []),
            *(RecursionRoutes(references, recursion).routes() if recursion is not None else []),
            *(UrlRoutes(settings, references, urls).routes() if urls is not None else []),
            *DownloadRoutes(functions, layers, links).routes(),
            Route("/", logs_api.handle, methods=["POST"]),
        ]
        self._router = Starlette(
            routes=routes,
            exception_handlers={
                LambdaError: _lambda_error,
                HTTPException: _http_error,
                Exception: _unexpected,
            },
        )
        # AWS answers a path it does not know with an error, not a 307 to another path.
        self._router.router.redirect_slashes = False

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Lambda's API, once the guard (ember/doors.py runs it) has admitted the request."""
        if scope["type"] == "http" and is_invoke(scope):
            await self._invoke(scope, receive, send)
            return
        try:
            await self._router(scope, receive, _with_request_id(send))
        except Exception:
            if not scope.get(_ANSWERED):
                raise
            # Answered with a ServiceException and logged with its request id: done.


async def answer_fault(scope: dict[str, Any], send: Any, exc: Exception) -> None:
    """Lambda's error shape for a failure outside the router and the Invoke handler."""
    request_id = str(uuid.uuid4())
    what = f"{scope.get('method')} {scope.get('path')}"
    if isinstance(exc, LambdaError):
        error = public(exc, request_id, what)
    else:
        error = hidden(exc, request_id, what)
    response = render(error, request_id)
    try:
        await response({"type": "http"}, _no_body, send)
    except Exception:
        raise exc from None  # the response had begun: the server drops the connection


async def _no_body() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


def _with_request_id(send: Any) -> Any:
    """AWS answers every control-plane call with x-amzn-RequestId (errors bring their own)."""

    async def sending(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            if not any(name.lower() == b"x-amzn-requestid" for name, _ in headers):
                headers.append((b"x-amzn-requestid", str(uuid.uuid4()).encode()))
                message = {**message, "headers": headers}
        await send(message)

    return sending
