"""A stream in memory: its shards, each an ordered list of records, and their write limits."""

from __future__ import annotations

import asyncio
import bisect
import dataclasses
from typing import Any

from ember.streams.keys import hash_ranges, sequence_number, shard_id

# AWS's write limits per shard: 1,000 records and 1 MiB each second.
RECORDS_PER_SECOND = 1000
BYTES_PER_SECOND = 1024 * 1024


@dataclasses.dataclass(frozen=True, slots=True)
class StoredRecord:
    position: int
    arrival: float  # epoch seconds (ApproximateArrivalTimestamp)
    key: str  # PartitionKey
    data: bytes


class Shard:
    def __init__(self, index: int, start: int, end: int, parents: tuple[int, ...] = ()) -> None:
        self.index = index
        self.id = shard_id(index)
        self.start = start  # HashKeyRange, inclusive
        self.end = end
        self.parents = parents  # the shards a reshard made this one from (their indexes)
        self.closing = False  # resharded away: takes no more records
        self.ending: int | None = None  # closed: its last position (EndingSequenceNumber)
        self.records: list[StoredRecord] = []  # by position
        self.next_position = 1  # the next record's position (reserved before the commit)
        self.durable = 0  # the newest durable record's position (kept when it expires)
        self._second = -1  # the second the write counters below belong to
        self._count = 0
        self._bytes = 0

    def admit(self, now: float, size: int) -> bool:
        """Take one record of `size` bytes into this second's write allowance, if it fits."""
        second = int(now)
        if second != self._second:
            self._second, self._count, self._bytes = second, 0, 0
        if self._count + 1 > RECORDS_PER_SECOND or self._bytes + size > BYTES_PER_SECOND:
            return False
        self._count += 1
        self._bytes += size
        return True

    def reserve(self) -> int:
        position = self.next_position
        self.next_position += 1
        return position

    def append(self, record: StoredRecord) -> None:
        """A durable record; commits apply in reservation order, so the list stays sorted."""
        self.records.append(record)
        self.durable = record.position

    def after(self, position: int, limit: int) -> list[StoredRecord]:
        """Up to `limit` records past `position`, oldest first."""
        start = bisect.bisect_right(self.records, position, key=lambda r: r.position)
        return self.records[start : start + limit]

    def first_at(self, wall: float) -> int:
        """The position just before the first record that arrived at or after `wall`."""
        start = bisect.bisect_left(self.records, wall, key=lambda r: r.arrival)
        if start < len(self.records):
            return self.records[start].position - 1
        return self.last_position()

    def last_position(self) -> int:
        """The position of the newest durable record (0: none yet). Not `next_position - 1`:
        positions reserved by puts still committing are not there yet."""
        return self.durable

    def horizon(self) -> int:
        """The position just before the oldest record kept (TRIM_HORIZON)."""
        return self.records[0].position - 1 if self.records else self.last_position()

    def overlaps(self, other: Shard) -> bool:
        return self.start <= other.end and other.start <= self.end

    def expire(self, before: float) -> int | None:
        """Drop records that arrived before `before`; the last position dropped, or None."""
        cut = bisect.bisect_left(self.records, before, key=lambda r: r.arrival)
        if cut == 0:
            return None
        last = self.records[cut - 1].position
        del self.records[:cut]
        return last


class StreamState:
    def __init__(
        self,
        name: str,
        arn: str,
        *,
        shard_count: int,
        mode: str,
        retention_hours: int,
        created: float,
    ) -> None:
        self.name = name
        self.arn = arn
        self.mode = mode  # PROVISIONED | ON_DEMAND
        self.retention_hours = retention_hours
        self.created = created
        self.shards = [Shard(i, s, e) for i, (s, e) in enumerate(hash_ranges(shard_count))]
        self.arrived = asyncio.Event()  # set (and replaced) whenever records become durable
        self.deleted = False
        self.tags: dict[str, str] = {}

    @property
    def created_seconds(self) -> int:
        return int(self.created)

    def sequence(self, shard: Shard, position: int) -> str:
        return sequence_number(self.created_seconds, shard.index, position)

    def shard(self, shard: str) -> Shard | None:
        for candidate in self.shards:
            if candidate.id == shard:
                return candidate
        return None

    def open_shards(self) -> list[Shard]:
        """The shards that take records, by hash range (uniform: see `reshard`)."""
        return [s for s in self.shards if not s.closing]

    def reshard(self, count: int) -> list[Shard]:
        """UpdateShardCount's UNIFORM_SCALING: `count` new shards split the hash space
        evenly, each the child of the open shards its range overlaps; those stop taking
        records now and close (`close_resharded`) once the puts before are durable."""
        old = self.open_shards()
        first = len(self.shards)
        new = []
        for offset, (start, end) in enumerate(hash_ranges(count)):
            child = Shard(first + offset, start, end)
            child.parents = tuple(s.index for s in old if s.overlaps(child))
            new.append(child)
        for shard in old:
            shard.closing = True
        self.shards += new
        return new

    def close_resharded(self) -> None:
        for shard in self.shards:
            if shard.closing and shard.ending is None:
                shard.ending = shard.last_position()
        self.notify()  # readers see the ends and the new shards

    def notify(self) -> None:
        arrived, self.arrived = self.arrived, asyncio.Event()
        arrived.set()

    def layout(self) -> list[dict[str, Any]] | int:
        """The shards as stored: their count while never resharded, else each one."""
        if all(not s.parents and not s.closing for s in self.shards):
            return len(self.shards)
        return [{"start": str(s.start), "end": str(s.end), "parents": list(s.parents),
                 "closing": s.closing} for s in self.shards]  # fmt: skip

    def restore_layout(self, layout: list[dict[str, Any]]) -> None:
        self.shards = []
        for index, doc in enumerate(layout):
            shard = Shard(index, int(doc["start"]), int(doc["end"]), tuple(doc["parents"]))
            shard.closing = bool(doc["closing"])
            self.shards.append(shard)

    def to_doc(self) -> dict[str, Any]:
        return {
            "arn": self.arn,
            "shards": self.layout(),
            "mode": self.mode,
            "retention": self.retention_hours,
            "created": self.created,
            "tags": self.tags,
        }
