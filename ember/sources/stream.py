"""What the shard-ordered stream poller (ember.sources.shards) needs from a stream source:
Kinesis streams (ember.sources.kinesis) and DynamoDB table streams (ember.sources.dynamodb)
both offer it. A stream has shards; a shard's records have increasing positions; a consumer
(a mapping, by UUID) keeps a durable checkpoint per shard."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol


class ShardView(Protocol):
    """Optionally also `.parents` (indexes of the shards a reshard made it from) and
    `.ending` (a closed shard's last position): the poller reads them with getattr."""

    @property
    def index(self) -> int: ...
    @property
    def id(self) -> str: ...  # shardId-000000000000
    def horizon(self) -> int: ...  # the position before the oldest record kept
    def first_at(self, wall: float) -> int: ...  # the position before the first at/after
    def last_position(self) -> int: ...


class StreamView(Protocol):
    @property
    def arn(self) -> str: ...
    @property
    def shards(self) -> Sequence[ShardView]: ...
    @property
    def deleted(self) -> bool: ...
    @property
    def retention_hours(self) -> int: ...
    def sequence(self, shard: Any, position: int) -> str: ...  # SequenceNumber as shown


class RecordView(Protocol):
    @property
    def position(self) -> int: ...
    @property
    def arrival(self) -> float: ...  # epoch seconds
    @property
    def key(self) -> str: ...  # what picks its lane: one key's records keep their order


class ShardSource(Protocol):
    def find(self, arn: str) -> Any:  # a StreamView, or None
        ...

    def read(self, state: Any, shard: int, after: int, limit: int) -> Sequence[Any]:
        """Up to `limit` RecordViews of the shard past position `after`."""
        ...

    async def wait(self, state: Any, seconds: float) -> None:
        """Until records arrive (or the stream goes), at most `seconds`."""
        ...

    def checkpoints(self, consumer: str, state: Any) -> dict[int, int]: ...

    async def save_checkpoint(self, consumer: str, state: Any, shard: int, position: int) -> None:
        """Durable when it returns."""
        ...

    def forget_consumer(self, consumer: str) -> None:
        """The consumer's checkpoints go (soon): its mapping was deleted."""
        ...

    def event(self, state: Any, shard: int, record: Any, *, role: str, region: str
              ) -> dict[str, Any]:  # fmt: skip
        """The record as Lambda's event `Records` show it."""
        ...

    def filter_view(self, event: dict[str, Any]) -> dict[str, Any]:
        """The event record as FilterCriteria see it."""
        ...

    def size(self, record: Any) -> int:
        """Bytes the record adds to the invoke payload."""
        ...

    def failure_record(self, state: Any, shard: int, records: Sequence[Any], **details: Any
                       ) -> dict[str, Any]:  # fmt: skip
        """What an OnFailure destination gets for records given up on (`details`: condition,
        request_id, function_arn, invocations, response, now)."""
        ...
