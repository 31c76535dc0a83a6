"""Table streams in memory: each stream's records in sequence order (one shard per stream),
the stream record's shape, shard iterators, and waiting for new records.

A record is readable once its commit is durable (`append` runs from the journal's applied
hook). Records older than 24 hours are trimmed; a disabled stream stays readable for 24
hours, as on AWS.
"""

from __future__ import annotations

import asyncio
import base64
import bisect
import dataclasses
import hashlib
import uuid
from typing import Any

from ember.tables.errors import TableValidationError, TrimmedDataAccessError
from ember.tables.model import StreamInfo
from ember.tables.values import Item, item_size

RETENTION = 24 * 3600.0  # seconds records are kept
ITERATOR_LIFETIME = 15 * 60.0  # seconds a shard iterator stays valid
SEQUENCE_BASE = 10**20  # sequence numbers print as 21 digits, increasing across all streams


def sequence_text(seq: int) -> str:
    return str(SEQUENCE_BASE + seq)


def parse_sequence(text: object) -> int | None:
    if not isinstance(text, str) or not text.isdigit() or len(text) > 40:
        return None
    value = int(text) - SEQUENCE_BASE
    return value if value >= 0 else None


def shard_id(created: float, arn: str) -> str:
    digest = hashlib.sha256(arn.encode()).hexdigest()[:8]
    return f"shardId-{int(created * 1000):020d}-{digest}"


@dataclasses.dataclass(frozen=True, slots=True)
class StreamRecord:
    seq: int
    created: float
    doc: dict[str, Any]  # the DynamoDB Streams record (without eventSourceARN)


def build_record(
    *,
    region: str,
    view_type: str,
    keys: Item,
    old: Item | None,
    new: Item | None,
    seq: int,
    created: float,
    expired: bool = False,
) -> dict[str, Any]:
    """The stream record of one change, with the images its view type keeps; `expired`:
    a deletion by Time to Live, which DynamoDB marks with the service's userIdentity."""
    name = "INSERT" if old is None else ("REMOVE" if new is None else "MODIFY")
    dynamodb: dict[str, Any] = {
        "ApproximateCreationDateTime": int(created),
        "Keys": keys,
    }
    size = item_size(keys)
    if view_type in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES") and new is not None:
        dynamodb["NewImage"] = new
        size += item_size(new)
    if view_type in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES") and old is not None:
        dynamodb["OldImage"] = old
        size += item_size(old)
    dynamodb["SequenceNumber"] = sequence_text(seq)
    dynamodb["SizeBytes"] = size
    dynamodb["StreamViewType"] = view_type
    record = {
        "eventID": uuid.uuid4().hex,
        "eventName": name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": region,
        "dynamodb": dynamodb,
    }
    if expired:
        record["userIdentity"] = {"PrincipalId": "dynamodb.amazonaws.com", "Type": "Service"}
    return record


class LiveStream:
    """One stream's readable records, and the event that wakes those waiting for more."""

    def __init__(self, info: StreamInfo) -> None:
        self.info = info
        self.records: list[StreamRecord] = []  # by seq
        self.trimmed_through = -1  # seq of the newest record trimmed away
        self.arrived = asyncio.Event()  # set (and replaced) whenever records become readable
        self.deleted = False  # its table and retention are gone

    def append(self, record: StreamRecord) -> None:
        self.records.append(record)
        arrived, self.arrived = self.arrived, asyncio.Event()
        arrived.set()

    def after(self, seq: int, limit: int) -> list[StreamRecord]:
        start = bisect.bisect_right(self.records, seq, key=lambda r: r.seq)
        return self.records[start : start + limit]

    def first_seq(self) -> int | None:
        return self.records[0].seq if self.records else None

    def last_seq(self) -> int:
        """The newest readable record's seq (-1 with none: LATEST starts after it)."""
        return self.records[-1].seq if self.records else max(self.trimmed_through, -1)

    def horizon(self) -> int:
        """The seq just before the oldest record kept (TRIM_HORIZON reads past it)."""
        return self.records[0].seq - 1 if self.records else self.last_seq()

    def trim(self, before: float) -> None:
        count = bisect.bisect_left(self.records, before, key=lambda r: r.created)
        if count:
            self.trimmed_through = self.records[count - 1].seq
            del self.records[:count]

    def end_seq(self) -> int | None:
        """EndingSequenceNumber of the shard: the last record once the stream is disabled."""
        return None if self.info.enabled else self.last_seq()


# -- shard iterators -------------------------------------------------------------------


def make_iterator(stream: str, shard: str, after: int, now: float) -> str:
    """An iterator reading past seq `after` (-1: from the start)."""
    body = f"{stream}|{shard}|{after}|{int(now * 1000)}".encode()
    return f"{stream}|1|" + base64.urlsafe_b64encode(body).decode()


def read_iterator(text: object, now: float) -> tuple[str, str, int, bool]:
    """(stream arn, shard id, seq it reads past, expired) of an iterator this server gave."""
    bad = TableValidationError("Invalid ShardIterator")
    if not isinstance(text, str) or "|1|" not in text:
        raise bad
    _, _, encoded = text.rpartition("|1|")
    try:
        stream, shard, after, issued = base64.urlsafe_b64decode(encoded).decode().split("|")
        seq, issued_ms = int(after), int(issued)
    except (ValueError, UnicodeDecodeError):
        raise bad from None
    return stream, shard, seq, now * 1000 - issued_ms > ITERATOR_LIFETIME * 1000


def check_not_trimmed(stream: LiveStream, after: int) -> None:
    if after < stream.trimmed_through:
        raise TrimmedDataAccessError(
            "The operation attempted to read past the oldest stream record in a shard."
        )
