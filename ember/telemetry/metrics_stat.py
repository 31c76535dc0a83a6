"""One metric's values within one minute: CloudWatch's statistic set (SampleCount, Sum,
Minimum, Maximum) and, for value metrics such as Duration, a histogram for percentiles.

The histogram has logarithmic buckets 2 % wide, so a percentile is within 1 % of a value
that was observed (CloudWatch's own percentiles are approximations too); it is clamped to
the minimum and maximum, so p0 and p100 are exact. Buckets of many minutes and of many
series merge by adding counts: that is how a period of an hour, or a function's versions
together, get their percentiles.
"""

from __future__ import annotations

import math

import orjson

_GROWTH = 1.02
_LOG_GROWTH = math.log(_GROWTH)
_ZERO = -(1 << 20)  # the bucket of values <= 0 (log is undefined there)


def bucket(value: float) -> int:
    """The bucket holding `value`: (GROWTH**(k-1), GROWTH**k]."""
    if value <= 0.0:
        return _ZERO
    return math.ceil(math.log(value) / _LOG_GROWTH)


def representative(key: int) -> float:
    """A bucket's middle, within 1 % of every value in it."""
    if key == _ZERO:
        return 0.0
    return 2.0 * _GROWTH**key / (1.0 + _GROWTH)


class Stat:
    """count, sum, minimum, maximum and (when `histogram`) bucket counts."""

    __slots__ = ("buckets", "count", "maximum", "minimum", "total")

    def __init__(self, histogram: bool = False) -> None:
        self.count = 0
        self.total = 0.0
        self.minimum = math.inf
        self.maximum = -math.inf
        # bucket -> values in it; None: the metric keeps no percentiles (counters, gauges)
        self.buckets: dict[int, int] | None = {} if histogram else None

    def add(self, value: float) -> None:
        self.count += 1
        self.total += value
        if value < self.minimum:
            self.minimum = value
        if value > self.maximum:
            self.maximum = value
        buckets = self.buckets
        if buckets is not None:
            key = bucket(value)
            buckets[key] = buckets.get(key, 0) + 1

    def merge(self, other: Stat) -> None:
        if not other.count:
            return
        self.count += other.count
        self.total += other.total
        self.minimum = min(self.minimum, other.minimum)
        self.maximum = max(self.maximum, other.maximum)
        if other.buckets is not None:
            if self.buckets is None:
                self.buckets = {}
            for key, n in other.buckets.items():
                self.buckets[key] = self.buckets.get(key, 0) + n

    @property
    def average(self) -> float:
        return self.total / self.count if self.count else 0.0

    def percentile(self, p: float) -> float | None:
        """The value below which `p` percent of the values fall (nearest rank), or None
        when the metric keeps no histogram or has no values."""
        if not self.count:
            return None
        if self.buckets is None or not self.buckets:
            # Gauges and counters: every sample is known to lie in [minimum, maximum].
            return self.maximum if p >= 50 else self.minimum
        rank = max(1, math.ceil(p / 100.0 * self.count))
        if rank >= self.count:
            return self.maximum
        if rank == 1:
            return self.minimum
        seen = 0
        for key in sorted(self.buckets):
            seen += self.buckets[key]
            if seen >= rank:
                return min(self.maximum, max(self.minimum, representative(key)))
        return self.maximum

    def histogram_blob(self) -> bytes | None:
        """The buckets as stored (JSON pairs), None for a metric without them."""
        if self.buckets is None:
            return None
        return orjson.dumps(list(self.buckets.items()))

    @classmethod
    def stored(
        cls, count: int, total: float, minimum: float, maximum: float, blob: bytes | None
    ) -> Stat:
        stat = cls()
        stat.count, stat.total, stat.minimum, stat.maximum = count, total, minimum, maximum
        if blob is not None:
            stat.buckets = {int(k): int(n) for k, n in orjson.loads(blob)}
        return stat

    def copy(self) -> Stat:
        twin = Stat()
        twin.merge(self)
        if self.buckets is not None and twin.buckets is None:
            twin.buckets = {}
        return twin
