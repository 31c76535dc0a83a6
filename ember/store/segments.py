"""Append-only files cut into numbered segments, two levels deep: folders of streams, each
stream a folder of segments. Telemetry keeps log groups and their streams this way.

    <root>/<folder>/.name                 {"name": ..., "created": ms}
    <root>/<folder>/<stream>/.name        the stream's name and creation time
    <root>/<folder>/<stream>/<n>.jsonl    segment n, appended to until the caller moves on

A directory's name is the name percent-quoted, or `#` and its SHA-256 where that would be
too long for a file name (a `#` is always quoted, so the two never meet). The caller
decides when a segment is full and which to remove; this module knows only the layout.
Every method blocks (call it off the event loop), and one thread at a time writes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import shutil
import urllib.parse
from pathlib import Path

import orjson

from ember.errors import ServiceError

_META = ".name"
_RETENTION = ".retention"  # a folder's retention in days, when it has one
_SUFFIX = ".jsonl"
_MAX_DIR_NAME = 200  # bytes; file systems allow 255


@dataclasses.dataclass(slots=True)
class Segment:
    number: int
    size: int
    first: int | None  # ms timestamp of its first record, when known
    last: int | None  # ms timestamp of its last record (about its mtime after a restart)


@dataclasses.dataclass(slots=True)
class StoredStream:
    name: str
    created: int
    segments: list[Segment]  # oldest first


@dataclasses.dataclass(slots=True)
class StoredFolder:
    name: str
    created: int
    streams: dict[str, StoredStream]
    retention: int | None = None  # days (PutRetentionPolicy), None: kept


def _dir_name(name: str) -> str:
    quoted = urllib.parse.quote(name, safe="")
    if len(quoted) <= _MAX_DIR_NAME:
        return quoted
    return "#" + hashlib.sha256(name.encode()).hexdigest()


def _first_timestamp(path: Path) -> int | None:
    with (
        contextlib.suppress(OSError, orjson.JSONDecodeError, KeyError, TypeError),
        open(path, "rb") as file,
    ):
        return int(orjson.loads(file.readline())["t"])
    return None


class SegmentFiles:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        # (folder, stream, segment number) -> its path and an fd open for appending: the
        # key, not the path, is looked up on every append (quoting names into a path costs
        # more than the write itself).
        self._open: dict[tuple[str, str, int], tuple[Path, int]] = {}

    # -- paths ------------------------------------------------------------------------

    def _folder(self, folder: str) -> Path:
        return self.root / _dir_name(folder)

    def _stream(self, folder: str, stream: str) -> Path:
        return self._folder(folder) / _dir_name(stream)

    def segment_path(self, folder: str, stream: str, number: int) -> Path:
        return self._stream(folder, stream) / f"{number:08d}{_SUFFIX}"

    # -- reading the layout -------------------------------------------------------------

    def load(self) -> dict[str, StoredFolder]:
        """Everything on disk: folder name -> folder."""
        found: dict[str, StoredFolder] = {}
        try:
            for folder_dir in sorted(self.root.iterdir()):
                if folder_dir.is_dir():
                    folder = self._load_folder(folder_dir)
                    found[folder.name] = folder
        except OSError as exc:
            raise ServiceError(f"cannot read the log folder {self.root}: {exc}") from exc
        return found

    @staticmethod
    def _meta(path: Path) -> tuple[str, int]:
        try:
            doc = orjson.loads((path / _META).read_bytes())
            return str(doc["name"]), int(doc["created"])
        except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return urllib.parse.unquote(path.name), int(path.stat().st_mtime * 1000)

    def _load_folder(self, path: Path) -> StoredFolder:
        name, created = self._meta(path)
        folder = StoredFolder(name, created, {})
        with contextlib.suppress(OSError, ValueError):
            folder.retention = int((path / _RETENTION).read_text())
        for old in path.glob(f"*{_SUFFIX}"):  # earlier versions: one flat file per stream
            target = path / _dir_name(urllib.parse.unquote(old.stem))
            target.mkdir(exist_ok=True)
            old.rename(target / f"{0:08d}{_SUFFIX}")
        for entry in sorted(path.iterdir()):
            if entry.is_dir():
                stream_name, stream_created = self._meta(entry)
                segments = [
                    self._segment(file, int(file.stem))
                    for file in sorted(entry.glob(f"*{_SUFFIX}"))
                    if file.stem.isdigit()
                ]
                folder.streams[stream_name] = StoredStream(stream_name, stream_created, segments)
        return folder

    @staticmethod
    def _segment(path: Path, number: int) -> Segment:
        stat = path.stat()
        first = _first_timestamp(path)
        # The file system's clock is coarser than the records' (a few ms behind at most).
        last = max(int(stat.st_mtime * 1000), first or 0)
        return Segment(number, stat.st_size, first, last)

    def read(self, folder: str, stream: str, number: int) -> bytes:
        """A segment's bytes; empty when it is gone (removed since it was listed)."""
        try:
            return self.segment_path(folder, stream, number).read_bytes()
        except FileNotFoundError:
            return b""
        except OSError as exc:
            raise ServiceError(f"cannot read a log segment: {exc}") from exc

    # -- writing ----------------------------------------------------------------------

    def create_folder(self, folder: str, created: int) -> None:
        self._create(self._folder(folder), folder, created)

    def set_retention(self, folder: str, days: int | None) -> None:
        """Keep (None: forget) a folder's retention in days, beside its name."""
        path = self._folder(folder) / _RETENTION
        try:
            if days is None:
                path.unlink(missing_ok=True)
            else:
                path.write_text(str(days))
        except OSError as exc:
            raise ServiceError(f"cannot write a log group's retention: {exc}") from exc

    def create_stream(self, folder: str, stream: str, created: int) -> None:
        self._create(self._stream(folder, stream), stream, created)

    @staticmethod
    def _create(path: Path, name: str, created: int) -> None:
        try:
            path.mkdir(parents=True, exist_ok=True)
            meta = path / _META
            if not meta.exists():
                meta.write_bytes(orjson.dumps({"name": name, "created": created}))
        except OSError as exc:
            raise ServiceError(f"cannot create {path}: {exc}") from exc

    def append(self, folder: str, stream: str, number: int, data: bytes) -> None:
        """Append to segment `number` (created if new; its stream must exist)."""
        key = (folder, stream, number)
        opened = self._open.get(key)
        path = opened[0] if opened is not None else self.segment_path(folder, stream, number)
        try:
            if opened is None:
                fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
                self._open[key] = (path, fd)
            else:
                fd = opened[1]
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
        except OSError as exc:
            raise ServiceError(f"cannot append to {path}: {exc}") from exc

    def close_segment(self, folder: str, stream: str, number: int) -> None:
        """Done appending to this segment: release its descriptor."""
        opened = self._open.pop((folder, stream, number), None)
        if opened is not None:
            os.close(opened[1])

    def remove_segment(self, folder: str, stream: str, number: int) -> None:
        self.close_segment(folder, stream, number)
        self.segment_path(folder, stream, number).unlink(missing_ok=True)

    def remove_stream(self, folder: str, stream: str) -> None:
        self._remove_tree(self._stream(folder, stream))

    def remove_folder(self, folder: str) -> None:
        self._remove_tree(self._folder(folder))

    def _remove_tree(self, path: Path) -> None:
        for key in [k for k, (p, _) in self._open.items() if p.is_relative_to(path)]:
            os.close(self._open.pop(key)[1])
        shutil.rmtree(path, ignore_errors=True)

    def close(self) -> None:
        for _, fd in self._open.values():
            os.close(fd)
        self._open.clear()
