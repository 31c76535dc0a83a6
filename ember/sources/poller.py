"""One enabled mapping at work: its workers fetch, filter, invoke and acknowledge batches."""

from __future__ import annotations

import asyncio
import enum
import logging
import random
from collections.abc import Callable

import orjson

from ember.clock import Clock
from ember.control.mappings import Mapping
from ember.errors import LambdaError, ResourceNotFoundError, TooManyRequestsError
from ember.invoke import Invoker
from ember.sources.filtering import CompilePattern, RecordFilter
from ember.sources.responses import ALL_FAILED, failed_items, split_batch
from ember.sources.scaling import INITIAL, next_workers
from ember.sources.source import Record, Source

log = logging.getLogger("ember.sources")

TICK = 0.5  # seconds between scaling decisions
THROTTLE_FIRST = 0.05  # seconds: first backoff after a throttle, doubled up to ...
THROTTLE_MAX = 1.0
ERROR_PAUSE = 1.0  # seconds a worker waits after the invoke itself failed (no function…)
STOP_GRACE = 5.0  # seconds in-flight batches get to finish when a poller stops


class Phase(enum.Enum):
    FETCHING = "fetching"  # safe to cancel: nothing taken yet, or it comes back by itself
    PROCESSING = "processing"  # a batch in hand: let it finish


# The function's concurrency bound for this mapping's workers, read on each tick.
Limit = Callable[[], int]
# Reports LastProcessingResult.
ResultSink = Callable[[str], None]
# (function, the records' trace headers) -> the request id to invoke with, or None when
# the invocation would continue a recursive loop (RecursionGuard.start).
LoopCheck = Callable[[str, list[str | None]], str | None]


class MappingPoller:
    def __init__(
        self,
        mapping: Mapping,
        source: Source,
        invoker: Invoker,
        clock: Clock,
        *,
        limit: Limit,
        compile_pattern: CompilePattern,
        on_result: ResultSink,
        loop_check: LoopCheck | None = None,
    ) -> None:
        self.mapping = mapping
        self._loop_check = loop_check
        self._source = source
        self._invoker = invoker
        self._clock = clock
        self._limit = limit
        self._filter = RecordFilter(mapping.filters, compile_pattern, source.view)
        self._on_result = on_result
        self._stopping = asyncio.Event()
        self._wanted = 0
        self._phases: dict[int, Phase] = {}  # worker index -> what it is doing
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._random = random.Random()
        self._group: asyncio.TaskGroup | None = None  # workers and pending acks

    def statistics(self) -> dict[str, int]:
        return {"workers": len(self._tasks), "wanted": self._wanted}

    def stop(self) -> None:
        """Ask the poller to end: idle workers go at once, busy ones finish their batch."""
        self._stopping.set()
        for index, task in self._tasks.items():
            if self._phases.get(index) is Phase.FETCHING:
                task.cancel()

    async def run(self) -> None:
        """Until stop(): scale the workers every tick."""
        async with asyncio.TaskGroup() as workers:
            self._group = workers
            self._wanted = min(self._cap(), INITIAL)
            previous = self._backlog()
            while not self._stopping.is_set():
                for index in range(self._wanted):
                    if index not in self._tasks:
                        self._tasks[index] = workers.create_task(
                            self._work(index), name=f"poller-{self.mapping.uuid}-{index}"
                        )
                try:
                    async with self._clock.timeout(TICK):
                        await self._stopping.wait()
                except TimeoutError:
                    pass
                backlog = self._backlog()
                self._wanted = next_workers(
                    len(self._tasks), backlog, previous, self.mapping.batch_size, self._cap(), TICK
                )
                previous = backlog
            self.stop()

    def _cap(self) -> int:
        cap = self._limit()
        if self.mapping.maximum_concurrency is not None:
            cap = min(cap, self.mapping.maximum_concurrency)
        return cap

    def _backlog(self) -> int:
        try:
            return self._source.backlog()
        except LambdaError:
            return 0  # the queue is gone: fetches say so

    async def _work(self, index: int) -> None:
        try:
            while not self._stopping.is_set() and index < self._wanted:
                self._phases[index] = Phase.FETCHING
                try:
                    batch = await self._source.fetch(
                        self.mapping.batch_size, float(self.mapping.batching_window)
                    )
                except LambdaError as exc:  # the queue was deleted, …
                    self._on_result(f"PROBLEM: {exc.message}")
                    await self._pause(ERROR_PAUSE)
                    continue
                if not batch:
                    continue
                self._phases[index] = Phase.PROCESSING
                await self._process(batch)
        finally:
            self._phases.pop(index, None)
            self._tasks.pop(index, None)

    async def _pause(self, seconds: float) -> None:
        try:
            async with self._clock.timeout(seconds):
                await self._stopping.wait()
        except TimeoutError:
            pass

    def _ack_later(self, records: list[Record]) -> None:
        """Acknowledge without holding the worker: it fetches the next batch while the
        deletion commits (a crash before the commit only brings the records back)."""
        assert self._group is not None
        self._group.create_task(self._ack(records))

    async def _ack(self, records: list[Record]) -> None:
        try:
            await self._source.ack(records)
        except LambdaError as exc:  # e.g. the queue was deleted meanwhile
            log.warning("event source mapping %s: %s", self.mapping.uuid, exc.message)

    async def _process(self, batch: list[Record]) -> None:
        kept, dropped = self._filter.split(batch)
        if dropped:
            await self._source.ack(dropped)  # Lambda deletes what no filter matches
        if not kept:
            return
        request_id = None
        if self._loop_check is not None:
            request_id = self._loop_check(self.mapping.function_name, [r.trace for r in kept])
            if request_id is None:
                self._ack_later(kept)  # Lambda stops the loop: the records are dropped
                return
        payload = orjson.dumps({"Records": [r.event for r in kept]})
        # The batch is ours until the source takes it back (SQS: its visibility timeout).
        deadline = self._clock.monotonic() + max(1.0, self._source.visibility() - 1.0)
        delay = THROTTLE_FIRST
        while True:
            try:
                result = await self._invoker.invoke(
                    self.mapping.function_name,
                    self.mapping.qualifier,
                    payload,
                    request_id=request_id,
                )
                break
            except TooManyRequestsError:
                # Lambda backs off and retries a throttled batch; past the visibility
                # timeout the records come back by themselves, so nothing is lost.
                if self._clock.monotonic() + delay >= deadline or self._stopping.is_set():
                    await self._source.release(kept)  # not tried: available again at once
                    return
                await self._clock.sleep(delay * (0.5 + self._random.random()))
                delay = min(delay * 2, THROTTLE_MAX)
            except ResourceNotFoundError:
                self._on_result("PROBLEM: Function not found")
                await self._source.nack(kept)
                await self._pause(ERROR_PAUSE)
                return
            except LambdaError as exc:
                self._on_result(f"PROBLEM: {exc.message}")
                await self._source.nack(kept)
                await self._pause(ERROR_PAUSE)
                return
        if result.function_error is not None:
            self._on_result("PROBLEM: Function call failed")
            await self._source.nack(kept)
            return
        failed: set[str] | None = set()
        if self.mapping.reports_item_failures:
            failed = failed_items(result.payload, {r.item_id for r in kept})
        done, retry = split_batch(kept, failed, ordered=self._source.ordered)
        if done:
            self._ack_later(done)
        if retry:
            await self._source.nack(retry)
        self._on_result("OK" if failed is not ALL_FAILED else "PROBLEM: Function call failed")
