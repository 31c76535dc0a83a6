"""Kinesis-compatible data streams: shards by MD5 hash-key ranges, durable records with
per-shard sequence numbers, shard iterators, retention, and Kinesis's JSON 1.1 door.

Owns: `ember/streams/` and the data dir's `streams.db`. May import `store`, `protocols` and
the beside-files; never `api`, `invoke`, `control` or `sources` (they use this).

The in-process API event source mappings use (streams named by ARN through `find`):

    class Streams:
        def find(self, arn) -> StreamState | None     # .name .arn .shards .created
        def read(self, state, shard, after, limit) -> list[StoredRecord]
                                                        # .position .arrival .key .data
        async def wait(self, state, seconds) -> None    # until records arrive
        def checkpoints(self, consumer, state) -> dict[int, int]   # shard -> last done
        async def save_checkpoint(self, consumer, state, shard, position) -> None  # durable
        def forget_consumer(self, consumer) -> None           # its checkpoints go, soon

A record's sequence number is `state.sequence(shard, position)`. Every put, checkpoint and
stream change is committed to disk in group commits before the call returns.
`Streams.run()` owns the journal and the retention sweep; the composition root runs it.
"""

from ember.streams.door import PREFIX, StreamDoor
from ember.streams.service import Streams
from ember.streams.shards import Shard, StoredRecord, StreamState

__all__ = ["PREFIX", "Shard", "StoredRecord", "StreamDoor", "StreamState", "Streams"]
