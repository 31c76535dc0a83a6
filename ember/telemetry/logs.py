"""Log groups and streams, as CloudWatch Logs shapes them, kept in `store`'s segment files.

Writes never touch the disk on the event loop: they are encoded, counted in the index at
once, and queued; one writer task (`run()`, owned by the server) applies the queue in
order from a thread, appends of one segment batched into one write. Reads first wait for
the queue to reach the disk, so a caller reads what was written before it asked.

Each group keeps at most `limit_bytes` (a function's log group: its cap): past it, the
oldest segments of the group are removed, as CloudWatch's retention expires old events.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
from collections.abc import Callable
from pathlib import Path

import orjson

from ember.blocking import run_blocking
from ember.clock import Clock
from ember.errors import ServiceError
from ember.store.segments import Segment, SegmentFiles
from ember.telemetry import reading
from ember.telemetry.reading import LogEvent
from ember.telemetry.writequeue import Op, WriteQueue, op

log = logging.getLogger("ember.telemetry")

DEFAULT_LIMIT = 64 << 20  # bytes kept per log group (per function) by default
_MAX_SEGMENT = 8 << 20
_MIN_SEGMENT = 64 << 10
_INLINE_BYTES = 64 << 10  # a queue this small is written on the loop (see flush())
_MAX_QUEUED = 32 << 20  # bytes waiting for the writer; past it new events are dropped
_DAY_MS = 86_400_000
EXPIRY_INTERVAL = 60.0  # seconds between sweeps for expired events


@dataclasses.dataclass(slots=True)
class StreamInfo:
    group: str
    name: str
    created: int
    segments: list[Segment] = dataclasses.field(default_factory=list)  # oldest first
    next_number: int = 0  # the segment the next write goes to (once the last one is full)
    writers: int = 0  # open LogStream handles (environments writing to it)

    @property
    def first_event(self) -> int | None:
        return self.segments[0].first if self.segments else None

    @property
    def last_event(self) -> int | None:
        return self.segments[-1].last if self.segments else None

    @property
    def stored_bytes(self) -> int:
        return sum(segment.size for segment in self.segments)


@dataclasses.dataclass(slots=True)
class GroupInfo:
    name: str
    created: int
    streams: dict[str, StreamInfo] = dataclasses.field(default_factory=dict)
    stored_bytes: int = 0
    retention_days: int | None = None  # PutRetentionPolicy: older events expire

    def cutoff(self, now_ms: int) -> int | None:
        """Events before this time have expired (None: all are kept)."""
        if self.retention_days is None:
            return None
        return now_ms - self.retention_days * _DAY_MS


class LogStream:
    """One environment's handle on its stream. Writes are cheap and never block."""

    def __init__(self, store: LogStore, group: str, name: str) -> None:
        self._store = store
        self.group = group
        self.name = name
        self.detached = False  # its group was forgotten with its function: writes go nowhere

    def write(self, message: str) -> None:
        """One event (a platform line, the last line of output without its newline)."""
        stamp = self._store.now_ms()
        self._store.append(self, orjson.dumps({"t": stamp, "m": message}) + b"\n", stamp)

    def write_lines(self, lines: list[str]) -> None:
        """One event per line (each gets its newline back when read)."""
        if lines:
            stamp = self._store.now_ms()
            self._store.append(self, orjson.dumps({"t": stamp, "n": lines}) + b"\n", stamp)

    def close(self) -> None:
        self._store.release(self)


