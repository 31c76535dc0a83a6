"""What a poller needs from an event source: fetch a batch, acknowledge it, give it back."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, Protocol


@dataclasses.dataclass(frozen=True, slots=True)
class Record:
    """One record of a batch, as the source fetched it."""

    item_id: str  # what `batchItemFailures[].itemIdentifier` names (SQS: the message id)
    group: str | None  # records of one group keep their order (FIFO group; a stream's shard)
    size: int  # bytes it adds to the invoke payload
    event: dict[str, Any]  # the record as the function sees it
    token: str  # what acknowledging it takes (SQS: the receipt handle)
    trace: str | None = None  # the X-Ray trace header it was sent with (loop detection)


class Source(Protocol):
    """A queue (or later a shard-ordered stream) as a poller consumes it.

    A queue hands the same record to one worker at a time and brings an unacknowledged
    one back by itself (visibility timeout); a stream would keep a checkpoint per shard
    and have `nack` rewind it. Either way, `ack` is the only way a record is done."""

    @property
    def ordered(self) -> bool:
        """Whether records of one group must be processed in order (FIFO, shards)."""
        ...

    async def fetch(self, max_records: int, window: float) -> list[Record]:
        """Up to `max_records`, waiting up to `window` seconds to fill the batch once a
        first record is there (0: return what the first poll brings); [] when idle."""
        ...

    async def ack(self, records: Sequence[Record]) -> None:
        """The records are processed (or filtered out): they never come back."""
        ...

    async def nack(self, records: Sequence[Record]) -> None:
        """The records failed: they come back later (a queue's visibility timeout)."""
        ...

    async def release(self, records: Sequence[Record]) -> None:
        """The records were taken but not tried: they are available again at once."""
        ...

    def view(self, record: Record) -> dict[str, Any]:
        """The record as FilterCriteria see it (SQS: a JSON body parsed; a stream would
        decode its data), built only when the mapping has filters."""
        ...

    def backlog(self) -> int:
        """Records waiting (a queue's visible messages): what scaling follows."""
        ...

    def visibility(self) -> float:
        """Seconds a fetched record stays this poller's before the source takes it back."""
        ...
