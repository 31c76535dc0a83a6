"""Ember's own read endpoints under /_ember/ (no AWS counterpart): asynchronous queue depths
and per-function metrics, for `ember queue` and `ember metrics`."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ember.api.shapes import json_response
from ember.control import FunctionService
from ember.errors import ResourceNotFoundError
from ember.invoke.dispatcher import Dispatcher, QueueDepth
from ember.telemetry import Metrics
from ember.telemetry.metrics import (
    ASYNC_EVENTS_DROPPED,
    ASYNC_EVENTS_RECEIVED,
    DEAD_LETTER_ERRORS,
    DESTINATION_DELIVERY_FAILURES,
)

# Shown as 0 until they first count something.
ASYNC_COUNTERS = (
    ASYNC_EVENTS_RECEIVED,
    ASYNC_EVENTS_DROPPED,
    DEAD_LETTER_ERRORS,
    DESTINATION_DELIVERY_FAILURES,
)


class StatusRoutes:
    def __init__(
        self, functions: FunctionService, dispatcher: Dispatcher, metrics: Metrics
    ) -> None:
        self._functions = functions
        self._dispatcher = dispatcher
        self._metrics = metrics

    def routes(self) -> list[Route]:
        return [
            Route("/_ember/async-queues", self.queues, methods=["GET"]),
            Route("/_ember/metrics/{FunctionName}", self.function_metrics, methods=["GET"]),
        ]

    async def queues(self, request: Request) -> Response:
        """Every function (an empty queue too), and any deleted one events still await."""
        depths = {d.function: d for d in await self._dispatcher.depths()}
        stats = self._dispatcher.statistics()
        for config in self._functions.list():
            depths.setdefault(config.name, QueueDepth(config.name, 0, 0, None, 0))
        return json_response(
            {
                "Queues": [
                    {
                        "FunctionName": d.function,
                        "Depth": d.ready + d.in_flight,
                        "InFlight": d.in_flight,
                        "OldestEventAgeSeconds": d.oldest_age,
                        "Dropped": d.dropped,
                    }
                    for _, d in sorted(depths.items())
                ],
                "Dispatcher": {
                    "Running": stats.running,
                    "Limit": stats.limit,
                    "Commits": stats.commits.commits,
                    "CommittedOperations": stats.commits.ops,
                    "LargestCommit": stats.commits.largest_batch,
                },
            }
        )

    async def function_metrics(self, request: Request) -> Response:
        name = request.path_params["FunctionName"]
        snapshot = self._metrics.statistics()
        if name not in snapshot.functions:
            try:
                self._functions.get(name)
            except ResourceNotFoundError:
                raise ResourceNotFoundError(
                    f"No metrics for {name}: no such function, and none recorded"
                ) from None
        metrics = snapshot.of(name)
        summaries: dict[str, Any] = {
            metric: {
                "Count": s.count,
                "Sum": s.total,
                "Minimum": s.minimum,
                "Maximum": s.maximum,
                "Average": s.average,
            }
            for metric, s in metrics.summaries.items()
        }
        counters = {metric: 0 for metric in ASYNC_COUNTERS} | dict(metrics.counters)
        return json_response({"FunctionName": name, "Counters": counters, "Summaries": summaries})
