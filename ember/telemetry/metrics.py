"""Per-function metrics at one-minute resolution, as Lambda publishes them to CloudWatch:
recorded in memory on the invoke path (a few dict updates), written to SQLite in batches
by `run()` off the event loop (never a write per invoke), kept for the retention period,
and read back merged with what is not written yet.

The scheduler reports each invocation through an `InvocationSeries` (Invocations, Errors,
Duration, Throttles, ConcurrentExecutions, provisioned concurrency); the async dispatcher
and intake count their events with `count`/`observe` (AsyncEventsReceived, AsyncEventAge,
...). `statistics()` is the server-lifetime snapshot `ember`'s /_ember/metrics shows.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import logging
import math
import types
from collections.abc import Callable, Mapping

from ember.blocking import run_blocking
from ember.clock import Clock, SystemClock
from ember.telemetry.metrics_catalog import (
    ASYNC_EVENT_AGE,
    ASYNC_EVENTS_DROPPED,
    ASYNC_EVENTS_RECEIVED,
    BILLED_DURATION,
    BILLING,
    CONCURRENT_EXECUTIONS,
    DEAD_LETTER_ERRORS,
    DESTINATION_DELIVERY_FAILURES,
    DURATION,
    ERRORS,
    HISTOGRAMS,
    INVOCATIONS,
    LAMBDA,
    PROVISIONED_CONCURRENCY_UTILIZATION,
    PROVISIONED_CONCURRENT_EXECUTIONS,
    PROVISIONED_SECONDS,
    PROVISIONED_SPILLOVER,
    QUEUE_DEPTHS,
    SNAPSTART_RESTORES,
    SQS,
    THROTTLES,
    UNRESERVED_CONCURRENT_EXECUTIONS,
    is_alias,
    pattern,
    qualifier_of,
)
from ember.telemetry.metrics_stat import Stat
from ember.telemetry.metrics_store import MetricsStore, Pattern, SeriesKey

__all__ = [
    "ASYNC_EVENTS_DROPPED",
    "ASYNC_EVENTS_RECEIVED",
    "ASYNC_EVENT_AGE",
    "DEAD_LETTER_ERRORS",
    "DESTINATION_DELIVERY_FAILURES",
    "InvocationSeries",
    "Metrics",
    "MetricsStatistics",
]

log = logging.getLogger("ember.telemetry.metrics")

RETENTION = 15 * 86400.0  # seconds: CloudWatch keeps one-minute points for 15 days
FLUSH_INTERVAL = 10.0  # seconds between batched writes
Level = tuple[str, str, str]  # name, qualifier, version ("" where the level has none)
Minutes = dict[int, dict[SeriesKey, Stat]]  # minute start -> series -> its stat
# queue name -> (visible, in flight, delayed) messages now
QueueDepths = Callable[[], Mapping[str, tuple[int, int, int]]]
# (function, qualifier, memory MB) -> provisioned environments allocated now
ProvisionedNow = Callable[[], Mapping[tuple[str, str, int], int]]


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
    """An immutable snapshot: function name -> its metrics since the server started."""

    functions: Mapping[str, FunctionMetrics]

    def of(self, function: str) -> FunctionMetrics:
        return self.functions.get(function, EMPTY)


class InvocationSeries:
    """What the scheduler reports for invocations of one (function, qualifier invoked,
    version run): its series keys, made once and reused by every invocation."""

    __slots__ = (
        "_billed",
        "_concurrency",
        "_concurrency_levels",
        "_duration",
        "_errors",
        "_invocations",
        "_metrics",
        "_provisioned_levels",
        "_resource",
        "_spillover",
        "_throttles",
        "_version",
        "function",
    )

    def __init__(self, metrics: Metrics, function: str, qualifier: str, version: str) -> None:
        self._metrics = metrics
        self.function = function
        self._version = version
        self._billed: tuple[tuple[int, int], SeriesKey] | None = None  # (memory, /tmp) -> key
        finest = (function, qualifier, version)
        self._invocations = (LAMBDA, INVOCATIONS, *finest)
        self._errors = (LAMBDA, ERRORS, *finest)
        self._duration = (LAMBDA, DURATION, *finest)
        self._throttles = (LAMBDA, THROTTLES, *finest)
        self._spillover = (LAMBDA, PROVISIONED_SPILLOVER, *finest)
        # Gauges are their own series at each level Lambda publishes them at.
        levels: list[Level] = [("", "", ""), (function, "", "")]
        if qualifier:
            levels.append((function, qualifier, ""))
            if is_alias(qualifier):
                levels.append(finest)
        self._concurrency_levels = tuple(levels)
        self._concurrency = tuple((lv, (LAMBDA, CONCURRENT_EXECUTIONS, *lv)) for lv in levels)
        self._provisioned_levels = tuple(levels[1:])
        self._resource: Level = (function, qualifier, "") if qualifier else (function, version, "")

    def begin(self, *, provisioned: bool, unreserved: bool, allocated: int) -> None:
        """An invocation took its concurrency slot (on a provisioned environment or not;
        counted against the unreserved pool or not); `allocated`: the version's
        provisioned environments."""
        metrics = self._metrics
        running = metrics.running
        cells = metrics.cells()
        for level, key in self._concurrency:
            running[level] += 1
            _stat(cells, key).add(running[level])
        if unreserved:
            metrics.unreserved += 1
            metrics.sample(UNRESERVED_CONCURRENT_EXECUTIONS, ("", "", ""), metrics.unreserved)
        if provisioned:
            busy = metrics.provisioned_running
            for level in self._provisioned_levels:
                busy[level] += 1
                metrics.sample(PROVISIONED_CONCURRENT_EXECUTIONS, level, busy[level])
            if allocated:
                # Lambda's utilization: provisioned executions over what is allocated.
                in_use = busy[self._provisioned_levels[-1]] / allocated
                metrics.sample(PROVISIONED_CONCURRENCY_UTILIZATION, self._resource, in_use)
        elif allocated:
            metrics.stat(self._spillover).add(1.0)

    def end(self, *, provisioned: bool, unreserved: bool) -> None:
        """The slot begin() counted was given back (same arguments)."""
        metrics = self._metrics
        for level in self._concurrency_levels:
            _decrement(metrics.running, level)
        if unreserved:
            metrics.unreserved -= 1
        if provisioned:
            for level in self._provisioned_levels:
                _decrement(metrics.provisioned_running, level)

    def completed(self, error: bool, duration_ms: float) -> None:
        """The invocation ran (a function error is still an invocation)."""
        cells = self._metrics.cells()
        _stat(cells, self._invocations).add(1.0)
        _stat(cells, self._errors).add(1.0 if error else 0.0)
        _stat(cells, self._duration).add(duration_ms)

    def throttled(self) -> None:
        self._metrics.stat(self._throttles).add(1.0)

    def billed(
        self,
        memory_mb: int,
        ephemeral_mb: int,
        ms: float,
        init_ms: float | None,
        restore_ms: float | None = None,
    ) -> None:
        """What Lambda bills for the invocation that completed(): its duration, with the
        Init of an on-demand cold start (billed since 2025), rounded up to the millisecond;
        a SnapStart restore before it (`restore_ms` given) is billed by the GB restored."""
        if restore_ms is not None:
            restored = (BILLING, SNAPSTART_RESTORES, self.function, str(memory_mb), self._version)
            self._metrics.stat(restored).add(1.0)
        billed = max(1, math.ceil(ms + (init_ms or 0.0)))
        sizes = (memory_mb, ephemeral_mb)
        if self._billed is None or self._billed[0] != sizes:  # sizes change only on updates
            tier = f"{memory_mb}:{ephemeral_mb}"
            self._billed = (sizes, (BILLING, BILLED_DURATION, self.function, tier, self._version))
        self._metrics.stat(self._billed[1]).add(float(billed))


class Metrics:
    """The registry. Recording is used from the event loop only (not thread-safe); the
    store is written from a thread with what `flush()` took from memory."""

    def __init__(
        self,
        clock: Clock | None = None,
        store: MetricsStore | None = None,
        *,
        retention: float = RETENTION,
        flush_interval: float = FLUSH_INTERVAL,
    ) -> None:
        self._clock = clock or SystemClock()
        self._store = store
        self.retention = retention
        self._flush_interval = flush_interval
        # Not yet written: the current minute's stats and any earlier ones.
        self._minute = self._minute_of(self._clock.wall())
        self._cells: dict[SeriesKey, Stat] = {}
        self._pending: Minutes = {self._minute: self._cells}
        # Everything since the server started, folded in at each flush (for /metrics).
        self._totals: dict[SeriesKey, Stat] = {}
        # Functions deleted since the last flush: their points still pending are written
        # to the store but not folded into the totals (or a deleted function's totals,
        # forgotten at its deletion, would come back at the next flush and stay).
        self._forgotten: set[str] = set()
        self._series: dict[tuple[str, str, str], InvocationSeries] = {}
        # Invocations in flight by level (function, qualifier, version; "" = all).
        self.running: collections.Counter[Level] = collections.Counter()
        self.provisioned_running: collections.Counter[Level] = collections.Counter()
        self.unreserved = 0
        self._lock = asyncio.Lock()  # a read does not see a batch twice nor miss it
        # function -> metric -> value, since start (the /_ember/metrics view)
        self._counters: dict[str, dict[str, int]] = {}
        self._summaries: dict[str, dict[str, Summary]] = {}
        self._queue_depths: QueueDepths | None = None
        self._provisioned_now: ProvisionedNow | None = None
        self._provisioned_since = self._clock.wall()

    def sample_queues(self, depths: QueueDepths) -> None:
        """Record AWS/SQS queue depths from `depths()` at each write (every few seconds)."""
        self._queue_depths = depths

    def sample_provisioned(self, allocated: ProvisionedNow) -> None:
        """Record provisioned environment-seconds from `allocated()` at each write (what
        Lambda bills provisioned concurrency by, used or not)."""
        self._provisioned_now = allocated

    def queue_depths(self) -> Mapping[str, tuple[int, int, int]]:
        """Each queue's (visible, in flight, delayed) messages now."""
        return self._queue_depths() if self._queue_depths is not None else {}

    # -- recording (the invoke path) ----------------------------------------------------

    @staticmethod
    def _minute_of(wall: float) -> int:
        return int(wall // 60) * 60

    def cells(self) -> dict[SeriesKey, Stat]:
        """The current minute's stats (a new minute starts them afresh)."""
        minute = self._minute_of(self._clock.wall())
        if minute != self._minute:
            self._roll(minute)
        return self._cells

    def stat(self, key: SeriesKey) -> Stat:
        """The current minute's stat of series `key`."""
        return _stat(self.cells(), key)

    def sample(self, metric: str, level: Level, value: float) -> None:
        self.stat((LAMBDA, metric, *level)).add(value)

    def _roll(self, minute: int) -> None:
        self._minute = minute
        self._cells = self._pending.setdefault(minute, {})
        # Invocations still running are concurrent executions of the new minute too.
        for level, n in self.running.items():
            if n:
                self._cell_add((LAMBDA, CONCURRENT_EXECUTIONS, *level), n)
        for level, n in self.provisioned_running.items():
            if n:
                self._cell_add((LAMBDA, PROVISIONED_CONCURRENT_EXECUTIONS, *level), n)
        if self.unreserved:
            self._cell_add((LAMBDA, UNRESERVED_CONCURRENT_EXECUTIONS, "", "", ""), self.unreserved)

    def _cell_add(self, key: SeriesKey, value: float) -> None:
        _stat(self._cells, key).add(value)

    def series(self, function: str, version: str, invoked_arn: str) -> InvocationSeries:
        """The series invocations of `function` through `invoked_arn` running `version`
        are counted in (cached: one dict lookup per invoke)."""
        found = self._series.get((function, version, invoked_arn))
        if found is None:
            qualifier = qualifier_of(invoked_arn)
            found = InvocationSeries(self, function, qualifier, version)
            self._series[(function, version, invoked_arn)] = found
        return found

    def count(self, function: str, name: str, value: int = 1) -> None:
        counters = self._counters.setdefault(function, {})
        counters[name] = counters.get(name, 0) + value
        self.stat((LAMBDA, name, function, "", "")).add(float(value))

    def observe(self, function: str, name: str, value: float) -> None:
        summaries = self._summaries.setdefault(function, {})
        summaries[name] = summaries.get(name, Summary(0, 0.0, 0.0, 0.0)).add(value)
        self.stat((LAMBDA, name, function, "", "")).add(value)

    def forget(self, function: str) -> None:
        """The function was deleted: its live counters go (its points stay until they
        age out, as CloudWatch keeps a deleted function's metrics)."""
        self._counters.pop(function, None)
        self._summaries.pop(function, None)
        for key in [k for k in self._series if k[0] == function]:
            del self._series[key]
        for total in [k for k in self._totals if _of_function(k, function)]:
            del self._totals[total]
        self._forgotten.add(function)

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

    # -- writing ------------------------------------------------------------------------

    async def run(self) -> None:
        """Write what was recorded every few seconds, until cancelled."""
        while True:
            await self._clock.sleep(self._flush_interval)
            try:
                await self.flush()
            except Exception:  # a failed write loses points, never the server
                log.exception("writing metrics failed")

    async def flush(self) -> None:
        """Move everything recorded so far into the store (one transaction)."""
        for queue, counts in self.queue_depths().items():
            for metric, value in zip(QUEUE_DEPTHS, counts, strict=True):
                self.stat((SQS, metric, queue, "", "")).add(float(value))
        self._sample_provisioned()
        async with self._lock:
            batch = self._take()
            forgotten, self._forgotten = self._forgotten, set()
            for stats in batch.values():
                for key, stat in stats.items():
                    if forgotten and key[0] in _PER_FUNCTION and key[2] in forgotten:
                        continue
                    total = self._totals.get(key)
                    if total is None:
                        self._totals[key] = stat.copy()
                    else:
                        total.merge(stat)
            if self._store is None:
                return
            keep_since = self._minute_of(self._clock.wall() - self.retention)
            await run_blocking(self._store.merge, batch, keep_since)

    def _sample_provisioned(self) -> None:
        now = self._clock.wall()
        elapsed, self._provisioned_since = now - self._provisioned_since, now
        if self._provisioned_now is None or elapsed <= 0:
            return
        for (function, qualifier, memory), count in self._provisioned_now().items():
            if count:
                key = (BILLING, PROVISIONED_SECONDS, function, str(memory), qualifier)
                self.stat(key).add(count * elapsed)

    def _take(self) -> Minutes:
        batch = {minute: stats for minute, stats in self._pending.items() if stats}
        self._cells = {}
        self._pending = {self._minute: self._cells}
        return batch

    async def close(self) -> None:
        """Write the last points, then close the store."""
        try:
            await self.flush()
        except Exception:  # the server's shutdown goes on without them
            log.exception("writing the last metrics failed")
        if self._store is not None:
            await run_blocking(self._store.close)

    # -- reading ------------------------------------------------------------------------

    async def points(
        self, namespace: str, metric: str, dimensions: Mapping[str, str], start: float, end: float
    ) -> dict[int, Stat]:
        """The metric's one-minute points with start <= minute < end, each merged over the
        series that make it up: minute -> stat."""
        wanted = pattern(namespace, metric, dimensions)
        if wanted is None:
            return {}
        first, last = self._minute_of(start), math.ceil(end / 60) * 60
        merged: dict[int, Stat] = {}
        async with self._lock:
            if self._store is not None:
                stored = await run_blocking(self._store.read, [wanted], first, last)
                for _, minute, stat in stored:
                    _merge_into(merged, minute, stat)
            for minute, stats in self._pending.items():
                if first <= minute < last:
                    for key, stat in stats.items():
                        if _matches(key, wanted):
                            _merge_into(merged, minute, stat)
        return merged

    async def usage(self, metric: str, start: float, end: float) -> dict[SeriesKey, Stat]:
        """Ember's own billing series `metric` (metrics_catalog.BILLING), each summed over
        the minutes with start <= minute < end."""
        self._sample_provisioned()  # provisioned time up to now, not only to the last write
        wanted: Pattern = (BILLING, metric, None, None, None)
        first, last = self._minute_of(start), math.ceil(end / 60) * 60
        summed: dict[SeriesKey, Stat] = {}
        async with self._lock:
            found = []
            if self._store is not None:
                found = await run_blocking(self._store.read, [wanted], first, last)
            found += [
                (key, minute, stat)
                for minute, stats in self._pending.items()
                if first <= minute < last
                for key, stat in stats.items()
                if _matches(key, wanted)
            ]
            for key, _, stat in found:
                into = summed.get(key)
                if into is None:
                    summed[key] = stat.copy()
                else:
                    into.merge(stat)
        return summed

    async def known_series(self, within: float | None = None) -> set[SeriesKey]:
        """Every series with a point within the last `within` seconds (default: the
        retention period)."""
        since = self._minute_of(self._clock.wall() - (within or self.retention))
        async with self._lock:
            found = set(await run_blocking(self._store.series, since)) if self._store else set()
            for minute, stats in self._pending.items():
                if minute >= since:
                    found.update(key for key, stat in stats.items() if stat.count)
        return found

    def totals(self) -> dict[SeriesKey, Stat]:
        """Each series since the server started (copies): what /metrics exposes."""
        merged = {key: stat.copy() for key, stat in self._totals.items()}
        for stats in self._pending.values():
            for key, stat in stats.items():
                total = merged.get(key)
                if total is None:
                    merged[key] = stat.copy()
                else:
                    total.merge(stat)
        return merged


# Namespaces whose series name a function third (SeriesKey[2]); AWS/SQS names a queue there.
_PER_FUNCTION = frozenset({LAMBDA, BILLING})


def _of_function(key: SeriesKey, function: str) -> bool:
    return key[0] in _PER_FUNCTION and key[2] == function


def _stat(cells: dict[SeriesKey, Stat], key: SeriesKey) -> Stat:
    stat = cells.get(key)
    if stat is None:
        stat = cells[key] = Stat(key[1] in HISTOGRAMS)
    return stat


def _matches(key: SeriesKey, wanted: Pattern) -> bool:
    return all(w is None or w == k for k, w in zip(key, wanted, strict=True))


def _merge_into(merged: dict[int, Stat], minute: int, stat: Stat) -> None:
    into = merged.get(minute)
    if into is None:
        merged[minute] = stat.copy()
    else:
        into.merge(stat)


def _decrement(counter: collections.Counter[Level], level: Level) -> None:
    counter[level] -= 1
    if counter[level] <= 0:
        del counter[level]
