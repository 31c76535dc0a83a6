"""CloudWatch's front door, for the metrics Ember publishes: GetMetricStatistics,
GetMetricData (MetricStat queries; no metric math) and ListMetrics.

botocore (1.43 and 1.44, so boto3 and the AWS CLI) speaks CloudWatch's JSON 1.0 protocol
with `awsQueryCompatible`: `POST /`, `X-Amz-Target: GraniteServiceVersion20100801.<Op>`,
`x-amzn-query-mode: true`, timestamps as epoch seconds. Errors answer
`{"__type": <shape>, "message"}` with `x-amzn-query-error: <code>;Sender`, from which
botocore takes Error.Code (InvalidParameterValue, MissingParameter, ...).
"""

from __future__ import annotations

import base64
import datetime
import logging
import math
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import orjson

from ember.errors import LambdaError
from ember.protocols.asgi import Receive, Scope, Send, read_body, respond
from ember.protocols.rendering import query_compatible_error
from ember.telemetry.metrics import Metrics
from ember.telemetry.metrics_catalog import UNITS, dimension_sets
from ember.telemetry.metrics_query import (
    InvalidNextTokenError,
    InvalidParameterCombinationError,
    MetricsQueryError,
    MissingParameterError,
    check_period,
    check_statistic,
    percentile_of,
    periods,
    statistic,
)

log = logging.getLogger("ember.telemetry.cloudwatch")


TARGET_PREFIX = "GraniteServiceVersion20100801."
CONTENT_TYPE = b"application/x-amz-json-1.0"
LIST_PAGE = 500  # ListMetrics answers at most 500 metrics a page, as CloudWatch does
MAX_DATAPOINTS = 100_800  # GetMetricData's default MaxDatapoints
MAX_STATISTICS = 1440  # datapoints one GetMetricStatistics may answer


