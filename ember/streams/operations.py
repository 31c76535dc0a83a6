"""Kinesis's operations in their JSON 1.1 shapes: each reads its request members, calls the
`Streams` service and returns the response members (botocore's `kinesis` model names them)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import orjson

from ember.streams import iterators
from ember.streams.errors import (
    InvalidArgumentError,
    SerializationError,
    StreamNotFoundError,
    constraint,
    stream_not_found,
)
from ember.streams.keys import decode_sequence, parse_sequence, shard_id, shard_index
from ember.streams.service import Entry, Streams
from ember.streams.shards import Shard, StreamState

Params = dict[str, Any]
Handler = Callable[[Streams, Params], Awaitable[Params]]

MAX_RECORD = 1024 * 1024  # bytes of data and partition key together (AWS's default)
MAX_PUT_RECORDS = 500
MAX_GET_BYTES = 10 * 1024 * 1024  # one GetRecords answer at most
ITERATOR_TYPES = ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER", "TRIM_HORIZON", "LATEST",
                  "AT_TIMESTAMP")  # fmt: skip


def _stream(streams: Streams, params: Params) -> StreamState:
    return streams.get(params.get("StreamName"), params.get("StreamARN"))


def _int(params: Params, name: str, member: str, low: int, high: int | None = None) -> int | None:
    value = params.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise SerializationError(f"NUMBER_VALUE can not be converted to an Integer: {name}")
    if value < low:
        raise constraint(value, member, f"Member must have value greater than or equal to {low}")
    if high is not None and value > high:
        raise constraint(value, member, f"Member must have value less than or equal to {high}")
    return value


def _time(wall: float) -> float:
    return round(wall, 3)


def _shard_doc(state: StreamState, shard: Shard) -> Params:
    doc: Params = {"ShardId": shard.id}
    if shard.parents:
        doc["ParentShardId"] = state.shards[shard.parents[0]].id
    if len(shard.parents) > 1:
        doc["AdjacentParentShardId"] = state.shards[shard.parents[1]].id
    doc["HashKeyRange"] = {"StartingHashKey": str(shard.start), "EndingHashKey": str(shard.end)}
    numbers = {"StartingSequenceNumber": state.sequence(shard, 0)}
    if shard.ending is not None:
        numbers["EndingSequenceNumber"] = state.sequence(shard, shard.ending)
    doc["SequenceNumberRange"] = numbers
    return doc


def _mode(state: StreamState) -> Params:
    return {"StreamMode": state.mode}


async def create_stream(streams: Streams, params: Params) -> Params:
    name = params.get("StreamName")
    if not isinstance(name, str):
        raise constraint(None, "streamName", "Member must not be null")
    mode = (params.get("StreamModeDetails") or {}).get("StreamMode") or "PROVISIONED"
    if mode not in ("PROVISIONED", "ON_DEMAND"):
        raise constraint(
            mode, "streamModeDetails.streamMode",
            "Member must satisfy enum value set: [ON_DEMAND, PROVISIONED]",
        )  # fmt: skip
    count = _int(params, "ShardCount", "shardCount", 1)
    await streams.create(name, count, mode, _tags(params.get("Tags")))
    return {}


def _tags(wire: Any) -> dict[str, str]:
    if wire is None:
        return {}
    if not isinstance(wire, dict) or not wire:
        raise constraint("{}", "tags", "Member must have length greater than or equal to 1")
    for key, value in wire.items():
        if not 1 <= len(key) <= 128:
            raise constraint(key, "tags", "Member must have length less than or equal to 128")
        if not isinstance(value, str) or len(value) > 256:
            raise constraint(value, "tags", "Member must have length less than or equal to 256")
    return {str(k): str(v) for k, v in wire.items()}


async def add_tags(streams: Streams, params: Params) -> Params:
    tags = _tags(params.get("Tags"))
    if not tags:
        raise constraint(None, "tags", "Member must not be null")
    await streams.tag(_stream(streams, params), tags, [])
    return {}


async def remove_tags(streams: Streams, params: Params) -> Params:
    keys = params.get("TagKeys")
    if not isinstance(keys, list) or not keys:
        raise constraint(None, "tagKeys", "Member must not be null")
    await streams.tag(_stream(streams, params), {}, [str(k) for k in keys])
    return {}


async def list_tags(streams: Streams, params: Params) -> Params:
    state = _stream(streams, params)
    limit = _int(params, "Limit", "limit", 1, 50) or 50
    keys = sorted(state.tags)
    start = params.get("ExclusiveStartTagKey")
    if start:
        keys = [k for k in keys if k > start]
    return {
        "Tags": [{"Key": k, "Value": state.tags[k]} for k in keys[:limit]],
        "HasMoreTags": len(keys) > limit,
    }


async def delete_stream(streams: Streams, params: Params) -> Params:
    await streams.delete(_stream(streams, params))
    return {}


async def describe_stream(streams: Streams, params: Params) -> Params:
    state = _stream(streams, params)
    limit = _int(params, "Limit", "limit", 1, 10000) or 100
    after = params.get("ExclusiveStartShardId")
    shards = state.shards
    if after:
        index = shard_index(str(after))
        shards = [s for s in shards if index is None or s.index > index]
    return {"StreamDescription": {
        "StreamName": state.name,
        "StreamARN": state.arn,
        "StreamStatus": "ACTIVE",
        "StreamModeDetails": _mode(state),
        "Shards": [_shard_doc(state, s) for s in shards[:limit]],
        "HasMoreShards": len(shards) > limit,
        "RetentionPeriodHours": state.retention_hours,
        "StreamCreationTimestamp": _time(state.created),
        "EnhancedMonitoring": [{"ShardLevelMetrics": []}],
        "EncryptionType": "NONE",
    }}  # fmt: skip


async def describe_stream_summary(streams: Streams, params: Params) -> Params:
    state = _stream(streams, params)
    return {"StreamDescriptionSummary": {
        "StreamName": state.name,
        "StreamARN": state.arn,
        "StreamStatus": "ACTIVE",
        "StreamModeDetails": _mode(state),
        "RetentionPeriodHours": state.retention_hours,
        "StreamCreationTimestamp": _time(state.created),
        "EnhancedMonitoring": [{"ShardLevelMetrics": []}],
        "EncryptionType": "NONE",
        "OpenShardCount": len(state.open_shards()),
        "ConsumerCount": 0,
    }}  # fmt: skip


def _token(value: object) -> str:
    return base64.b64encode(orjson.dumps(value)).decode()


def _untoken(text: str) -> Any:
    try:
        return orjson.loads(base64.b64decode(text.encode(), validate=True))
    except (binascii.Error, orjson.JSONDecodeError, ValueError):
        raise InvalidArgumentError(f"Invalid NextToken: {text}") from None


async def list_streams(streams: Streams, params: Params) -> Params:
    limit = min(_int(params, "Limit", "limit", 1, 10000) or 100, 100)
    names = streams.names()
    start = params.get("ExclusiveStartStreamName")
    if params.get("NextToken"):
        start = str(_untoken(str(params["NextToken"])))
    if start:
        names = [n for n in names if n > start]
    page, more = names[:limit], len(names) > limit
    doc: Params = {
        "StreamNames": page,
        "HasMoreStreams": more,
        "StreamSummaries": [
            {
                "StreamName": s.name,
                "StreamARN": s.arn,
                "StreamStatus": "ACTIVE",
                "StreamModeDetails": _mode(s),
                "StreamCreationTimestamp": _time(s.created),
            }
            for s in (streams.get(n) for n in page)
        ],
    }
    if more:
        doc["NextToken"] = _token(page[-1])
    return doc


async def list_shards(streams: Streams, params: Params) -> Params:
    limit = _int(params, "MaxResults", "maxResults", 1, 10000) or 1000
    token = params.get("NextToken")
    after: int | None = None
    if token:
        if params.get("StreamName") or params.get("StreamARN"):
            raise InvalidArgumentError(
                "NextToken and StreamName cannot be provided together. StreamName is "
                "optional when NextToken is provided."
            )
        name, after = _untoken(str(token))
        state = streams.get(str(name))
    else:
        state = _stream(streams, params)
        start = params.get("ExclusiveStartShardId")
        after = shard_index(str(start)) if start else None
    shards = [s for s in state.shards if after is None or s.index > after]
    doc: Params = {"Shards": [_shard_doc(state, s) for s in shards[:limit]]}
    if len(shards) > limit:
        doc["NextToken"] = _token([state.name, shards[limit - 1].index])
    return doc


def _entry(params: Params, prefix: str) -> Entry:
    key = params.get("PartitionKey")
    if not isinstance(key, str):
        raise constraint(None, f"{prefix}partitionKey", "Member must not be null")
    if not 1 <= len(key) <= 256:
        rule = "greater than or equal to 1" if not key else "less than or equal to 256"
        raise constraint(key, f"{prefix}partitionKey", f"Member must have length {rule}")
    raw = params.get("Data")
    if not isinstance(raw, str):
        raise constraint(None, f"{prefix}data", "Member must not be null")
    try:
        data = base64.b64decode(raw.encode(), validate=True)
    except binascii.Error:
        raise InvalidArgumentError("Data must be base64-encoded.") from None
    if len(data) + len(key.encode()) > MAX_RECORD:
        raise constraint(
            "java.nio.HeapByteBuffer", f"{prefix}data",
            f"Member must have length less than or equal to {MAX_RECORD}",
        )  # fmt: skip
    explicit = params.get("ExplicitHashKey")
    hashed: int | None = None
    if explicit is not None:
        if (
            not isinstance(explicit, str)
            or not explicit.isdigit()
            or (explicit.startswith("0") and explicit != "0")
            or len(explicit) > 39
        ):
            raise constraint(
                explicit, f"{prefix}explicitHashKey",
                "Member must satisfy regular expression pattern: 0|([1-9]\\d{0,38})",
            )  # fmt: skip
        hashed = int(explicit)
    return Entry(data, key, hashed)


async def put_record(streams: Streams, params: Params) -> Params:
    state = _stream(streams, params)
    result = await streams.put_one(state, _entry(params, ""))
    return {"ShardId": result.shard_id, "SequenceNumber": result.sequence_number}


async def put_records(streams: Streams, params: Params) -> Params:
    state = _stream(streams, params)
    wire = params.get("Records")
    if not isinstance(wire, list) or not wire:
        raise constraint("[]", "records", "Member must have length greater than or equal to 1")
    if len(wire) > MAX_PUT_RECORDS:
        raise constraint(
            "[...]", "records", f"Member must have length less than or equal to {MAX_PUT_RECORDS}"
        )
    entries = [_entry(r if isinstance(r, dict) else {}, f"records.{i + 1}.member.")
               for i, r in enumerate(wire)]  # fmt: skip
    results = await streams.put(state, entries)
    shown: list[Params] = []
    for r in results:
        if r.error_code:
            shown.append({"ErrorCode": r.error_code, "ErrorMessage": r.error_message})
        else:
            shown.append({"SequenceNumber": r.sequence_number, "ShardId": r.shard_id})
    return {
        "FailedRecordCount": sum(1 for r in results if r.error_code),
        "Records": shown,
        "EncryptionType": "NONE",
    }


def _timestamp(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            try:
                return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
            except ValueError:
                return None
    return None


async def get_shard_iterator(streams: Streams, params: Params) -> Params:
    state = _stream(streams, params)
    kind = params.get("ShardIteratorType")
    if kind not in ITERATOR_TYPES:
        raise constraint(
            kind, "shardIteratorType",
            f"Member must satisfy enum value set: [{', '.join(ITERATOR_TYPES)}]",
        )  # fmt: skip
    requested = str(params.get("ShardId") or "")
    index = shard_index(requested)
    shard = state.shards[index] if index is not None and index < len(state.shards) else None
    if shard is None:
        raise StreamNotFoundError(
            f"Shard {requested} in stream {state.name} under account {streams.account} "
            "does not exist"
        )
    if kind == "TRIM_HORIZON":
        position = shard.horizon()
    elif kind == "LATEST":
        position = shard.last_position()
    elif kind == "AT_TIMESTAMP":
        wall = _timestamp(params.get("Timestamp"))
        if wall is None:
            raise InvalidArgumentError(
                "Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. "
                "Current request has no timestamp parameter."
            )
        position = shard.first_at(wall)
    else:
        text = params.get("StartingSequenceNumber")
        if not isinstance(text, str) or not text:
            raise InvalidArgumentError(
                "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and "
                "StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no "
                f"StartingSequenceNumber. Request specified {kind} and no StartingSequenceNumber."
            )
        found = _position(streams, state, shard, text)
        position = max(found - 1 if kind == "AT_SEQUENCE_NUMBER" else found, 0)
    it = iterators.Iterator(state.name, state.created, shard.index, position,
                            streams.now())  # fmt: skip
    return {"ShardIterator": iterators.encode(it)}


def _position(streams: Streams, state: StreamState, shard: Shard, text: str) -> int:
    """The position StartingSequenceNumber names in `shard`, or AWS's refusal."""
    decoded = decode_sequence(text)
    if decoded is not None and decoded[1] != shard.index:
        raise InvalidArgumentError(
            f"Invalid StartingSequenceNumber. It encodes {shard_id(decoded[1])}, while it was "
            f"used in a call to {shard.id}"
        )
    found = parse_sequence(text, state.created_seconds, shard.index)
    if found is None:
        raise InvalidArgumentError(
            f"StartingSequenceNumber {text} used in GetShardIterator on shard {shard.id} in "
            f"stream {state.name} under account {streams.account} is invalid because it did "
            "not come from this stream."
        )
    return found


