"""`GET /metrics`: the same metrics for Prometheus, in its text format (prometheus-client).

Counters and histograms count since the server started (Prometheus's `rate()` handles the
reset a restart makes); gauges are the invocations in flight now. Labels: `function`,
`resource` (the qualifier invoked: a version or alias, "" when none) and `version` (the
version that ran). Duration histograms have fixed `le` buckets in seconds, filled from
Ember's 2 %-wide buckets (a value within 1 % of a bound may land on either side).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from ember.telemetry.metrics import Metrics
from ember.telemetry.metrics_catalog import (
    ASYNC_EVENT_AGE,
    ASYNC_EVENTS_DROPPED,
    ASYNC_EVENTS_RECEIVED,
    DEAD_LETTER_ERRORS,
    DESTINATION_DELIVERY_FAILURES,
    DURATION,
    ERRORS,
    INVOCATIONS,
    LAMBDA,
    PROVISIONED_SPILLOVER,
    THROTTLES,
)
from ember.telemetry.metrics_stat import Stat, representative

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

PATH = "/metrics"
LABELS = ["function", "resource", "version"]
# le bounds in seconds (the last, +Inf, is added)
BOUNDS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    300.0,
    900.0,
)
# CloudWatch metric -> (Prometheus name, help); counters get `_total` from the client.
COUNTERS = {
    INVOCATIONS: ("ember_lambda_invocations", "Invocations that ran (function errors included)"),
    ERRORS: ("ember_lambda_errors", "Invocations that ended in a function error"),
    THROTTLES: ("ember_lambda_throttles", "Invocation requests throttled (429)"),
    PROVISIONED_SPILLOVER: (
        "ember_lambda_provisioned_concurrency_spillover_invocations",
        "Invocations on on-demand environments while provisioned ones were all busy",
    ),
    ASYNC_EVENTS_RECEIVED: ("ember_lambda_async_events_received", "Asynchronous events queued"),
    ASYNC_EVENTS_DROPPED: ("ember_lambda_async_events_dropped", "Asynchronous events dropped"),
    DEAD_LETTER_ERRORS: ("ember_lambda_dead_letter_errors", "Failed dead-letter deliveries"),
    DESTINATION_DELIVERY_FAILURES: (
        "ember_lambda_destination_delivery_failures",
        "Failed destination deliveries",
    ),
}
HISTOGRAMS = {
    DURATION: ("ember_lambda_duration_seconds", "Function duration"),
    ASYNC_EVENT_AGE: (
        "ember_lambda_async_event_age_seconds",
        "Time from an asynchronous event's acceptance to its invocation",
    ),
}


class _Collector:
    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        totals = self._metrics.totals()
        counters = {m: CounterMetricFamily(n, h, labels=LABELS) for m, (n, h) in COUNTERS.items()}
        histograms = {
            m: HistogramMetricFamily(n, h, labels=LABELS) for m, (n, h) in HISTOGRAMS.items()
        }
        for (namespace, metric, name, qualifier, version), stat in sorted(totals.items()):
            if namespace != LAMBDA or not name:
                continue
            labels = [name, qualifier, version]
            if metric in counters:
                counters[metric].add_metric(labels, stat.total)
            elif metric in histograms:
                histograms[metric].add_metric(labels, _buckets(stat), stat.total / 1000.0)
        yield from counters.values()
        yield from histograms.values()
        running = GaugeMetricFamily(
            "ember_lambda_concurrent_executions",
            'Invocations in flight (function "": the whole server)',
            labels=LABELS,
        )
        for (name, qualifier, version), n in sorted(self._metrics.running.items()):
            running.add_metric([name, qualifier, version], n)
        yield running
        provisioned = GaugeMetricFamily(
            "ember_lambda_provisioned_concurrent_executions",
            "Invocations in flight on provisioned environments",
            labels=LABELS,
        )
        for (name, qualifier, version), n in sorted(self._metrics.provisioned_running.items()):
            provisioned.add_metric([name, qualifier, version], n)
        yield provisioned
        yield GaugeMetricFamily(
            "ember_lambda_unreserved_concurrent_executions",
            "Invocations in flight of functions without reserved concurrency",
            value=self._metrics.unreserved,
        )
        messages = GaugeMetricFamily(
            "ember_sqs_messages",
            "Messages in each queue now, by state (visible, in_flight, delayed)",
            labels=["queue", "state"],
        )
        for queue, counts in sorted(self._metrics.queue_depths().items()):
            for state, n in zip(("visible", "in_flight", "delayed"), counts, strict=True):
                messages.add_metric([queue, state], n)
        yield messages


def _buckets(stat: Stat) -> list[tuple[str, float]]:
    """Cumulative counts per le bound (seconds) from a millisecond stat's buckets."""
    counts = [0] * (len(BOUNDS) + 1)
    for key, n in (stat.buckets or {}).items():
        seconds = representative(key) / 1000.0
        index = next((i for i, bound in enumerate(BOUNDS) if seconds <= bound), len(BOUNDS))
        counts[index] += n
    cumulative: list[tuple[str, float]] = []
    running = 0
    for bound, n in zip((*map(str, BOUNDS), "+Inf"), counts, strict=True):
        running += n
        cumulative.append((bound, float(running)))
    return cumulative


class PrometheusDoor:
    """An ASGI app answering `GET /metrics` in the Prometheus text format (0.0.4)."""

    def __init__(self, metrics: Metrics) -> None:
        self._registry = CollectorRegistry(auto_describe=False)
        self._registry.register(_Collector(metrics))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] != PATH or scope["method"] not in ("GET", "HEAD"):
            status, body, content_type = 404, b"Not Found\n", b"text/plain"
        else:
            status, body = 200, generate_latest(self._registry)
            content_type = CONTENT_TYPE_PLAIN_0_0_4.encode()
        headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send(
            {"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body}
        )
