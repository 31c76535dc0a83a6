"""DynamoDB Streams' operations in their JSON shapes: ListStreams, DescribeStream,
GetShardIterator, GetRecords. Each stream has one shard (Ember does not split shards)."""

from __future__ import annotations

from typing import Any

from ember.tables.errors import (
    ExpiredIteratorError,
    TableNotFoundError,
    TableValidationError,
    constraint,
)
from ember.tables.service import Tables
from ember.tables.streams import (
    LiveStream,
    check_not_trimmed,
    make_iterator,
    parse_sequence,
    read_iterator,
    sequence_text,
)

Params = dict[str, Any]
MAX_RECORDS = 1000
_ITERATOR_TYPES = ("TRIM_HORIZON", "LATEST", "AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER")


def _stream(tables: Tables, arn: object) -> LiveStream:
    stream = tables.stream(arn) if isinstance(arn, str) else None
    if stream is None:
        raise TableNotFoundError(f"Requested resource not found: Stream: {arn} not found")
    return stream


def _summary(stream: LiveStream) -> Params:
    info = stream.info
    return {"StreamArn": info.arn, "TableName": info.table, "StreamLabel": info.label}


async def list_streams(tables: Tables, params: Params) -> Params:
    name = params.get("TableName")
    start = params.get("ExclusiveStartStreamArn")
    limit = params.get("Limit", 100)
    if not isinstance(limit, int) or limit < 1:
        raise constraint(limit, "limit", "Member must have value greater than or equal to 1")
    streams = sorted(
        (s for s in tables.streams.values() if name is None or s.info.table == name),
        key=lambda s: s.info.arn,
    )
    if start is not None:
        streams = [s for s in streams if s.info.arn > start]
    page = streams[:limit]
    out: Params = {"Streams": [_summary(s) for s in page]}
    if len(streams) > limit:
        out["LastEvaluatedStreamArn"] = page[-1].info.arn
    return out


async def describe_stream(tables: Tables, params: Params) -> Params:
    stream = _stream(tables, params.get("StreamArn"))
    info = stream.info
    table = tables.tables.get(info.table)
    schema = []
    if table is not None:
        schema = [{"AttributeName": table.spec.hash_key, "KeyType": "HASH"}]
        if table.spec.range_key is not None:
            schema.append({"AttributeName": table.spec.range_key, "KeyType": "RANGE"})
    sequence_range: Params = {}
    first = stream.first_seq()
    sequence_range["StartingSequenceNumber"] = sequence_text(
        first if first is not None else stream.last_seq() + 1
    )
    end = stream.end_seq()
    if end is not None:
        sequence_range["EndingSequenceNumber"] = sequence_text(max(end, 0))
    shard = {"ShardId": info.shard, "SequenceNumberRange": sequence_range}
    return {
        "StreamDescription": {
            "StreamArn": info.arn,
            "StreamLabel": info.label,
            "StreamStatus": "ENABLED" if info.enabled else "DISABLED",
            "StreamViewType": info.view_type,
            "CreationRequestDateTime": info.created,
            "TableName": info.table,
            "KeySchema": schema,
            "Shards": [shard],
        }
    }


async def get_shard_iterator(tables: Tables, params: Params) -> Params:
    stream = _stream(tables, params.get("StreamArn"))
    shard = params.get("ShardId")
    kind = params.get("ShardIteratorType")
    if kind not in _ITERATOR_TYPES:
        raise constraint(
            kind,
            "shardIteratorType",
            "Member must satisfy enum value set: "
            "[AFTER_SEQUENCE_NUMBER, LATEST, AT_SEQUENCE_NUMBER, TRIM_HORIZON]",
        )
    if shard != stream.info.shard:
        raise TableNotFoundError("Requested resource not found: Shard does not exist")
    if kind == "TRIM_HORIZON":
        after = stream.trimmed_through
    elif kind == "LATEST":
        after = stream.last_seq()
    else:
        given = params.get("SequenceNumber")
        seq = parse_sequence(given)
        if seq is None:
            raise TableValidationError(
                f"Invalid SequenceNumber: {given}"
                if given
                else "Must provide SequenceNumber for iterator type " + str(kind)
            )
        if seq > stream.last_seq() and seq > tables.new_sequence_floor():
            raise TableValidationError(
                f"Invalid SequenceNumber for ShardId {shard}: {given} is not within the "
                "bounds of the shard"
            )
        after = seq - 1 if kind == "AT_SEQUENCE_NUMBER" else seq
        check_not_trimmed(stream, after)
    return {"ShardIterator": make_iterator(stream.info.arn, shard, after, tables.clock.wall())}


async def get_records(tables: Tables, params: Params) -> Params:
    stream_arn, shard, after, expired = read_iterator(params.get("ShardIterator"),
                                                      tables.clock.wall())  # fmt: skip
    limit = params.get("Limit", MAX_RECORDS)
    if not isinstance(limit, int) or not 1 <= limit <= MAX_RECORDS:
        raise constraint(limit, "limit", "Member must have value less than or equal to 1000"
                         if isinstance(limit, int) and limit > 0 else
                         "Member must have value greater than or equal to 1")  # fmt: skip
    if expired:
        raise ExpiredIteratorError(
            "Iterator expired. The iterator was created over 15 minutes ago."
        )
    stream = _stream(tables, stream_arn)
    check_not_trimmed(stream, after)
    records = stream.after(after, limit)
    out: Params = {"Records": [r.doc for r in records]}
    last = records[-1].seq if records else after
    end = stream.end_seq()
    if end is None or last < end:
        out["NextShardIterator"] = make_iterator(stream_arn, shard, last, tables.clock.wall())
    return out
