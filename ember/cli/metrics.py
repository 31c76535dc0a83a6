"""`ember metrics [NAME] [--since ...]`: a function's (or every function's) metrics over a
recent period, read through the server's CloudWatch API (GetMetricData, ListMetrics)."""

from __future__ import annotations

import json
import math
import re
import time
from typing import Any

import click

from ember.cli.client import ApiError, LambdaClient
from ember.cli.output import fail, table

TARGET = "GraniteServiceVersion20100801."
NAMESPACE = "AWS/Lambda"
COUNTERS = ("Invocations", "Errors", "Throttles", "ProvisionedConcurrencySpilloverInvocations",
            "AsyncEventsReceived", "AsyncEventsDropped", "DeadLetterErrors",
            "DestinationDeliveryFailures")  # fmt: skip
SUMMARIES = ("Duration", "AsyncEventAge")  # milliseconds, with percentiles
GAUGES = ("ConcurrentExecutions", "ProvisionedConcurrentExecutions")
_SPAN = re.compile(r"^(\d+(?:\.\d+)?)([smhd]?)$")
_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def _since(text: str) -> float:
    """`90s`, `30m`, `2h`, `1d` (or plain seconds) -> seconds."""
    found = _SPAN.match(text.strip().lower())
    if not found:
        raise click.BadParameter(f"{text!r}: use e.g. 90s, 30m, 2h or 1d")
    return float(found.group(1)) * _SECONDS[found.group(2)]


def _call(client: LambdaClient, operation: str, params: dict[str, Any]) -> Any:
    headers = {"x-amz-target": TARGET + operation, "content-type": "application/x-amz-json-1.0"}
    return client.request("POST", "/", json.dumps(params).encode(), headers).json()


def _query(qid: str, metric: str, dims: dict[str, str], stat: str, period: int) -> dict[str, Any]:
    dimensions = [{"Name": k, "Value": v} for k, v in dims.items()]
    return {
        "Id": qid,
        "MetricStat": {
            "Metric": {"Namespace": NAMESPACE, "MetricName": metric, "Dimensions": dimensions},
            "Period": period,
            "Stat": stat,
        },
    }


def _values(
    client: LambdaClient, queries: list[dict[str, Any]], start: float, end: float
) -> dict[str, list[float]]:
    answer = _call(
        client, "GetMetricData", {"MetricDataQueries": queries, "StartTime": start, "EndTime": end}
    )
    return {r["Id"]: r["Values"] for r in answer["MetricDataResults"]}


@click.command(name="metrics")
@click.argument("name", required=False)
@click.option("--since", default="1d", show_default=True, help="How far back: 90s, 30m, 2h, 1d.")
@click.pass_obj
def function_metrics(client: LambdaClient, name: str | None, since: str) -> None:
    """Show function NAME's metrics (every function's, without NAME) over the last
    --since (durations in ms)."""
    end = time.time() + 60
    start = end - 60 - _since(since)
    period = max(60, math.ceil((end - start) / 60) * 60)  # one datapoint for the whole span
    try:
        if name is None:
            _every_function(client, start, end, period)
        else:
            _one_function(client, name, start, end, period)
    except ApiError as exc:
        fail(str(exc))


def _one_function(client: LambdaClient, name: str, start: float, end: float, period: int) -> None:
    dims = {"FunctionName": name}
    queries = [_query(f"c{i}", m, dims, "Sum", period) for i, m in enumerate(COUNTERS)]
    for i, metric in enumerate(SUMMARIES):
        for stat in ("SampleCount", "Average", "Minimum", "p50", "p99", "Maximum"):
            queries.append(_query(f"s{i}{stat.lower()}", metric, dims, stat, period))
    queries += [_query(f"g{i}", m, dims, "Maximum", period) for i, m in enumerate(GAUGES)]
    values = _values(client, queries, start, end)
    rows = [("METRIC", "VALUE")]
    rows += [(m, f"{sum(values.get(f'c{i}', [])):g}") for i, m in enumerate(COUNTERS)]
    for i, metric in enumerate(SUMMARIES):
        count = sum(values.get(f"s{i}samplecount", []))
        if not count:
            rows.append((metric, "count 0"))
            continue

        def first(stat: str, i: int = i) -> float:
            return (values.get(f"s{i}{stat}") or [0.0])[0]

        rows.append(
            (
                metric,
                f"count {count:g}, avg {first('average'):.1f}, min {first('minimum'):.1f}, "
                f"p50 {first('p50'):.1f}, p99 {first('p99'):.1f}, max {first('maximum'):.1f}",
            )
        )
    rows += [(m, f"max {max(values.get(f'g{i}') or [0]):g}") for i, m in enumerate(GAUGES)]
    table(rows)


def _every_function(client: LambdaClient, start: float, end: float, period: int) -> None:
    listed = _call(client, "ListMetrics", {"Namespace": NAMESPACE})
    names = sorted(
        {
            d["Value"]
            for m in listed["Metrics"]
            for d in m["Dimensions"]
            if d["Name"] == "FunctionName"
        }
    )
    rows = [("FUNCTION", "INVOCATIONS", "ERRORS", "THROTTLES", "P50 MS", "P99 MS")]
    for name in names:
        dims = {"FunctionName": name}
        queries = [
            _query("i", "Invocations", dims, "Sum", period),
            _query("e", "Errors", dims, "Sum", period),
            _query("t", "Throttles", dims, "Sum", period),
            _query("p50", "Duration", dims, "p50", period),
            _query("p99", "Duration", dims, "p99", period),
        ]
        v = _values(client, queries, start, end)
        rows.append(
            (
                name,
                f"{sum(v['i']):g}",
                f"{sum(v['e']):g}",
                f"{sum(v['t']):g}",
                f"{(v['p50'] or [0])[0]:.1f}",
                f"{(v['p99'] or [0])[0]:.1f}",
            )
        )
    table(rows)
