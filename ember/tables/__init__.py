"""DynamoDB-compatible tables with streams: table definitions (partition and optional sort
key, secondary indexes), items with AWS's typed attribute values, condition and update
expressions, Query, Scan, batches and transactions — and DynamoDB Streams (one shard per
stream) through their JSON 1.0 door.

Owns: `ember/tables/` and the data dir's `tables.db`. May import `store` and `protocols`
and the beside-files; never `api`, `invoke`, `control` or `sources` (sources read streams
through the in-process API below).

In-process API (event source mappings):

    class Tables:
        def stream(self, arn: str) -> LiveStream | None
            # .info (StreamInfo: arn, table, view_type, shard, enabled)
            # .after(seq, limit) -> list[StreamRecord(seq, created, doc)]
            # .last_seq() .horizon() .arrived (an asyncio.Event, replaced when set) .deleted
        checkpoints: dict[(consumer, stream arn), seq]     # read
        async def save_checkpoint(self, consumer, stream_arn, seq) -> None   # durable
        def forget_consumer(self, consumer) -> None        # committed soon

Every change to an item is committed to disk, with its stream record in the same
transaction, in group commits shared by concurrent requests, before the call returns.
`Tables.run()` owns the committer and the 24-hour retention sweep.
"""

from ember.tables.door import STREAMS_PREFIX, TABLES_PREFIX, TableDoor
from ember.tables.service import Tables
from ember.tables.streams import LiveStream, StreamRecord, sequence_text

__all__ = [
    "STREAMS_PREFIX",
    "TABLES_PREFIX",
    "LiveStream",
    "StreamRecord",
    "TableDoor",
    "Tables",
    "sequence_text",
]
