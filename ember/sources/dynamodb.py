"""A DynamoDB table stream as the shard-ordered stream poller (ember.sources.shards) reads
it: the same in-process shape as Kinesis streams (find, read, wait, checkpoints), one shard
per stream, and what differs from Kinesis — Lambda's `aws:dynamodb` event record, the view
FilterCriteria match, and the failure record (`DDBStreamBatchInfo`) an OnFailure
destination receives.

Positions are the table store's stream sequence numbers (increasing, not contiguous).
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Sequence
from typing import Any

import orjson

from ember.clock import Clock
from ember.control.mappings import SourceFacts
from ember.sources import failures
from ember.tables import LiveStream, Tables, sequence_text

RETENTION_HOURS = 24  # DynamoDB keeps stream records for 24 hours


def source_facts(tables: Tables, arn: str) -> SourceFacts | None:
    """What control's mapping checks need to know of a table-stream ARN (None: no such
    stream, or one that is disabled)."""
    stream = tables.stream(arn)
    if stream is None or not stream.info.enabled:
        return None
    return SourceFacts(kind="dynamodb")


@dataclasses.dataclass(frozen=True, slots=True)
class TableRecord:
    """A stream record as the poller handles records: position, arrival, the key that
    picks its lane, and bytes whose length stands for its size."""

    position: int
    arrival: float
    key: str  # the item's key as text: records of one item keep their order
    data: bytes  # the record as JSON (only its length is used: payload size)
    doc: dict[str, Any]


class TableShard:
    """A stream's one shard."""

    index = 0

    def __init__(self, stream: LiveStream) -> None:
        self._stream = stream
        self.id = stream.info.shard

    def horizon(self) -> int:
        return self._stream.horizon()

    def first_at(self, wall: float) -> int:
        for record in self._stream.records:
            if record.created >= wall:
                return record.seq - 1
        return self._stream.last_seq()

    def last_position(self) -> int:
        return self._stream.last_seq()


class TableStreamState:
    """A table stream seen as a stream of one shard."""

    retention_hours = RETENTION_HOURS

    def __init__(self, stream: LiveStream) -> None:
        self.stream = stream
        self.arn = stream.info.arn
        self.shards = [TableShard(stream)]

    @property
    def deleted(self) -> bool:
        return self.stream.deleted

    def sequence(self, shard: TableShard, position: int) -> str:
        return sequence_text(position)


class TableShards:
    """The table streams, through the in-process API the stream poller reads Kinesis with."""

    def __init__(self, tables: Tables, clock: Clock) -> None:
        self._tables = tables
        self._clock = clock

    def find(self, arn: str) -> TableStreamState | None:
        stream = self._tables.stream(arn)
        return TableStreamState(stream) if stream is not None else None

    def read(self, state: TableStreamState, shard: int, after: int, limit: int
             ) -> list[TableRecord]:  # fmt: skip
        out = []
        for record in state.stream.after(after, limit):
            keys = record.doc["dynamodb"]["Keys"]
            data = orjson.dumps(record.doc)
            out.append(TableRecord(record.seq, record.created,
                                   orjson.dumps(keys, option=orjson.OPT_SORT_KEYS).decode(),
                                   data, record.doc))  # fmt: skip
        return out

    async def wait(self, state: TableStreamState, seconds: float) -> None:
        """Until records arrive in the stream (or it goes), at most `seconds`."""
        with contextlib.suppress(TimeoutError):
            async with self._clock.timeout(seconds):
                await state.stream.arrived.wait()

    def checkpoints(self, consumer: str, state: TableStreamState) -> dict[int, int]:
        saved = self._tables.checkpoints.get((consumer, state.arn))
        return {} if saved is None else {0: saved}

    async def save_checkpoint(self, consumer: str, state: TableStreamState, shard: int,
                              position: int) -> None:  # fmt: skip
        """Durable when it returns."""
        await self._tables.save_checkpoint(consumer, state.arn, position)

    def forget_consumer(self, consumer: str) -> None:
        self._tables.forget_consumer(consumer)

    # -- what differs from Kinesis --------------------------------------------------------

    def event(self, state: TableStreamState, shard: int, record: TableRecord, *, role: str,
              region: str) -> dict[str, Any]:  # fmt: skip
        return dynamodb_record(state.arn, record.doc)

    def filter_view(self, event: dict[str, Any]) -> dict[str, Any]:
        return filter_view(event)

    def size(self, record: TableRecord) -> int:
        return len(record.data) + 100

    def failure_record(
        self, state: TableStreamState, shard: int, records: Sequence[TableRecord], **details: Any
    ) -> dict[str, Any]:
        return failure_record(state, records, **details)


def dynamodb_record(stream_arn: str, doc: dict[str, Any]) -> dict[str, Any]:
    """One entry of Lambda's DynamoDB event `Records`: the stream record as DynamoDB
    Streams gives it, plus eventSourceARN; a Time to Live deletion's userIdentity in the
    event's lower-case spelling ({"type", "principalId"})."""
    record = {**doc, "eventSourceARN": stream_arn}
    identity = doc.get("userIdentity")
    if identity is not None:
        record["userIdentity"] = {"type": identity["Type"], "principalId": identity["PrincipalId"]}
    return record


def filter_view(event: dict[str, Any]) -> dict[str, Any]:
    """Lambda filters DynamoDB records on the record itself (`dynamodb`, `eventName`, …)."""
    return event


def failure_record(
    state: TableStreamState, records: Sequence[TableRecord], **details: Any
) -> dict[str, Any]:
    """What Lambda sends an OnFailure destination for a table-stream batch it gives up on."""
    sequences = (sequence_text(records[0].position), sequence_text(records[-1].position))
    return failures.failure_record(
        "DDBStreamBatchInfo", state.arn, state.shards[0].id, sequences, records, **details
    )