class LogStore:
    """Every log group and stream on this node. Used from the event loop only."""

    def __init__(
        self, files: SegmentFiles | Path, clock: Clock, limit_bytes: int = DEFAULT_LIMIT
    ) -> None:
        self._files = files if isinstance(files, SegmentFiles) else SegmentFiles(files)
        self._clock = clock
        self.limit_bytes = limit_bytes
        self._segment_bytes = max(_MIN_SEGMENT, min(_MAX_SEGMENT, limit_bytes // 8))
        self._groups: dict[str, GroupInfo] = {}
        self._handles: dict[str, set[LogStream]] = {}  # group -> open handles
        self._queue = WriteQueue()
        self._dropped = 0
        self._wake = asyncio.Event()
        self._io = asyncio.Lock()  # one batch reaches the disk at a time, in order
        self._closed = False
        self._load()

    def _load(self) -> None:
        """What is on disk (before the loop runs)."""
        for folder in self._files.load().values():
            group = self._groups[folder.name] = GroupInfo(folder.name, folder.created)
            group.retention_days = folder.retention
            for stored in folder.streams.values():
                info = StreamInfo(folder.name, stored.name, stored.created, stored.segments)
                info.next_number = stored.segments[-1].number + 1 if stored.segments else 0
                group.streams[stored.name] = info
                group.stored_bytes += info.stored_bytes

    def now_ms(self) -> int:
        return int(self._clock.wall() * 1000)

    # -- the writer ---------------------------------------------------------------------

    async def run(self) -> None:
        """Apply queued writes until cancelled (after close())."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self.flush()

    async def flush(self) -> None:
        """Bring the disk up to everything queued so far. A small batch (an invocation's
        few lines) is written right here: appending to the page cache takes microseconds,
        while a thread would contend for the GIL with the loop on every invoke (that cost
        a third of the warm throughput); a large one (a flood) goes to a thread."""
        async with self._io:
            inline = self._queue.bytes <= _INLINE_BYTES
            queue = self._queue.take()
            if not queue:
                return
            if inline:
                self._apply(queue)
            else:
                await run_blocking(self._apply, queue)

    def _apply(self, queue: list[Op]) -> None:
        for operation in queue:
            try:
                operation(self._files)
            except (ServiceError, OSError) as exc:  # e.g. a full disk: these events are lost
                log.warning("log write failed: %s", exc)

    async def close(self) -> None:
        """Write what is queued and release the files; later writes are dropped."""
        self._closed = True
        await self.flush()
        async with self._io:
            await run_blocking(self._files.close)

    def _queue_op(self, operation: Op) -> None:
        self._queue.add(operation)
        self._wake.set()

    # -- writing ------------------------------------------------------------------------

    def open_stream(self, group: str, stream: str) -> LogStream:
        handle = LogStream(self, group, stream)
        self._ensure(group, stream).writers += 1
        self._handles.setdefault(group, set()).add(handle)
        return handle

    def release(self, handle: LogStream) -> None:
        handles = self._handles.get(handle.group)
        if handles is None or handle not in handles:
            return
        handles.discard(handle)
        if not handles:
            del self._handles[handle.group]
        info = self._stream(handle.group, handle.name)
        if info is not None:
            info.writers = max(0, info.writers - 1)
            if info.segments:
                last = info.segments[-1].number
                self._queue_op(op(SegmentFiles.close_segment, info.group, info.name, last))

    def _ensure(self, group: str, stream: str) -> StreamInfo:
        """The stream, made (with its group) when missing: Lambda recreates a deleted group
        on its next write."""
        found = self._groups.get(group)
        if found is None:
            found = self._create_group(group)
        info = found.streams.get(stream)
        if info is None:
            info = found.streams[stream] = StreamInfo(group, stream, self.now_ms())
            info.writers = sum(1 for h in self._handles.get(group, ()) if h.name == stream)
            self._queue_op(op(SegmentFiles.create_stream, group, stream, info.created))
        return info

    def _create_group(self, group: str) -> GroupInfo:
        found = self._groups[group] = GroupInfo(group, self.now_ms())
        self._queue_op(op(SegmentFiles.create_folder, group, found.created))
        return found

    def append(self, handle: LogStream, record: bytes, stamp: int) -> None:
        if handle.detached or self._closed:
            return
        self._append(self._ensure(handle.group, handle.name), record, stamp)

    def _append(self, info: StreamInfo, record: bytes, stamp: int) -> None:
        if self._queue.bytes > _MAX_QUEUED:  # the disk cannot keep up: shed, never block
            self._dropped += len(record)
            if self._dropped == len(record):
                log.warning("log writes are behind by %d bytes: dropping events", _MAX_QUEUED)
            return
        self._dropped = 0
        segment = info.segments[-1] if info.segments else None
        if (
            segment is None
            or segment.number != info.next_number - 1
            or (segment.size and segment.size + len(record) > self._segment_bytes)
        ):
            if segment is not None and segment.number == info.next_number - 1:
                self._queue_op(
                    op(SegmentFiles.close_segment, info.group, info.name, segment.number)
                )
            segment = Segment(info.next_number, 0, stamp, stamp)
            info.segments.append(segment)
            info.next_number += 1
        self._queue.append((info.group, info.name, segment.number), record)
        self._wake.set()
        segment.size += len(record)
        segment.last = stamp
        group = self._groups[info.group]
        group.stored_bytes += len(record)
        if group.stored_bytes > self.limit_bytes:
            self._trim(group)

    def _trim(self, group: GroupInfo) -> None:
        """Remove the group's oldest segments until it fits its limit."""
        while group.stored_bytes > self.limit_bytes:
            candidates = [info for info in group.streams.values() if info.segments]
            if not candidates:
                return
            oldest = min(candidates, key=lambda i: (i.segments[0].first or 0, i.name))
            segment = oldest.segments.pop(0)
            group.stored_bytes -= segment.size
            self._queue.cancel([(group.name, oldest.name, segment.number)])
            self._queue_op(op(SegmentFiles.remove_segment, group.name, oldest.name, segment.number))
            if not oldest.segments and not oldest.writers:  # emptied by age: it goes
                del group.streams[oldest.name]
                self._queue_op(op(SegmentFiles.remove_stream, group.name, oldest.name))

    def put_events(self, group: str, stream: str, events: list[tuple[int, str]]) -> None:
        """PutLogEvents: events with their own timestamps, into an existing stream."""
        info = self._stream(group, stream)
        if info is None or self._closed:
            return
        for stamp, message in events:
            self._append(info, orjson.dumps({"t": stamp, "m": message}) + b"\n", stamp)
        if info.segments and not info.writers:  # no descriptor stays open per idle stream
            last = info.segments[-1].number
            self._queue_op(op(SegmentFiles.close_segment, group, stream, last))

    # -- retention ----------------------------------------------------------------------

    def set_retention(self, group: str, days: int | None) -> bool:
        """PutRetentionPolicy (days) / DeleteRetentionPolicy (None); expired events go at
        once. False when there is no such group."""
        found = self._groups.get(group)
        if found is None:
            return False
        found.retention_days = days
        self._queue_op(op(SegmentFiles.set_retention, group, days))
        self.expire()
        return True

    async def run_expiry(self, interval: float = EXPIRY_INTERVAL) -> None:
        """Remove expired events every `interval` seconds until cancelled (owned by the
        server); reads never show them, removed or not."""
        while True:
            self.expire()
            await self._clock.sleep(interval)

    def expire(self) -> None:
        """Remove the segments whose every event is past its group's retention (a
        segment's newer events keep it; reads hide its older ones)."""
        now = self.now_ms()
        for group in self._groups.values():
            cutoff = group.cutoff(now)
            if cutoff is None:
                continue
            for info in list(group.streams.values()):
                while info.segments and _expired(info, cutoff):
                    segment = info.segments.pop(0)
                    group.stored_bytes -= segment.size
                    key = (group.name, info.name, segment.number)
                    self._queue.cancel([key])
                    self._queue_op(op(SegmentFiles.remove_segment, *key))

    def cutoff(self, group: str) -> int | None:
        """Events of `group` before this time have expired (None: kept, or no group)."""
        found = self._groups.get(group)
        return found.cutoff(self.now_ms()) if found is not None else None

    def _live(
        self, group: str, window: tuple[int | None, int | None]
    ) -> tuple[int | None, int | None]:
        """A read's time window, narrowed to what its group's retention keeps."""
        cutoff = self.cutoff(group)
        if cutoff is None:
            return window
        start, end = window
        return (cutoff if start is None else max(start, cutoff), end)

    # -- groups and streams -------------------------------------------------------------

    def create_group(self, group: str) -> bool:
        """False when it exists."""
        if group in self._groups:
            return False
        self._create_group(group)
        return True

    def create_stream(self, group: str, stream: str) -> bool:
        """False when it exists (the group must)."""
        if self._stream(group, stream) is not None:
            return False
        self._ensure(group, stream)
        return True

    def delete_group(self, group: str) -> bool:
        """Remove the group and its events. Environments writing to it recreate it with
        their next line, as Lambda does. False when there was none."""
        if self._groups.pop(group, None) is None:
            return False
        self._queue.cancel(key for key in self._queue.segments() if key[0] == group)
        self._queue_op(op(SegmentFiles.remove_folder, group))
        return True

    def delete_stream(self, group: str, stream: str) -> bool:
        found = self._groups.get(group)
        if found is None or found.streams.pop(stream, None) is None:
            return False
        self._queue.cancel(k for k in self._queue.segments() if k[:2] == (group, stream))
        self._queue_op(op(SegmentFiles.remove_stream, group, stream))
        return True

    def forget_function(self, group: str) -> None:
        """A function was deleted: its log group goes, and its environments, still shutting
        down, write nowhere (a function created again under the name starts afresh)."""
        for handle in self._handles.pop(group, set()):
            handle.detached = True
        self.delete_group(group)

    # -- reading ------------------------------------------------------------------------

    def groups(self) -> list[GroupInfo]:
        return [self._groups[name] for name in sorted(self._groups)]

    def streams(self, group: str) -> list[StreamInfo]:
        found = self._groups.get(group)
        return list(found.streams.values()) if found is not None else []

    def has_group(self, group: str) -> bool:
        return group in self._groups

    def has_stream(self, group: str, stream: str) -> bool:
        return self._stream(group, stream) is not None

    def _stream(self, group: str, stream: str) -> StreamInfo | None:
        found = self._groups.get(group)
        return found.streams.get(stream) if found is not None else None

    async def stream_page(
        self,
        group: str,
        stream: str,
        window: tuple[int | None, int | None],
        skip: int,
        limit: int,
        max_bytes: int,
    ) -> tuple[list[LogEvent], bool]:
        """GetLogEvents: one stream's events in the time window, from position `skip`."""
        await self.flush()
        plan = self._plan(group, [stream])
        window = self._live(group, window)
        return await run_blocking(self._read_page, group, plan, window, skip, limit, max_bytes)

    async def stream_page_before(
        self,
        group: str,
        stream: str,
        window: tuple[int | None, int | None],
        end: int | None,
        limit: int,
        max_bytes: int,
    ) -> tuple[list[LogEvent], int]:
        """GetLogEvents read backwards: the events before position `end` (None: the
        stream's last ones) and the position of the first of them."""
        await self.flush()
        plan = self._plan(group, [stream])
        window = self._live(group, window)
        return await run_blocking(self._read_before, group, plan, window, end, limit, max_bytes)

    async def group_page(
        self,
        group: str,
        streams: list[str] | None,
        window: tuple[int | None, int | None],
        match: Callable[[str], bool],
        skip: int,
        limit: int,
        max_bytes: int,
    ) -> tuple[list[LogEvent], bool]:
        """FilterLogEvents: matching events of some streams (all: None), by time."""
        await self.flush()
        plan = self._plan(group, streams)
        window = self._live(group, window)
        return await run_blocking(
            self._read_page, group, plan, window, skip, limit, max_bytes, match
        )

    def _plan(self, group: str, streams: list[str] | None) -> list[tuple[str, list[int]]]:
        """What to read (stream, segment numbers), copied on the loop."""
        found = self._groups.get(group)
        if found is None:
            return []
        return [
            (info.name, [segment.number for segment in info.segments])
            for name, info in found.streams.items()
            if streams is None or name in streams
        ]

    def _read_before(
        self,
        group: str,
        plan: list[tuple[str, list[int]]],
        window: tuple[int | None, int | None],
        end: int | None,
        limit: int,
        max_bytes: int,
    ) -> tuple[list[LogEvent], int]:
        iterators = [
            reading.stream_events(
                stream, numbers, functools.partial(self._files.read, group, stream)
            )
            for stream, numbers in plan
        ]
        events = reading.window(reading.merged(iterators), *window)
        return reading.page_before(events, end, limit, max_bytes)

    def _read_page(
        self,
        group: str,
        plan: list[tuple[str, list[int]]],
        window: tuple[int | None, int | None],
        skip: int,
        limit: int,
        max_bytes: int,
        match: Callable[[str], bool] | None = None,
    ) -> tuple[list[LogEvent], bool]:
        iterators = [
            reading.stream_events(
                stream, numbers, functools.partial(self._files.read, group, stream)
            )
            for stream, numbers in plan
        ]
        events = reading.window(reading.merged(iterators), *window)
        if match is not None:
            events = (event for event in events if match(event.message))
        return reading.page(events, skip, limit, max_bytes)


def _expired(info: StreamInfo, cutoff: int) -> bool:
    """The stream's oldest segment holds only expired events (its newest is too old); the
    segment being written is never removed."""
    segment = info.segments[0]
    last = segment.last if segment.last is not None else segment.first
    if last is None or last >= cutoff:
        return False
    return not (info.writers and segment.number == info.next_number - 1)