async def get_records(streams: Streams, params: Params) -> Params:
    text = params.get("ShardIterator")
    if not isinstance(text, str) or not text:
        raise constraint(None, "shardIterator", "Member must not be null")
    limit = _int(params, "Limit", "limit", 1, 10000) or 10000
    now = streams.now()
    it = iterators.decode(text, now)
    try:
        state = streams.get(it.stream)
    except StreamNotFoundError:
        raise stream_not_found(it.stream, streams.account) from None
    if state.created != it.created or it.shard >= len(state.shards):
        raise stream_not_found(it.stream, streams.account)
    shard = state.shards[it.shard]
    found = streams.read(state, it.shard, it.position, limit)
    records: list[Params] = []
    size = 0
    for record in found:
        size += len(record.data) + len(record.key)
        if records and size > MAX_GET_BYTES:
            break
        records.append({
            "SequenceNumber": state.sequence(shard, record.position),
            "ApproximateArrivalTimestamp": _time(record.arrival),
            "Data": base64.b64encode(record.data).decode(),
            "PartitionKey": record.key,
        })  # fmt: skip
    last = found[len(records) - 1].position if records else max(it.position, shard.horizon())
    rest = shard.after(last, 1)
    behind = int(max(0.0, now - rest[0].arrival) * 1000) if rest else 0
    doc: Params = {"Records": records, "MillisBehindLatest": behind}
    if shard.ending is not None and last >= shard.ending:
        # A closed shard read to its end: no next iterator, its children instead (AWS).
        doc["ChildShards"] = [
            {"ShardId": child.id, "ParentShards": [state.shards[p].id for p in child.parents],
             "HashKeyRange": {"StartingHashKey": str(child.start),
                              "EndingHashKey": str(child.end)}}
            for child in state.shards if shard.index in child.parents
        ]  # fmt: skip
    else:
        following = iterators.Iterator(state.name, state.created, it.shard, last, now)
        doc["NextShardIterator"] = iterators.encode(following)
    return doc


