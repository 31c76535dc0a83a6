"""CloudWatch's statistics over one-minute points: grouping into periods, the statistic
names (SampleCount, Average, Sum, Minimum, Maximum, pNN), and the errors for bad ones.

    MetricsQueryError (LambdaError, 400)        InvalidParameterValue
    ├── MissingParameterError                   MissingParameter
    └── InvalidParameterCombinationError        InvalidParameterCombination
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ember.errors import LambdaError
from ember.telemetry.metrics_stat import Stat

STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
_PERCENTILE = re.compile(r"^p(\d{1,2}(?:\.\d{1,10})?|100)$")


class MetricsQueryError(LambdaError):
    """`code`: the shape name botocore reads from `__type`; `query_code`: the
    awsQueryCompatible code (`x-amzn-query-error`), which becomes Error.Code."""

    code = "InvalidParameterValueException"
    query_code = "InvalidParameterValue"
    status = 400
    fault = "User"


class MissingParameterError(MetricsQueryError):
    code = "MissingRequiredParameterException"
    query_code = "MissingParameter"


class InvalidParameterCombinationError(MetricsQueryError):
    code = "InvalidParameterCombinationException"
    query_code = "InvalidParameterCombination"


class InvalidNextTokenError(MetricsQueryError):
    code = "InvalidNextToken"
    query_code = "InvalidNextToken"


def check_statistic(name: str) -> None:
    """Raise unless `name` is a statistic Ember computes."""
    if name not in STATISTICS and percentile_of(name) is None:
        raise MetricsQueryError(
            f"The value {name} for parameter Statistic is not supported by Ember "
            "(SampleCount, Average, Sum, Minimum, Maximum and percentiles pNN.NN are)."
        )


def percentile_of(name: str) -> float | None:
    found = _PERCENTILE.match(name)
    return float(found.group(1)) if found else None


def check_period(period: object) -> int:
    """Ember keeps one-minute points: periods are multiples of 60 seconds."""
    if not isinstance(period, int) or isinstance(period, bool) or period < 60 or period % 60:
        raise MetricsQueryError(
            f"The parameter Period must be a multiple of 60 (one-minute points); got {period}."
        )
    return period


def periods(points: Mapping[int, Stat], start: int, period: int) -> dict[int, Stat]:
    """Minute points merged into periods of `period` seconds counted from `start`:
    period start -> stat."""
    grouped: dict[int, Stat] = {}
    for minute in sorted(points):
        begins = start + (minute - start) // period * period
        into = grouped.get(begins)
        if into is None:
            grouped[begins] = points[minute].copy()
        else:
            into.merge(points[minute])
    return grouped


def statistic(stat: Stat, name: str) -> float:
    if name == "SampleCount":
        return float(stat.count)
    if name == "Sum":
        return stat.total
    if name == "Average":
        return stat.average
    if name == "Minimum":
        return stat.minimum
    if name == "Maximum":
        return stat.maximum
    p = percentile_of(name)
    value = stat.percentile(p) if p is not None else None
    return value if value is not None else 0.0
