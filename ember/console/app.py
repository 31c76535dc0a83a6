"""The console's HTTP side: pages under /console/, their small JSON API under
/console/api/, and the cost report as JSON at /_ember/cost (what `ember cost` reads).
Each route gathers from control and telemetry (and the invoker for test invokes), then
renders through `pages`.

Requests that change something (configuration, invoke) must come from the console's own
pages: a POST whose Origin names another site is refused, so that a web page a user
visits cannot drive Ember on their machine (cross-site request forgery)."""

from __future__ import annotations

import math
import urllib.parse
from pathlib import Path
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from ember.clock import Clock
from ember.config import Settings
from ember.console import pages
from ember.console.cost import price
from ember.console.pricing import PriceTable
from ember.console.requests import (
    browsable,
    check_same_origin,
    configuration_fields,
    host_name,
    read_form,
    since_of,
)
from ember.console.usage import UsageReader
from ember.control import FunctionService
from ember.control.aliases import AliasService
from ember.control.mappings import MappingService
from ember.control.urls import FunctionUrls
from ember.errors import InvalidParameterValueError, LambdaError, ResourceNotFoundError
from ember.invoke import Invoker
from ember.invoke.dispatcher import Dispatcher
from ember.telemetry import LogStore, Metrics
from ember.telemetry.metrics_catalog import (
    CONCURRENT_EXECUTIONS,
    DURATION,
    ERRORS,
    FUNCTION_NAME,
    INVOCATIONS,
    LAMBDA,
)
from ember.telemetry.metrics_stat import Stat

STATIC = Path(__file__).parent / "static"
STATIC_TYPES = {"console.js": "text/javascript", "console.css": "text/css"}
CHART_MINUTES = 60
LOG_WINDOW_MS = 15 * 60 * 1000
ASYNC_COUNTERS = ("AsyncEventsReceived", "AsyncEventsDropped", "DeadLetterErrors",
                  "DestinationDeliveryFailures")  # fmt: skip
PAYLOAD_LIMIT = 6 * 1024 * 1024  # Lambda's synchronous request payload limit