async def update_shard_count(streams: Streams, params: Params) -> Params:
    state = _stream(streams, params)
    target = _int(params, "TargetShardCount", "targetShardCount", 1)
    if target is None:
        raise constraint(None, "targetShardCount", "Member must not be null")
    if params.get("ScalingType") != "UNIFORM_SCALING":
        raise constraint(
            params.get("ScalingType"), "scalingType",
            "Member must satisfy enum value set: [UNIFORM_SCALING]",
        )  # fmt: skip
    current = await streams.update_shard_count(state, target)
    return {
        "StreamName": state.name,
        "CurrentShardCount": current,
        "TargetShardCount": target,
        "StreamARN": state.arn,
    }


async def increase_retention(streams: Streams, params: Params) -> Params:
    hours = params.get("RetentionPeriodHours")
    if not isinstance(hours, int):
        raise constraint(None, "retentionPeriodHours", "Member must not be null")
    await streams.set_retention(_stream(streams, params), hours, increase=True)
    return {}


async def decrease_retention(streams: Streams, params: Params) -> Params:
    hours = params.get("RetentionPeriodHours")
    if not isinstance(hours, int):
        raise constraint(None, "retentionPeriodHours", "Member must not be null")
    await streams.set_retention(_stream(streams, params), hours, increase=False)
    return {}


HANDLERS: dict[str, Handler] = {
    "CreateStream": create_stream,
    "DeleteStream": delete_stream,
    "DescribeStream": describe_stream,
    "DescribeStreamSummary": describe_stream_summary,
    "ListStreams": list_streams,
    "ListShards": list_shards,
    "PutRecord": put_record,
    "PutRecords": put_records,
    "GetShardIterator": get_shard_iterator,
    "GetRecords": get_records,
    "IncreaseStreamRetentionPeriod": increase_retention,
    "DecreaseStreamRetentionPeriod": decrease_retention,
    "UpdateShardCount": update_shard_count,
    "AddTagsToStream": add_tags,
    "RemoveTagsFromStream": remove_tags,
    "ListTagsForStream": list_tags,
}
