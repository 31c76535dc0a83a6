"""One enabled stream mapping at work: each shard read in order, its records batched and
delivered, a failing batch retried while its shard (or, with ParallelizationFactor > 1, its
partition keys' lane) waits, and the shard's checkpoint saved durably after each batch.

Per shard: a reader hands records to `parallelization` lanes by partition key (one key
always to the same lane, so its order holds); each lane delivers one batch at a time. The
shard's checkpoint is the last position below which every record is done (processed,
filtered out, or given up on), so a restart resumes there: at-least-once.

A failing batch (Lambda's rules for streams): retried until it succeeds, its records are
older than MaximumRecordAgeInSeconds (or the stream's retention), or it failed
MaximumRetryAttempts + 1 times; BisectBatchOnFunctionError splits it in two first (a split
is not a retry); ReportBatchItemFailures checkpoints below the lowest failed sequence number
and retries from there. A batch given up on goes to the OnFailure destination as a failure
record (its records stay in the stream).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import logging
import uuid
from collections import OrderedDict
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

import orjson

from ember.clock import Clock
from ember.control.mappings import Mapping, MappingService
from ember.errors import LambdaError, ResourceNotFoundError, TooManyRequestsError
from ember.invoke import Invoker
from ember.invoke.sinks import MessageSink
from ember.sources.filtering import CompilePattern, RecordFilter
from ember.sources.responses import ALL_FAILED, failed_items
from ember.sources.source import Record
from ember.sources.stream import RecordView, ShardSource, ShardView, StreamView
from ember.sources.windows import Window, window_start
from ember.telemetry.metrics_catalog import ITERATOR_AGE

log = logging.getLogger("ember.sources")

MAX_PAYLOAD = 6 * 1024 * 1024  # a synchronous invocation's payload limit
READ_AHEAD = 4  # batches per lane a shard's reader keeps ready
IDLE_WAIT = 1.0  # seconds a reader waits for new records before looking again
MISSING_PAUSE = 5.0  # seconds between looks for a stream that is not there
RETRY_FIRST = 0.1  # seconds before retrying a failed batch, doubled up to ...
RETRY_MAX = 2.0
PROBLEM_PAUSE = 1.0  # seconds after an invoke that could not run (no function, …)

# Reports LastProcessingResult.
ResultSink = Callable[[str], None]
# (function name, metric name, value): the IteratorAge metric.
Observe = Callable[[str, str, float], None]


@dataclasses.dataclass(slots=True)
class _Failed:
    """Why a batch failed: the response for the failure record, and where to resume."""

    response: tuple[int, str, str] | None  # (statusCode, executedVersion, functionError)
    request_id: str
    first_failed: int = 0  # index of the first record to retry (ReportBatchItemFailures)
    function_error: bool = True  # False: the invoke could not run (no retry counted)


class _Progress:
    """A shard's records in flight, in order, and the checkpoint they allow."""

    def __init__(self, checkpoint: int) -> None:
        self.checkpoint = checkpoint
        self._flight: OrderedDict[int, bool] = OrderedDict()  # position -> done
        self.changed = asyncio.Event()

    def __len__(self) -> int:
        return len(self._flight)

    def add(self, position: int) -> None:
        self._flight[position] = False

    def done(self, positions: Sequence[int]) -> bool:
        """Mark them done; whether the checkpoint moved."""
        for position in positions:
            if position in self._flight:
                self._flight[position] = True
        moved = False
        while self._flight:
            position, finished = next(iter(self._flight.items()))
            if not finished:
                break
            self._flight.popitem(last=False)
            self.checkpoint = position
            moved = True
        self.changed.set()
        return moved


