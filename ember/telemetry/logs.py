"""Log groups and streams as append-only JSON-lines files, as CloudWatch Logs shapes them.

`<log_dir>/<group, quoted>/<stream, quoted>.jsonl`, one `{"t": ms, "m": text}` a line.
"""

from __future__ import annotations

import dataclasses
import os
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import orjson

from ember.clock import Clock


@dataclasses.dataclass(frozen=True, slots=True)
class LogEvent:
    timestamp: int  # epoch ms
    message: str
    stream: str
    ingestion_time: int
    event_id: str  # unique within the group: the stream and the line's position in it


@dataclasses.dataclass(slots=True)
class StreamInfo:
    group: str
    name: str
    path: Path
    created: int
    first_event: int | None = None
    last_event: int | None = None
    stored_bytes: int = 0


def _quote(name: str) -> str:
    return urllib.parse.quote(name, safe="")


class LogStream:
    """An open stream that one environment appends to."""

    def __init__(self, info: StreamInfo, clock: Clock) -> None:
        self.info = info
        self._clock = clock
        self._fd = os.open(info.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    @property
    def name(self) -> str:
        return self.info.name

    def write(self, message: str, timestamp: int | None = None) -> None:
        """Append one event (a small unbuffered write: cheap enough for the loop)."""
        if self._fd < 0:
            return
        ts = timestamp if timestamp is not None else int(self._clock.wall() * 1000)
        line = orjson.dumps({"t": ts, "m": message}) + b"\n"
        os.write(self._fd, line)
        if self.info.first_event is None:
            self.info.first_event = ts
        self.info.last_event = ts
        self.info.stored_bytes += len(line)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class LogStore:
    """Every log group and stream on this node."""

    def __init__(self, root: Path, clock: Clock) -> None:
        self._root = root
        self._clock = clock
        root.mkdir(parents=True, exist_ok=True)
        self._streams: dict[str, dict[str, StreamInfo]] = {}  # group -> stream -> info
        self._load()

    def _load(self) -> None:
        for group_dir in self._root.iterdir():
            if not group_dir.is_dir():
                continue
            group = urllib.parse.unquote(group_dir.name)
            streams = self._streams.setdefault(group, {})
            for path in group_dir.glob("*.jsonl"):
                name = urllib.parse.unquote(path.name.removesuffix(".jsonl"))
                stat = path.stat()
                info = StreamInfo(group, name, path, created=int(stat.st_mtime * 1000))
                info.stored_bytes = stat.st_size
                for event in self._read(info):
                    if info.first_event is None:
                        info.first_event = event.timestamp
                    info.last_event = event.timestamp
                if info.first_event is not None:
                    info.created = info.first_event
                streams[name] = info

    def open_stream(self, group: str, stream: str) -> LogStream:
        group_dir = self._root / _quote(group)
        group_dir.mkdir(parents=True, exist_ok=True)
        streams = self._streams.setdefault(group, {})
        info = streams.get(stream)
        if info is None:
            info = StreamInfo(
                group,
                stream,
                group_dir / f"{_quote(stream)}.jsonl",
                created=int(self._clock.wall() * 1000),
            )
            streams[stream] = info
        return LogStream(info, self._clock)

    def groups(self) -> list[str]:
        return sorted(self._streams)

    def streams(self, group: str) -> list[StreamInfo]:
        return list(self._streams.get(group, {}).values())

    def has_group(self, group: str) -> bool:
        return group in self._streams

    def has_stream(self, group: str, stream: str) -> bool:
        return stream in self._streams.get(group, {})

    def events(
        self,
        group: str,
        streams: list[str] | None = None,
        start: int | None = None,
        end: int | None = None,
    ) -> list[LogEvent]:
        """Events of a group (optionally some streams), oldest first, in [start, end)."""
        chosen = [
            info
            for name, info in self._streams.get(group, {}).items()
            if streams is None or name in streams
        ]
        found = [
            event
            for info in chosen
            for event in self._read(info)
            if (start is None or event.timestamp >= start)
            and (end is None or event.timestamp < end)
        ]
        found.sort(key=lambda e: e.timestamp)
        return found

    @staticmethod
    def _read(info: StreamInfo) -> Iterator[LogEvent]:
        try:
            data = info.path.read_bytes()
        except FileNotFoundError:
            return
        for number, line in enumerate(data.splitlines()):
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue  # a line cut short by a crash
            yield LogEvent(
                record["t"], record["m"], info.name, record["t"], f"{info.name}#{number}"
            )