class Console:
    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        prices: PriceTable,
        *,
        functions: FunctionService,
        aliases: AliasService,
        invoker: Invoker,
        dispatcher: Dispatcher,
        logs: LogStore,
        metrics: Metrics,
        urls: FunctionUrls,
        mappings: MappingService,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._prices = prices
        self._functions = functions
        self._aliases = aliases
        self._invoker = invoker
        self._dispatcher = dispatcher
        self._logs = logs
        self._metrics = metrics
        self._urls = urls
        self._mappings = mappings
        self._usage = UsageReader(functions, metrics)
        self._app = Starlette(
            routes=[
                Route("/", self.home, methods=["GET"]),
                Route("/console", self.home, methods=["GET"]),
                Route("/console/", self.functions_list, methods=["GET"]),
                Route("/console/functions/{name}", self.function_page, methods=["GET"]),
                Route("/console/functions/{name}/configuration", self.configure, methods=["POST"]),
                Route("/console/functions/{name}/invoke", self.invoke, methods=["POST"]),
                Route("/console/api/functions", self.functions_json, methods=["GET"]),
                Route("/console/api/functions/{name}/logs", self.logs_json, methods=["GET"]),
                Route("/console/cost", self.cost_page, methods=["GET"]),
                Route("/console/static/{file}", self.static, methods=["GET"]),
                Route("/_ember/cost", self.cost_json, methods=["GET"]),
            ],
            exception_handlers={LambdaError: self._error, HTTPException: self._http_error},
        )

    async def door(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """The ASGI door the server mounts (ember/doors.py)."""
        if scope["type"] == "http" and not scope["path"].startswith("/_ember/"):
            host = host_name(scope["headers"])
            if not browsable(host, self._settings.host):
                # A name that merely resolves here (DNS rebinding) would make another site's
                # page same-origin with the console.
                response = _html(pages.error_page(421, f"Not the console's host: {host}"), 421)
                await response(scope, receive, send)
                return
        await self._app(scope, receive, send)

    # -- pages ------------------------------------------------------------------------

    async def home(self, request: Request) -> Response:
        return RedirectResponse("/console/", status_code=302)

    async def functions_list(self, request: Request) -> Response:
        now = self._clock.wall()
        rows = []
        for config in self._functions.list():
            invocations = await self._sum(config.name, INVOCATIONS, now - 86400, now)
            errors = await self._sum(config.name, ERRORS, now - 86400, now)
            rows.append(
                pages.Row(config, self._last_invoked(config), int(invocations), int(errors))
            )
        return _html(pages.functions_list(rows))

    async def function_page(self, request: Request) -> Response:
        name = request.path_params["name"]
        query = request.query_params
        return _html(
            await self._function_page(
                name, message="Configuration saved." if query.get("saved") else ""
            )
        )

    async def configure(self, request: Request) -> Response:
        check_same_origin(request)
        name = request.path_params["name"]
        form = await read_form(request)
        try:
            fields = configuration_fields(form)
            await self._functions.update_configuration(name, form.get("revision") or None, **fields)
        except LambdaError as exc:
            if isinstance(exc, ResourceNotFoundError):
                raise
            page = await self._function_page(name, error=f"Not saved: {exc.message}")
            return _html(page, status=exc.status)
        quoted = urllib.parse.quote(name)
        return RedirectResponse(f"/console/functions/{quoted}?saved=1", status_code=303)

    async def invoke(self, request: Request) -> Response:
        """Run the function once with the posted payload; JSON for the page's script, the
        page again for a plain form post."""
        check_same_origin(request)
        name = request.path_params["name"]
        wants_json = "application/json" in request.headers.get("accept", "")
        body = await request.body()
        if len(body) > PAYLOAD_LIMIT:
            raise InvalidParameterValueError("The payload is larger than Lambda's 6 MB limit")
        if request.headers.get("content-type", "").startswith("application/json"):
            try:
                given = dict(orjson.loads(body))
            except (orjson.JSONDecodeError, TypeError, ValueError):
                raise InvalidParameterValueError(
                    'Send {"payload": "...", "qualifier": "..."}'
                ) from None
        else:
            given = await read_form(request, body)
        payload = str(given.get("payload") or "{}")
        qualifier = str(given.get("qualifier") or "")
        try:
            orjson.loads(payload)
        except orjson.JSONDecodeError as exc:
            raise InvalidParameterValueError(f"The payload is not JSON: {exc}") from None
        result = await self._invoker.invoke(
            name, qualifier or None, payload.encode(), want_log_tail=True
        )
        invoked = pages.Invoked(
            result.executed_version,
            result.function_error,
            qualifier,
            pages.pretty(result.payload),
            result.log_tail.decode("utf-8", "replace"),
        )
        if wants_json:
            return _json(
                {
                    "ExecutedVersion": invoked.executed_version,
                    "FunctionError": invoked.function_error,
                    "Payload": invoked.payload,
                    "LogTail": invoked.log_tail,
                }
            )
        return _html(await self._function_page(name, invoked=invoked, payload=payload))

    async def cost_page(self, request: Request) -> Response:
        function = request.query_params.get("function") or None
        since = request.query_params.get("since") or "month"
        report = await self._report(function, since)
        return _html(pages.cost_page(report, function, since))

    # -- JSON -------------------------------------------------------------------------

    async def cost_json(self, request: Request) -> Response:
        """GET /_ember/cost?function=NAME&since=7d: what the usage would cost on Lambda."""
        function = request.query_params.get("function") or None
        report = await self._report(function, request.query_params.get("since") or "month")
        return _json(report.to_doc())

    async def functions_json(self, request: Request) -> Response:
        return _json(
            {
                "Functions": [
                    {
                        "FunctionName": c.name,
                        "State": c.state.value,
                        "Runtime": c.runtime,
                        "MemorySize": c.memory_size,
                        "LastInvoked": self._last_invoked(c),
                    }
                    for c in self._functions.list()
                ]
            }
        )

    async def logs_json(self, request: Request) -> Response:
        """The function's log lines since `since` (epoch ms; default the last 15 minutes),
        oldest first: what the page's live view polls."""
        config = self._functions.get(request.path_params["name"])
        now_ms = int(self._clock.wall() * 1000)
        try:
            since = int(request.query_params.get("since") or now_ms - LOG_WINDOW_MS)
        except ValueError:
            raise InvalidParameterValueError("since: epoch milliseconds") from None
        events = await self._log_events(config.name, self._log_group(config), since)
        return _json(
            {
                "events": [
                    {"id": ev.event_id, "timestamp": ev.timestamp, "message": ev.message}
                    for ev in events
                ]
            }
        )

    async def static(self, request: Request) -> Response:
        name = request.path_params["file"]
        media = STATIC_TYPES.get(name)
        if media is None:
            raise HTTPException(404, "No such file")
        return Response((STATIC / name).read_bytes(), media_type=media)

    # -- gathering --------------------------------------------------------------------

    async def _report(self, function: str | None, since_text: str) -> Any:
        now = self._clock.wall()
        since = since_of(since_text, now)
        if function is not None:
            self._functions.get(function)  # ResourceNotFoundException for an unknown name
        usage = await self._usage.read(function, since, now)
        return price(usage, self._prices)

    async def _function_page(
        self,
        name: str,
        *,
        message: str = "",
        error: str = "",
        invoked: pages.Invoked | None = None,
        payload: str | None = None,
    ) -> str:
        config = self._functions.get(name)
        now = self._clock.wall()
        depth = next((d for d in await self._dispatcher.depths() if d.function == name), None)
        counters = dict.fromkeys(ASYNC_COUNTERS, 0) | dict(
            self._metrics.statistics().of(name).counters
        )
        s = self._settings
        urls = [
            (
                f"http://{u.url_id}.lambda-url.{s.region}.{s.domain}:{s.port}/",
                u.qualifier or "",
                u.auth_type,
            )
            for u in self._urls.list(name)
        ]
        since_ms = int(now * 1000) - LOG_WINDOW_MS
        logs = await self._log_events(name, self._log_group(config), since_ms)
        return pages.function_page(
            pages.FunctionPage(
                config=config,
                versions=self._functions.list_versions(name),
                aliases=self._aliases.list(name),
                urls=urls,
                mappings=self._mappings.list(name),
                async_state=pages.AsyncState(
                    depth.ready if depth else 0,
                    depth.in_flight if depth else 0,
                    depth.oldest_age if depth else None,
                    counters,
                ),
                charts=await self._charts(name, now),
                logs=logs[-100:],
                message=message,
                error=error,
                invoked=invoked,
                **({"payload": payload} if payload is not None else {}),
            )
        )

    async def _charts(self, name: str, now: float) -> pages.Charts:
        first = (int(now // 60) - CHART_MINUTES + 1) * 60
        minutes = [first + 60 * i for i in range(CHART_MINUTES)]

        async def series(metric: str) -> dict[int, Stat]:
            return await self._metrics.points(LAMBDA, metric, {FUNCTION_NAME: name}, first, now)

        invocations, errors = await series(INVOCATIONS), await series(ERRORS)
        duration, concurrency = await series(DURATION), await series(CONCURRENT_EXECUTIONS)
        return pages.Charts(
            invocations=[_value(invocations.get(m), "sum") for m in minutes],
            errors=[_value(errors.get(m), "sum") for m in minutes],
            p50=[_percentile(duration.get(m), 50) for m in minutes],
            p99=[_percentile(duration.get(m), 99) for m in minutes],
            concurrency=[_value(concurrency.get(m), "max") for m in minutes],
        )

    async def _sum(self, name: str, metric: str, start: float, end: float) -> float:
        points = await self._metrics.points(LAMBDA, metric, {FUNCTION_NAME: name}, start, end)
        return sum(stat.total for stat in points.values())

    def _log_group(self, config: Any) -> str:
        return str(config.logging_config.get("LogGroup") or f"/aws/lambda/{config.name}")

    def _last_invoked(self, config: Any) -> float | None:
        group = self._log_group(config)
        if not self._logs.has_group(group):
            return None
        lasts = [s.last_event for s in self._logs.streams(group) if s.last_event is not None]
        return max(lasts) / 1000 if lasts else None

    async def _log_events(self, name: str, group: str, since_ms: int) -> list[Any]:
        if not self._logs.has_group(group):
            return []
        events, _ = await self._logs.group_page(
            group, None, (since_ms, None), lambda _: True, 0, 1000, 1024 * 1024
        )
        return list(events)

    # -- errors -----------------------------------------------------------------------

    async def _error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LambdaError)
        if _wants_html(request):
            return _html(pages.error_page(exc.status, exc.message), status=exc.status)
        return _json({"Type": exc.fault, "message": exc.message}, status=exc.status,
                     headers={"X-Amzn-ErrorType": exc.code})  # fmt: skip

    async def _http_error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if _wants_html(request):
            return _html(pages.error_page(exc.status_code, exc.detail), status=exc.status_code)
        return _json({"message": exc.detail}, status=exc.status_code)


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith(("/_ember/", "/console/api/")) and (
        "application/json" not in request.headers.get("accept", "")
    )


def _value(stat: Stat | None, kind: str) -> float | None:
    if stat is None or not stat.count:
        return None
    return stat.total if kind == "sum" else stat.maximum


def _percentile(stat: Stat | None, p: float) -> float | None:
    if stat is None or not stat.count:
        return None
    value = stat.percentile(p)
    return None if value is None or math.isinf(value) else round(value, 2)


def _html(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        body,
        status_code=status,
        headers={
            # Everything the pages use is served here: no other origin, no inline script.
            "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
            "frame-ancestors 'none'; form-action 'self'",
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
        },
    )


def _json(
    doc: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        orjson.dumps(doc), status_code=status, media_type="application/json", headers=headers
    )