class StreamPoller:
    def __init__(
        self,
        mapping: Mapping,
        streams: ShardSource,
        invoker: Invoker,
        clock: Clock,
        *,
        compile_pattern: CompilePattern,
        on_result: ResultSink,
        role: Callable[[], str],
        sink: MessageSink | None,
        region: str,
        observe: Observe | None = None,
    ) -> None:
        assert mapping.stream is not None
        self.mapping = mapping
        self._config = mapping.stream
        self._streams = streams
        self._invoker = invoker
        self._clock = clock
        self._filter = RecordFilter(
            mapping.filters, compile_pattern, lambda r: streams.filter_view(r.event)
        )
        self._on_result = on_result
        self._role = role
        self._sink = sink
        self._region = region
        self._observe = observe
        self._stopping = asyncio.Event()
        self._batches = 0

    def statistics(self) -> dict[str, int]:
        return {"batches": self._batches}

    def stop(self) -> None:
        """Idle readers and lanes end at once; a batch being delivered finishes first."""
        self._stopping.set()

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with self._clock.timeout(seconds):
                await self._stopping.wait()

    async def run(self) -> None:
        while not self._stopping.is_set():
            state = self._streams.find(self.mapping.source_arn)
            if state is None:
                self._on_result("PROBLEM: Stream not found")
                await self._pause(MISSING_PAUSE)
                continue
            await self._follow(state)
            if not state.deleted:
                return

    async def _follow(self, state: StreamView) -> None:
        """One task per shard, started as shards appear (a reshard adds some); a child
        shard is read once its parents are read to their end, so each key's order holds."""
        finished: dict[int, asyncio.Event] = {}
        async with asyncio.TaskGroup() as shards:
            while not self._stopping.is_set() and not state.deleted:
                for shard in list(state.shards):
                    if shard.index not in finished:
                        finished[shard.index] = asyncio.Event()
                        shards.create_task(
                            self._shard(state, shard, finished),
                            name=f"stream-poller-{self.mapping.uuid}-{shard.id}",
                        )
                await self._until(self._reshaped(state, len(state.shards)), MISSING_PAUSE)

    async def _reshaped(self, state: StreamView, count: int) -> None:
        while len(state.shards) == count and not state.deleted:
            await self._streams.wait(state, MISSING_PAUSE)

    async def _shard(
        self, state: StreamView, shard: ShardView, finished: dict[int, asyncio.Event]
    ) -> None:
        for parent in getattr(shard, "parents", ()):
            while not finished[parent].is_set():
                if self._stopping.is_set() or state.deleted:
                    return
                await self._until(finished[parent].wait(), MISSING_PAUSE)
        saved = self._streams.checkpoints(self.mapping.uuid, state)
        start = saved.get(shard.index)
        if start is None:
            start = self._starting_point(shard)
            # Saved at once, so that a restart does not move the start.
            await self._streams.save_checkpoint(self.mapping.uuid, state, shard.index, start)
        if await self._read_shard(state, shard.index, start):
            finished[shard.index].set()

    def _starting_point(self, shard: ShardView) -> int:
        position = self._config.starting_position
        if position == "TRIM_HORIZON":
            return shard.horizon()
        if position == "AT_TIMESTAMP":
            return shard.first_at(self._config.starting_timestamp or 0.0)
        # LATEST: what arrives from the mapping's creation on (the poller may start a moment
        # later; a record put right after CreateEventSourceMapping counts). A shard a reshard
        # made later holds only such records: it is read from its start.
        return shard.first_at(self.mapping.created)

    # -- one shard ------------------------------------------------------------------------

    def _lane_of(self, key: str) -> int:
        lanes = self._config.parallelization
        if lanes == 1:
            return 0
        return int.from_bytes(hashlib.md5(key.encode()).digest()[:4], "big") % lanes

    async def _read_shard(self, state: StreamView, shard: int, checkpoint: int) -> bool:
        """Until stop(), the stream's deletion, or the end of a closed shard: whether the
        shard was read (and delivered) to its end."""
        progress = _Progress(checkpoint)
        lanes: list[asyncio.Queue[RecordView | None]] = [
            asyncio.Queue() for _ in range(self._config.parallelization)
        ]
        ahead = READ_AHEAD * self.mapping.batch_size * len(lanes)
        saving = asyncio.Lock()
        async with asyncio.TaskGroup() as group:
            for lane in lanes:
                group.create_task(self._lane(state, shard, lane, progress, saving))
            read_at = checkpoint
            while not self._stopping.is_set() and not state.deleted:
                ending: int | None = getattr(state.shards[shard], "ending", None)
                if ending is not None and read_at >= ending:
                    break  # a closed shard, read to its end
                room = ahead - len(progress)
                if room <= 0:
                    progress.changed.clear()
                    await self._until(progress.changed.wait(), IDLE_WAIT)
                    continue
                records = self._streams.read(state, shard, read_at, room)
                if not records and ending is not None:
                    break  # closed, and what was left of it expired: nothing more comes
                if not records:
                    await self._until(self._arrival(state, shard, read_at), IDLE_WAIT)
                    continue
                for record in records:
                    progress.add(record.position)
                    lanes[self._lane_of(record.key)].put_nowait(record)
                read_at = records[-1].position
            for lane in lanes:
                lane.put_nowait(None)
        ending = getattr(state.shards[shard], "ending", None)
        if ending is None or self._stopping.is_set() or state.deleted:
            return False
        if progress.checkpoint < ending:  # its last records expired unread
            await self._streams.save_checkpoint(self.mapping.uuid, state, shard, ending)
        return True

    async def _arrival(self, state: StreamView, shard: int, after: int) -> None:
        """Until records past `after` are there. Looking and starting to wait happen with no
        suspension between them, so a record shown meanwhile cannot be missed."""
        if not self._streams.read(state, shard, after, 1):
            await self._streams.wait(state, IDLE_WAIT)

    async def _until(self, waiting: Coroutine[Any, Any, Any], seconds: float) -> None:
        """Await `waiting`, for at most `seconds`, or until stop()."""
        task = asyncio.ensure_future(waiting)
        stop = asyncio.ensure_future(self._stopping.wait())
        try:
            with contextlib.suppress(TimeoutError):
                async with self._clock.timeout(seconds):
                    await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            task.cancel()
            stop.cancel()

    async def _take(
        self,
        lane: asyncio.Queue[RecordView | None],
        first: RecordView | None,
        until: float | None = None,
    ) -> tuple[list[RecordView] | None, RecordView | None]:
        """The lane's next batch (None: the shard's reader has ended) and a record left over
        for the next one: up to BatchSize records, waiting up to
        MaximumBatchingWindowInSeconds for the batch to fill, within the 6 MB payload."""
        if first is None:
            if until is None:
                first = await lane.get()
            else:  # a tumbling window ends at `until` (wall clock): TimeoutError then
                async with self._clock.timeout(max(0.0, until - self._clock.wall())):
                    first = await lane.get()
            if first is None:
                return None, None
        batch = [first]
        length = self._config.tumbling_window
        size = self._streams.size(first)
        deadline = self._clock.monotonic() + self.mapping.batching_window
        while len(batch) < self.mapping.batch_size:
            if lane.empty():
                remaining = deadline - self._clock.monotonic()
                if remaining <= 0 or self._stopping.is_set():
                    break
                try:
                    async with self._clock.timeout(remaining):
                        following = await lane.get()
                except TimeoutError:
                    break
            else:
                following = lane.get_nowait()
            if following is None:
                lane.put_nowait(None)  # the next take sees the end too
                break
            if size + self._streams.size(following) > MAX_PAYLOAD or (
                length
                and window_start(following.arrival, length) != window_start(first.arrival, length)
            ):
                return batch, following  # it opens the next batch: the lane's order holds
            batch.append(following)
            size += self._streams.size(following)
        return batch, None

    async def _lane(
        self,
        state: StreamView,
        shard: int,
        lane: asyncio.Queue[RecordView | None],
        progress: _Progress,
        saving: asyncio.Lock,
    ) -> None:
        carry: RecordView | None = None
        length = self._config.tumbling_window
        window: Window | None = None
        while True:
            try:
                batch, carry = await self._take(lane, carry, window.end if window else None)
            except TimeoutError:  # the window is over: its last invocation
                assert window is not None
                if not await self._deliver(state, shard, [], window, final=True):
                    return
                window = None
                continue
            if batch is None:
                return
            if length:
                start = window_start(batch[0].arrival, length)
                if window is not None and window.start != start:
                    if not await self._deliver(state, shard, [], window, final=True):
                        return
                    window = None
                window = window or Window(start, length)
            if not await self._deliver(state, shard, batch, window):
                return  # stopping: the rest is read again after the checkpoint
            self._batches += 1
            if progress.done([r.position for r in batch]):
                async with saving:
                    await self._streams.save_checkpoint(
                        self.mapping.uuid, state, shard, progress.checkpoint
                    )

    # -- one batch ------------------------------------------------------------------------

    async def _deliver(
        self,
        state: StreamView,
        shard: int,
        batch: list[RecordView],
        window: Window | None = None,
        *,
        final: bool = False,
    ) -> bool:
        """Until every record is processed, filtered out or given up on: True. False when
        the poller stops first."""
        events = {
            r.position: self._streams.event(state, shard, r, role=self._role(), region=self._region)
            for r in batch
        }
        kept_ids = {
            rec.item_id
            for rec in self._filter.split(
                [Record(str(p), None, 0, e, "") for p, e in events.items()]
            )[0]
        }
        records = [r for r in batch if str(r.position) in kept_ids]
        if self._observe is not None and batch:
            age = max(0.0, self._clock.wall() - batch[0].arrival) * 1000
            self._observe(self.mapping.function_name, ITERATOR_AGE, age)
        pending: list[tuple[list[RecordView], int]] = [(records, 0)] if records or final else []
        delay = RETRY_FIRST
        while pending:
            if self._stopping.is_set() or state.deleted:
                return False  # not done: read again from the checkpoint
            part, attempts = pending[0]
            old = self._too_old(state, part)
            if old and not final:
                # Lambda discards the records past MaximumRecordAgeInSeconds (or the
                # stream's retention) and goes on with the younger ones.
                await self._give_up(state, shard, old, "RecordAgeExceeded", attempts, None, "")
                part = part[len(old) :]
                if not part:
                    pending.pop(0)
                    continue
                pending[0] = (part, attempts)
            event: dict[str, Any] = {"Records": [events[r.position] for r in part]}
            if window is not None:
                event.update(window.members(state.shards[shard].id, state.arn, final=final))
            failed = await self._invoke(part, orjson.dumps(event), state, shard, window)
            if failed is None:
                pending.pop(0)
                delay = RETRY_FIRST
                continue
            if not failed.function_error:  # throttled, no function…: not a retry
                await self._pause(delay)
                delay = min(delay * 2, RETRY_MAX)
                continue
            attempts += 1
            if failed.first_failed > 0:
                # ReportBatchItemFailures: the records before the lowest failure are done
                # (with bisection on, Lambda splits the batch right there).
                part = part[failed.first_failed :]
            elif self._config.bisect and len(part) > 1:
                half = len(part) // 2
                # A split is not a retry (Lambda): both halves keep the attempts so far.
                pending[0:1] = [(part[:half], attempts - 1), (part[half:], attempts - 1)]
                continue
            retries = self._config.maximum_retries
            if retries != -1 and attempts > retries:
                await self._give_up(state, shard, part, "RetryAttemptsExhausted", attempts,
                                    failed.response, failed.request_id)  # fmt: skip
                pending.pop(0)
                continue
            pending[0] = (part, attempts)
            await self._pause(delay)
            delay = min(delay * 2, RETRY_MAX)
        return True

    def _too_old(self, state: StreamView, records: list[RecordView]) -> list[RecordView]:
        """The batch's leading records older than the mapping allows (oldest come first)."""
        limit = self._config.maximum_record_age
        if limit == -1:
            limit = state.retention_hours * 3600
        oldest = self._clock.wall() - limit
        return [r for r in records if r.arrival < oldest]

    async def _invoke(
        self,
        records: list[RecordView],
        payload: bytes,
        state: StreamView,
        shard: int,
        window: Window | None,
    ) -> _Failed | None:
        """Invoke with one batch: None when it is processed, else how it failed."""
        request_id = str(uuid.uuid4())
        try:
            result = await self._invoker.invoke(
                self.mapping.function_name, self.mapping.qualifier, payload,
                request_id=request_id,
            )  # fmt: skip
        except TooManyRequestsError:
            return _Failed(None, request_id, function_error=False)
        except ResourceNotFoundError:
            self._on_result("PROBLEM: Function not found")
            await self._pause(PROBLEM_PAUSE)
            return _Failed(None, request_id, function_error=False)
        except LambdaError as exc:
            self._on_result(f"PROBLEM: {exc.message}")
            await self._pause(PROBLEM_PAUSE)
            return _Failed(None, request_id, function_error=False)
        response = (200, result.executed_version, result.function_error or "")
        if result.function_error is not None:
            self._on_result("PROBLEM: Function call failed")
            return _Failed(response, request_id)
        if window is not None:
            window.keep(result.payload)
        if self.mapping.reports_item_failures:
            sequences = {state.sequence(state.shards[shard], r.position): i
                         for i, r in enumerate(records)}  # fmt: skip
            failed = failed_items(result.payload, set(sequences))
            if failed is ALL_FAILED:
                self._on_result("PROBLEM: Function call failed")
                return _Failed(response, request_id)
            if failed:
                # Lambda checkpoints below the lowest failed sequence number.
                self._on_result("OK")
                return _Failed(response, request_id, first_failed=min(sequences[s] for s in failed))
        self._on_result("OK")
        return None

    async def _give_up(
        self,
        state: StreamView,
        shard: int,
        records: list[RecordView],
        condition: str,
        attempts: int,
        response: tuple[int, str, str] | None,
        request_id: str,
    ) -> None:
        destination = self._config.on_failure
        if destination is None or self._sink is None:
            return
        record = self._streams.failure_record(
            state, shard, records, condition=condition, request_id=request_id or str(uuid.uuid4()),
            function_arn=self.mapping.function_arn, invocations=attempts, response=response,
            now=self._clock.wall(),
        )  # fmt: skip
        try:
            await self._sink.send(destination, orjson.dumps(record).decode(), {})
        except LambdaError as exc:
            log.warning("event source mapping %s: OnFailure destination %s: %s",
                        self.mapping.uuid, destination, exc.message)  # fmt: skip


