"""Per-function metrics kept in memory: counters and value summaries, read as a snapshot.

Names follow CloudWatch's Lambda metrics (AsyncEventsReceived, AsyncEventAge, ...). They
live for the server's lifetime; a restart starts them from zero, as a new metrics period.
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Mapping

# The asynchronous-invocation metrics Lambda publishes (counters unless noted).
ASYNC_EVENTS_RECEIVED = "AsyncEventsReceived"
ASYNC_EVENT_AGE = "AsyncEventAge"  # summary, milliseconds from accepted to invoked
ASYNC_EVENTS_DROPPED = "AsyncEventsDropped"
DEAD_LETTER_ERRORS = "DeadLetterErrors"
DESTINATION_DELIVERY_FAILURES = "DestinationDeliveryFailures"


@dataclasses.dataclass(frozen=True, slots=True)
class Summary:
    """count, sum, minimum and maximum of observed values (CloudWatch's statistic set)."""

    count: int
    total: float
    minimum: float
    maximum: float

    @property
    def average(self) -> float:
        return self.total / self.count if self.count else 0.0

    def add(self, value: float) -> Summary:
        if not self.count:
            return Summary(1, value, value, value)
        return Summary(
            self.count + 1, self.total + value, min(self.minimum, value), max(self.maximum, value)
        )


@dataclasses.dataclass(frozen=True, slots=True)
class FunctionMetrics:
    counters: Mapping[str, int]
    summaries: Mapping[str, Summary]


EMPTY = FunctionMetrics(types.MappingProxyType({}), types.MappingProxyType({}))


@dataclasses.dataclass(frozen=True, slots=True)
class MetricsStatistics:
    """An immutable snapshot: function name -> its metrics."""

    functions: Mapping[str, FunctionMetrics]

    def of(self, function: str) -> FunctionMetrics:
        return self.functions.get(function, EMPTY)


class Metrics:
    """The registry. Not thread-safe: it is used from the event loop only."""

    def __init__(self) -> None:
        # function -> metric name -> value
        self._counters: dict[str, dict[str, int]] = {}
        self._summaries: dict[str, dict[str, Summary]] = {}

    def count(self, function: str, name: str, value: int = 1) -> None:
        counters = self._counters.setdefault(function, {})
        counters[name] = counters.get(name, 0) + value

    def observe(self, function: str, name: str, value: float) -> None:
        summaries = self._summaries.setdefault(function, {})
        summaries[name] = summaries.get(name, Summary(0, 0.0, 0.0, 0.0)).add(value)

    def forget(self, function: str) -> None:
        """The function was deleted: its metrics go with it."""
        self._counters.pop(function, None)
        self._summaries.pop(function, None)

    def statistics(self) -> MetricsStatistics:
        names = set(self._counters) | set(self._summaries)
        return MetricsStatistics(
            types.MappingProxyType(
                {
                    name: FunctionMetrics(
                        types.MappingProxyType(dict(self._counters.get(name, {}))),
                        types.MappingProxyType(dict(self._summaries.get(name, {}))),
                    )
                    for name in names
                }
            )
        )