class CloudWatchDoor:
    """An ASGI app: one CloudWatch request in, one answer out."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics
        self._operations: dict[str, Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]] = {
            "GetMetricStatistics": self.get_metric_statistics,
            "GetMetricData": self.get_metric_data,
            "ListMetrics": self.list_metrics,
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = str(uuid.uuid4())
        target = ""
        for name, value in scope["headers"]:
            if name.lower() == b"x-amz-target":
                target = value.decode("latin-1")
        extra: list[tuple[bytes, bytes]] = []
        try:
            body = await read_body(receive)
            status, payload = 200, orjson.dumps(await self._answer(target, body))
        except LambdaError as exc:
            status, payload, extra = _error(exc)
        except Exception:
            log.exception("CloudWatch request %s failed", request_id)
            status, extra = 500, [(b"x-amzn-query-error", b"InternalServiceError;Receiver")]
            payload = orjson.dumps({"__type": "InternalServiceFault",
                                    "message": "Request processing has failed."})  # fmt: skip
        headers = [
            (b"content-type", CONTENT_TYPE),
            (b"x-amzn-requestid", request_id.encode()),
            *extra,
        ]
        await respond(send, status, headers, payload)

    async def _answer(self, target: str, body: bytes) -> dict[str, Any]:
        operation = self._operations.get(target.removeprefix(TARGET_PREFIX))
        if operation is None or not target.startswith(TARGET_PREFIX):
            raise _UnknownOperation(
                f"Ember's CloudWatch serves GetMetricStatistics, GetMetricData and "
                f"ListMetrics, not {target.removeprefix(TARGET_PREFIX) or 'this request'}."
            )
        try:
            params = orjson.loads(body) if body else {}
        except orjson.JSONDecodeError:
            raise _Serialization("The request body is not JSON.") from None
        if not isinstance(params, dict):
            raise _Serialization("The request body is not a JSON object.")
        return await operation(params)

    # -- operations ---------------------------------------------------------------------

    async def get_metric_statistics(self, params: dict[str, Any]) -> dict[str, Any]:
        namespace = _required(params, "Namespace")
        metric = _required(params, "MetricName")
        start, end = _time(params, "StartTime"), _time(params, "EndTime")
        period = check_period(_required(params, "Period"))
        wanted = list(params.get("Statistics") or [])
        extended = list(params.get("ExtendedStatistics") or [])
        if not wanted and not extended:
            raise MissingParameterError(
                "The parameter Statistics or ExtendedStatistics must be specified."
            )
        for name in wanted:
            if name not in ("SampleCount", "Average", "Sum", "Minimum", "Maximum"):
                raise MetricsQueryError(f"The value {name} for parameter Statistics is not valid.")
        for name in extended:
            if percentile_of(name) is None:
                raise MetricsQueryError(
                    f"The value {name} for parameter ExtendedStatistics is not supported by "
                    "Ember (percentiles pNN.NN are)."
                )
        if start >= end:
            raise InvalidParameterCombinationError("The parameter StartTime must be less than "
                                                   "the parameter EndTime.")  # fmt: skip
        requested = math.ceil((end - start) / period)
        if requested > MAX_STATISTICS:  # CloudWatch's own bound on one answer
            raise InvalidParameterCombinationError(
                f"You have requested up to {requested} datapoints, which exceeds the limit of "
                "1,440. You may reduce the datapoints requested by increasing Period, or "
                "decreasing the time range."
            )
        dimensions = _dimensions(params.get("Dimensions"))
        unit = UNITS.get(metric)
        datapoints: list[dict[str, Any]] = []
        if params.get("Unit") in (None, unit):
            points = await self._metrics.points(namespace, metric, dimensions, start, end)
            first = int(start // 60) * 60
            for begins, stat in sorted(periods(points, first, period).items()):
                point: dict[str, Any] = {"Timestamp": begins, "Unit": unit}
                for name in wanted:
                    point[name] = statistic(stat, name)
                if extended:
                    point["ExtendedStatistics"] = {n: statistic(stat, n) for n in extended}
                datapoints.append(point)
        return {"Label": metric, "Datapoints": datapoints}

    async def get_metric_data(self, params: dict[str, Any]) -> dict[str, Any]:
        queries = params.get("MetricDataQueries")
        if not isinstance(queries, list) or not queries:
            raise MissingParameterError("The parameter MetricDataQueries must be specified.")
        start, end = _time(params, "StartTime"), _time(params, "EndTime")
        descending = params.get("ScanBy", "TimestampDescending") != "TimestampAscending"
        budget = params.get("MaxDatapoints") or MAX_DATAPOINTS
        # NextToken: how many datapoints of the whole answer earlier pages carried.
        skip = _token(params.get("NextToken"))
        results: list[dict[str, Any]] = []
        for query in queries:
            series = await self._query_series(query, start, end)
            if query.get("ReturnData", True) is False:
                continue
            if descending:
                series.reverse()
            results.append({"Id": query.get("Id"), "Label": query.get("Label") or
                            query["MetricStat"]["Metric"].get("MetricName"),
                            "Timestamps": [t for t, _ in series],
                            "Values": [v for _, v in series], "StatusCode": "Complete",
                            "Messages": []})  # fmt: skip
        answer: dict[str, Any] = {"MetricDataResults": results, "Messages": []}
        taken = 0
        for result in results:  # this page's share: skip earlier pages', stop at the budget
            values = len(result["Values"])
            drop = min(values, skip)
            skip -= drop
            keep = max(0, min(values - drop, budget - taken))
            result["Timestamps"] = result["Timestamps"][drop : drop + keep]
            result["Values"] = result["Values"][drop : drop + keep]
            if drop + keep < values:
                result["StatusCode"] = "PartialData"
                answer["NextToken"] = _next_token(_token(params.get("NextToken")) + taken + keep)
            taken += keep
        return answer

    async def _query_series(
        self, query: Mapping[str, Any], start: float, end: float
    ) -> list[tuple[int, float]]:
        if not isinstance(query, dict) or not query.get("Id"):
            raise MissingParameterError("Each MetricDataQuery must have an Id.")
        if "Expression" in query:
            raise MetricsQueryError("Ember does not evaluate metric math (Expression); use "
                                    "MetricStat queries.")  # fmt: skip
        stat_spec = query.get("MetricStat")
        if not isinstance(stat_spec, dict) or not isinstance(stat_spec.get("Metric"), dict):
            raise MissingParameterError(f"The query {query['Id']} needs a MetricStat.")
        metric = stat_spec["Metric"]
        name = _required(metric, "MetricName")
        period = check_period(stat_spec.get("Period", query.get("Period")))
        stat_name = _required(stat_spec, "Stat")
        check_statistic(stat_name)
        unit = stat_spec.get("Unit")
        if unit is not None and unit != UNITS.get(name):
            return []
        points = await self._metrics.points(
            metric.get("Namespace", ""), name, _dimensions(metric.get("Dimensions")), start, end
        )
        first = int(start // 60) * 60
        grouped = periods(points, first, period)
        return [(t, statistic(grouped[t], stat_name)) for t in sorted(grouped)]

    async def list_metrics(self, params: dict[str, Any]) -> dict[str, Any]:
        namespace = params.get("Namespace")
        metric = params.get("MetricName")
        filters = params.get("Dimensions") or []
        if not isinstance(filters, list):
            raise MetricsQueryError("The parameter Dimensions must be a list.")
        recently = params.get("RecentlyActive")
        if recently not in (None, "PT3H"):
            raise MetricsQueryError("The value of RecentlyActive must be PT3H.")
        found: set[tuple[str, str, tuple[tuple[str, str], ...]]] = set()
        for key in await self._metrics.known_series(3 * 3600.0 if recently else None):
            if (namespace and key[0] != namespace) or (metric and key[1] != metric):
                continue
            for dims in dimension_sets(key):
                if all(_filter_matches(f, dims) for f in filters):
                    found.add((key[0], key[1], tuple(sorted(dims.items()))))
        listed = sorted(found)
        offset = _token(params.get("NextToken"))
        page = listed[offset : offset + LIST_PAGE]
        answer: dict[str, Any] = {
            "Metrics": [
                {
                    "Namespace": ns,
                    "MetricName": name,
                    "Dimensions": [{"Name": k, "Value": v} for k, v in dims],
                }
                for ns, name, dims in page
            ]
        }
        if offset + LIST_PAGE < len(listed):
            answer["NextToken"] = _next_token(offset + LIST_PAGE)
        return answer


class _UnknownOperation(MetricsQueryError):
    code = "UnknownOperationException"
    query_code = ""


class _Serialization(MetricsQueryError):
    code = "SerializationException"
    query_code = ""


def _error(exc: LambdaError) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
    query_code = exc.query_code if isinstance(exc, MetricsQueryError) else exc.code
    return query_compatible_error(exc, exc.code, query_code)


def _required(params: Mapping[str, Any], name: str) -> Any:
    value = params.get(name)
    if value is None or value == "":
        raise MissingParameterError(f"The parameter {name} is required.")
    return value


def _time(params: Mapping[str, Any], name: str) -> float:
    """Epoch seconds, as botocore sends timestamps in this protocol (ISO 8601 accepted)."""
    value = _required(params, name)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=datetime.UTC)
            return parsed.timestamp()
    raise MetricsQueryError(f"The parameter {name} must be a timestamp.")


def _dimensions(raw: object) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, list):
        raise MetricsQueryError("The parameter Dimensions must be a list.")
    found: dict[str, str] = {}
    for item in raw:
        if not isinstance(item, dict) or "Name" not in item or "Value" not in item:
            raise MissingParameterError("Each dimension needs a Name and a Value.")
        found[str(item["Name"])] = str(item["Value"])
    return found


def _filter_matches(wanted: object, dims: Mapping[str, str]) -> bool:
    """A ListMetrics dimension filter: the name must be there (with the value, if given)."""
    if not isinstance(wanted, dict) or "Name" not in wanted:
        raise MissingParameterError("Each dimension filter needs a Name.")
    value = dims.get(wanted["Name"])
    return value is not None and ("Value" not in wanted or wanted["Value"] == value)


def _token(raw: object) -> int:
    if raw is None:
        return 0
    try:
        offset = int(base64.urlsafe_b64decode(str(raw).encode()).decode())
    except ValueError:
        raise InvalidNextTokenError("The NextToken is not valid.") from None
    if offset < 0:
        raise InvalidNextTokenError("The NextToken is not valid.")
    return offset


def _next_token(offset: int) -> str:
    return base64.urlsafe_b64encode(str(offset).encode()).decode()
