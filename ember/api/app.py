"""The HTTP application: Invoke on its fast path, the control plane on Starlette's router,
CloudWatch Logs by X-Amz-Target, and every LambdaError rendered here."""

from __future__ import annotations

import logging
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ember.api.concurrency import ConcurrencyRoutes
from ember.api.errors import error_body, error_headers
from ember.api.event_invoke import EventInvokeRoutes
from ember.api.functions import FunctionRoutes
from ember.api.invocations import InvokeHandler, is_invoke
from ember.api.invoke_async import InvokeAsyncRoute
from ember.api.layers import LayerRoutes
from ember.api.logs import LogsApi
from ember.api.references import References
from ember.api.status import StatusRoutes
from ember.api.versions import VersionRoutes
from ember.config import Settings
from ember.control import FunctionService
from ember.control.aliases import AliasService
from ember.control.concurrency import ConcurrencyService
from ember.control.event_invoke import EventInvokeConfigs
from ember.control.layers import LayerService
from ember.errors import LambdaError, ServiceError, UnknownOperationError
from ember.invoke import Invoker
from ember.invoke.dispatcher import Dispatcher
from ember.invoke.intake import EventIntake
from ember.telemetry import LogStore, Metrics

log = logging.getLogger("ember.api")


def render(error: LambdaError) -> Response:
    headers = {k.decode(): v.decode() for k, v in error_headers(error)}
    return Response(error_body(error), status_code=error.status, headers=headers)


async def _lambda_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LambdaError)
    return render(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return render(
        UnknownOperationError(f"No operation matches {request.method} {request.url.path}")
    )


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error serving %s %s", request.method, request.url.path)
    return render(ServiceError(f"Internal error: {type(exc).__name__}: {exc}"))


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
    ) -> None:
        self._invoke = InvokeHandler(settings, invoker, intake)
        logs_api = LogsApi(logs)
        references = References(settings, functions, aliases)
        routes = [
            *FunctionRoutes(settings, functions, aliases, concurrency).routes(),
            *VersionRoutes(references, functions, aliases).routes(),
            *ConcurrencyRoutes(references, functions, concurrency).routes(),
            *EventInvokeRoutes(references, event_configs).routes(),
            *InvokeAsyncRoute(settings, intake).routes(),
            *StatusRoutes(functions, dispatcher, metrics).routes(),
            *(LayerRoutes(settings, layers).routes() if layers is not None else []),
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

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and is_invoke(scope):
            await self._invoke(scope, receive, send)
        else:
            await self._router(scope, receive, send)
