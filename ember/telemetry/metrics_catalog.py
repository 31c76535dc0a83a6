"""The metrics Ember publishes, their units and kinds, and how a series (metrics_store's
SeriesKey) maps to CloudWatch dimensions and back.

Two kinds of series:
- additive metrics (Invocations, Errors, Duration, ...) are kept at the finest level only:
  (function, the qualifier it was invoked with, the version that ran). CloudWatch's coarser
  dimension sets are sums of those: {FunctionName} is every qualifier together, {} the
  whole account.
- gauges (ConcurrentExecutions, ...) cannot be summed from finer series (the maximum of a
  sum is not the sum of maxima), so each level they are published at is its own series;
  "" stands for a dimension the level does not have.

Lambda's dimension sets (as CloudWatch lists them): {}, {FunctionName},
{FunctionName, Resource} where Resource is `name:qualifier` (a version or an alias), and
{FunctionName, Resource, ExecutedVersion} for invocations through an alias only.
AWS/SQS's queue depths are gauges with the one dimension QueueName (the series' name).
"""

from __future__ import annotations

from collections.abc import Mapping

from ember.telemetry.metrics_store import Pattern, SeriesKey

LAMBDA = "AWS/Lambda"
SQS = "AWS/SQS"
# Ember's own usage series for the cost report (never listed nor served as CloudWatch's):
# BilledDuration: billed ms per invocation, keyed (name, "<memory MB>:<ephemeral MB>", version);
# ProvisionedSeconds: provisioned environment-seconds, keyed (name, "<memory MB>", qualifier);
# SnapStartRestores: restores from a snapshot, keyed (name, "<memory MB>", version).
BILLING = "Ember/Billing"
BILLED_DURATION = "BilledDuration"
PROVISIONED_SECONDS = "ProvisionedSeconds"
SNAPSTART_RESTORES = "SnapStartRestores"

INVOCATIONS = "Invocations"
ERRORS = "Errors"
THROTTLES = "Throttles"
DURATION = "Duration"
CONCURRENT_EXECUTIONS = "ConcurrentExecutions"
UNRESERVED_CONCURRENT_EXECUTIONS = "UnreservedConcurrentExecutions"
PROVISIONED_CONCURRENT_EXECUTIONS = "ProvisionedConcurrentExecutions"
PROVISIONED_CONCURRENCY_UTILIZATION = "ProvisionedConcurrencyUtilization"
PROVISIONED_SPILLOVER = "ProvisionedConcurrencySpilloverInvocations"
ASYNC_EVENTS_RECEIVED = "AsyncEventsReceived"
ASYNC_EVENT_AGE = "AsyncEventAge"  # milliseconds from accepted to invoked
ASYNC_EVENTS_DROPPED = "AsyncEventsDropped"
DEAD_LETTER_ERRORS = "DeadLetterErrors"
DESTINATION_DELIVERY_FAILURES = "DestinationDeliveryFailures"
ITERATOR_AGE = "IteratorAge"  # stream mappings: ms from a batch's first record's arrival

# AWS/SQS gauges, in the order of QueueState.counts(): (visible, in flight, delayed)
QUEUE_DEPTHS = (
    "ApproximateNumberOfMessagesVisible",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
)
QUEUE_NAME = "QueueName"

# metric -> CloudWatch unit
UNITS: Mapping[str, str] = {
    INVOCATIONS: "Count",
    ERRORS: "Count",
    THROTTLES: "Count",
    DURATION: "Milliseconds",
    CONCURRENT_EXECUTIONS: "Count",
    UNRESERVED_CONCURRENT_EXECUTIONS: "Count",
    PROVISIONED_CONCURRENT_EXECUTIONS: "Count",
    PROVISIONED_CONCURRENCY_UTILIZATION: "None",
    PROVISIONED_SPILLOVER: "Count",
    ASYNC_EVENTS_RECEIVED: "Count",
    ASYNC_EVENT_AGE: "Milliseconds",
    ASYNC_EVENTS_DROPPED: "Count",
    DEAD_LETTER_ERRORS: "Count",
    DESTINATION_DELIVERY_FAILURES: "Count",
    ITERATOR_AGE: "Milliseconds",
    **{metric: "Count" for metric in QUEUE_DEPTHS},
}
GAUGES = frozenset(
    {
        CONCURRENT_EXECUTIONS,
        UNRESERVED_CONCURRENT_EXECUTIONS,
        PROVISIONED_CONCURRENT_EXECUTIONS,
        PROVISIONED_CONCURRENCY_UTILIZATION,
    }
)
HISTOGRAMS = frozenset({DURATION, ASYNC_EVENT_AGE})  # value metrics with percentiles

FUNCTION_NAME = "FunctionName"
RESOURCE = "Resource"
EXECUTED_VERSION = "ExecutedVersion"


def is_alias(qualifier: str) -> bool:
    return bool(qualifier) and qualifier != "$LATEST" and not qualifier.isdigit()


def pattern(namespace: str, metric: str, dimensions: Mapping[str, str]) -> Pattern | None:
    """The stored series that make up the CloudWatch metric (namespace, metric,
    dimensions), or None when Ember never publishes that dimension set."""
    if namespace == SQS:
        queue = dimensions.get(QUEUE_NAME)
        if metric not in QUEUE_DEPTHS or queue is None or len(dimensions) != 1:
            return None
        return (namespace, metric, queue, "", "")
    if namespace != LAMBDA or metric not in UNITS:
        return None
    if not set(dimensions) <= {FUNCTION_NAME, RESOURCE, EXECUTED_VERSION}:
        return None
    name = dimensions.get(FUNCTION_NAME)
    resource = dimensions.get(RESOURCE)
    version = dimensions.get(EXECUTED_VERSION)
    qualifier: str | None = None
    if resource is not None:
        if name is None or not resource.startswith(name + ":"):
            return None
        qualifier = resource[len(name) + 1 :]
    if version is not None and (qualifier is None or not is_alias(qualifier)):
        return None
    if metric in GAUGES:
        return (namespace, metric, name or "", qualifier or "", version or "")
    return (namespace, metric, name, qualifier, version)


def dimension_sets(key: SeriesKey) -> list[dict[str, str]]:
    """The CloudWatch dimension sets a stored series contributes to."""
    namespace, metric, name, qualifier, version = key
    if namespace == BILLING:
        return []
    if namespace == SQS:
        return [{QUEUE_NAME: name}]
    if metric in GAUGES:
        return [_dimensions(name, qualifier, version)]
    sets: list[dict[str, str]] = [{}]
    if name:
        sets.append({FUNCTION_NAME: name})
        if qualifier:
            sets.append(_dimensions(name, qualifier, ""))
            if is_alias(qualifier) and version:
                sets.append(_dimensions(name, qualifier, version))
    return sets


def _dimensions(name: str, qualifier: str, version: str) -> dict[str, str]:
    found: dict[str, str] = {}
    if name:
        found[FUNCTION_NAME] = name
    if qualifier:
        found[RESOURCE] = f"{name}:{qualifier}"
    if version:
        found[EXECUTED_VERSION] = version
    return found


def qualifier_of(invoked_arn: str) -> str:
    """`arn:aws:lambda:r:a:function:name:live` -> `live`; "" for an unqualified ARN."""
    if invoked_arn.count(":") < 7:
        return ""
    return invoked_arn.rpartition(":")[2]
