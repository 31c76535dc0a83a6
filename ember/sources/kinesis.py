"""A Kinesis stream as Lambda shows it to a function: the `aws:kinesis` event record, the
view FilterCriteria match, and the failure record an OnFailure destination receives."""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Sequence
from typing import Any

import orjson

from ember.control.mappings import SourceFacts
from ember.sources import failures
from ember.streams import StoredRecord, Streams, StreamState


def source_facts(streams: Streams, arn: str) -> SourceFacts | None:
    """What control's mapping checks need to know of a stream ARN (None: no such stream)."""
    return SourceFacts(kind="kinesis") if streams.find(arn) is not None else None


def kinesis_record(
    state: StreamState, shard: int, record: StoredRecord, *, role: str, region: str
) -> dict[str, Any]:
    """One entry of Lambda's Kinesis event `Records`."""
    sequence = state.sequence(state.shards[shard], record.position)
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": record.key,
            "sequenceNumber": sequence,
            "data": base64.b64encode(record.data).decode(),
            "approximateArrivalTimestamp": round(record.arrival, 3),
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"{state.shards[shard].id}:{sequence}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": role,
        "awsRegion": region,
        "eventSourceARN": state.arn,
    }


def filter_view(event: dict[str, Any]) -> dict[str, Any]:
    """Lambda filters Kinesis records on the `kinesis` members, `data` decoded and parsed
    when it is JSON (else left as the base64 text)."""
    view = dict(event["kinesis"])
    with contextlib.suppress(ValueError):  # orjson.JSONDecodeError is a ValueError
        view["data"] = orjson.loads(base64.b64decode(view["data"]))
    return view


def failure_record(
    state: StreamState, shard: int, records: Sequence[StoredRecord], **details: Any
) -> dict[str, Any]:
    """What Lambda sends an OnFailure destination for a stream batch it gives up on."""
    shard_state = state.shards[shard]
    first = state.sequence(shard_state, records[0].position)
    last = state.sequence(shard_state, records[-1].position)
    return failures.failure_record(
        "KinesisBatchInfo", state.arn, shard_state.id, (first, last), records, **details
    )


class KinesisShards:
    """Ember's Kinesis streams as the stream poller reads them (ember.sources.stream)."""

    def __init__(self, streams: Streams) -> None:
        self._streams = streams

    def find(self, arn: str) -> StreamState | None:
        return self._streams.find(arn)

    def read(self, state: StreamState, shard: int, after: int, limit: int) -> list[StoredRecord]:
        return self._streams.read(state, shard, after, limit)

    async def wait(self, state: StreamState, seconds: float) -> None:
        await self._streams.wait(state, seconds)

    def checkpoints(self, consumer: str, state: StreamState) -> dict[int, int]:
        return self._streams.checkpoints(consumer, state)

    async def save_checkpoint(
        self, consumer: str, state: StreamState, shard: int, position: int
    ) -> None:
        await self._streams.save_checkpoint(consumer, state, shard, position)

    def forget_consumer(self, consumer: str) -> None:
        self._streams.forget_consumer(consumer)

    def event(
        self, state: StreamState, shard: int, record: StoredRecord, *, role: str, region: str
    ) -> dict[str, Any]:
        return kinesis_record(state, shard, record, role=role, region=region)

    def filter_view(self, event: dict[str, Any]) -> dict[str, Any]:
        return filter_view(event)

    def size(self, record: StoredRecord) -> int:
        """Its data in base64, and the record's other members."""
        return len(record.data) * 4 // 3 + 600

    def failure_record(
        self, state: StreamState, shard: int, records: Sequence[StoredRecord], **details: Any
    ) -> dict[str, Any]:
        return failure_record(state, shard, records, **details)