class StreamPollers:
    """Builds the poller of each stream mapping (the composition root wires one), reading
    the stream source of the mapping's kind ("kinesis", "dynamodb")."""

    def __init__(
        self,
        streams: dict[str, ShardSource],  # source kind -> its streams
        invoker: Invoker,
        clock: Clock,
        *,
        compile_pattern: CompilePattern,
        role: Callable[[str], str],  # function name -> its execution role
        sink: MessageSink | None,
        region: str,
        observe: Observe | None = None,
        mappings: MappingService | None = None,
    ) -> None:
        self._streams = streams
        self._invoker = invoker
        if mappings is not None:  # a deleted mapping's checkpoints go with it
            mappings.on_change(self._forget)
        self._clock = clock
        self._compile = compile_pattern
        self._role = role
        self._sink = sink
        self._region = region
        self._observe = observe

    def _forget(self, old: Mapping, new: Mapping | None) -> None:
        source = self._streams.get(old.source_kind)
        if new is None and old.stream is not None and source is not None:
            source.forget_consumer(old.uuid)

    def handles(self, mapping: Mapping) -> bool:
        """Whether `mapping` reads a stream of a kind wired here."""
        return mapping.stream is not None and mapping.source_kind in self._streams

    def poller(self, mapping: Mapping, on_result: ResultSink) -> StreamPoller:
        def role() -> str:
            try:
                return self._role(mapping.function_name)
            except LambdaError:
                return ""  # the function is gone: the invoke says so

        return StreamPoller(
            mapping, self._streams[mapping.source_kind], self._invoker, self._clock,
            compile_pattern=self._compile, on_result=on_result, role=role, sink=self._sink,
            region=self._region, observe=self._observe,
        )  # fmt: skip
