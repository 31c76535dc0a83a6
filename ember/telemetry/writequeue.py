"""File operations waiting for the log writer, in the order they were made. Appends to one
segment since the last other operation share one write; appends of a segment removed before
they reached the disk are cancelled (a flood would otherwise write the bytes its own
trimming removes right after)."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Iterable
from typing import Any

from ember.store.segments import SegmentFiles

Op = Callable[[SegmentFiles], None]
Key = tuple[str, str, int]  # group, stream, segment number


def op(method: Callable[..., None], *args: Any) -> Op:
    """`method` of the segment files, applied with `args` when the writer gets to it."""
    return functools.partial(_call, method, args)


def _call(method: Callable[..., None], args: tuple[Any, ...], files: SegmentFiles) -> None:
    method(files, *args)


@dataclasses.dataclass(slots=True)
class _Append:
    """Records for one segment, written with one call."""

    key: Key
    records: list[bytes]

    def __call__(self, files: SegmentFiles) -> None:
        if self.records:  # none: cancelled, the segment went before reaching the disk
            files.append(*self.key, b"".join(self.records))


class WriteQueue:
    def __init__(self) -> None:
        self._ops: list[Op] = []
        self._open: dict[Key, _Append] = {}  # appends still extended: none since, but these
        self._appends: dict[Key, list[_Append]] = {}  # every queued append, by segment
        self.bytes = 0  # of records queued

    def add(self, operation: Op) -> None:
        self._open.clear()  # later appends go after this operation
        self._ops.append(operation)

    def append(self, key: Key, record: bytes) -> None:
        pending = self._open.get(key)
        if pending is None:
            pending = self._open[key] = _Append(key, [])
            self._appends.setdefault(key, []).append(pending)
            self._ops.append(pending)
        pending.records.append(record)
        self.bytes += len(record)

    def cancel(self, keys: Iterable[Key]) -> None:
        for key in list(keys):
            for pending in self._appends.pop(key, []):
                self.bytes -= sum(len(record) for record in pending.records)
                pending.records.clear()
            self._open.pop(key, None)

    def segments(self) -> list[Key]:
        """The segments with appends queued."""
        return list(self._appends)

    def take(self) -> list[Op]:
        """Everything queued, in order; the queue starts empty again."""
        ops, self._ops = self._ops, []
        self._open.clear()
        self._appends.clear()
        self.bytes = 0
        return ops
