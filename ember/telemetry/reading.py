"""Log events read back from stored segments: decoding, time windows, paging by position,
and the merge of several streams by time. Blocking (reads files): call it off the loop.

A segment holds one JSON record a line: `{"t": ms, "m": message}` for one event (Lambda's
platform lines, PutLogEvents), or `{"t": ms, "n": [line, ...]}` for the lines one read of a
process's output brought (each an event, its message the line and its newline).
"""

from __future__ import annotations

import collections
import dataclasses
import heapq
import itertools
from collections.abc import Callable, Iterable, Iterator

import orjson


@dataclasses.dataclass(frozen=True, slots=True)
class LogEvent:
    timestamp: int  # epoch ms
    message: str
    stream: str
    ingestion_time: int
    event_id: str  # unique within the group: the stream, segment and position


# Reads one segment's bytes: (segment number) -> bytes.
SegmentReader = Callable[[int], bytes]


def stream_events(stream: str, numbers: Iterable[int], read: SegmentReader) -> Iterator[LogEvent]:
    """Every event of one stream, in the order written."""
    for number in numbers:
        for position, line in enumerate(read(number).splitlines()):
            try:
                record = orjson.loads(line)
                stamp = int(record["t"])
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                continue  # a line cut short by a crash
            lines = record.get("n")
            if lines is None:
                message = str(record.get("m", ""))
                yield LogEvent(stamp, message, stream, stamp, f"{stream}#{number}.{position}")
                continue
            for index, text in enumerate(lines):
                yield LogEvent(
                    stamp, text + "\n", stream, stamp, f"{stream}#{number}.{position}.{index}"
                )


def window(events: Iterable[LogEvent], start: int | None, end: int | None) -> Iterator[LogEvent]:
    """Events in [start, end), as CloudWatch's startTime/endTime select them."""
    for event in events:
        if (start is None or event.timestamp >= start) and (end is None or event.timestamp < end):
            yield event


def merged(streams: list[Iterator[LogEvent]]) -> Iterator[LogEvent]:
    """Several streams' events interleaved by time (each stream is in time order)."""
    return heapq.merge(*streams, key=lambda event: event.timestamp)


def page(
    events: Iterator[LogEvent], skip: int, limit: int, max_bytes: int
) -> tuple[list[LogEvent], bool]:
    """Events from position `skip`: at most `limit`, and at most `max_bytes` of messages
    (at least one). Also whether any remain after them."""
    found: list[LogEvent] = []
    size = 0
    for event in itertools.islice(events, skip, None):
        size += len(event.message) + 26  # CloudWatch counts 26 bytes per event
        if found and (len(found) >= limit or size > max_bytes):
            return found, True
        found.append(event)
    return found, False


def page_before(
    events: Iterator[LogEvent], end: int | None, limit: int, max_bytes: int
) -> tuple[list[LogEvent], int]:
    """The events right before position `end` (None: the last ones), in order: at most
    `limit`, and at most `max_bytes` of messages (at least one). Also the position of the
    first of them. CloudWatch's GetLogEvents reads a stream backwards this way."""
    last: collections.deque[LogEvent] = collections.deque(maxlen=limit)
    count = 0
    for event in events if end is None else itertools.islice(events, end):
        last.append(event)
        count += 1
    size = sum(len(event.message) + 26 for event in last)
    while len(last) > 1 and size > max_bytes:
        size -= len(last.popleft().message) + 26
    return list(last), count - len(last)
