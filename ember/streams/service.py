"""`Streams`: the Kinesis data streams of this server — create, describe, delete, retention —
and their records: put (durable through group commits before any answer), iterate, read.

Also the in-process API event source mappings read streams through (`read`, `wait`,
`checkpoints`, `save_checkpoint`, `forget_consumer`): consumers' checkpoints live in the
same file and commit with the same group commits.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import re
from collections.abc import Sequence
from pathlib import Path

from ember.clock import Clock
from ember.config import Settings
from ember.streams import storage
from ember.streams.errors import (
    InvalidArgumentError,
    LimitExceededError,
    StreamInUseError,
    ThroughputExceededError,
    constraint,
    stream_not_found,
)
from ember.streams.keys import HASH_SPACE, hash_key, shard_for
from ember.streams.shards import Shard, StoredRecord, StreamState

DEFAULT_RETENTION = 24  # hours
MAX_RETENTION = 8760
ON_DEMAND_SHARDS = 4  # the shards an on-demand stream starts with
ACCOUNT_SHARD_LIMIT = 500  # AWS's default shard quota per account and region
SWEEP_INTERVAL = 60.0  # seconds between retention sweeps
MAX_TAGS = 50  # per stream
_NAME = re.compile(r"[a-zA-Z0-9_.-]{1,128}")


@dataclasses.dataclass(frozen=True, slots=True)
class Entry:
    """One record a producer puts."""

    data: bytes
    partition_key: str
    explicit_hash_key: int | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Put:
    """A record's outcome: its shard and sequence number, or why it was refused."""

    shard_id: str = ""
    sequence_number: str = ""
    error_code: str = ""
    error_message: str = ""


class Streams:
    """Not thread-safe: the event loop's. Blocking work goes to the journal's thread."""

    def __init__(self, settings: Settings, path: Path, clock: Clock) -> None:
        self._region = settings.region
        self.account = settings.account_id
        self._clock = clock
        self._store = storage.StreamStore(path)
        self._journal = storage.Journal(self._store)
        self._streams: dict[str, StreamState] = {}  # name -> stream
        self._checkpoints: dict[tuple[str, str], dict[int, int]] = {}  # (consumer, name) ->
        self._load()

    # -- lifecycle ---------------------------------------------------------------------------

    def _load(self) -> None:
        loaded = self._store.load()
        now = self._clock.wall()
        for name, doc in loaded.streams.items():
            layout = doc["shards"]
            state = StreamState(
                name, str(doc["arn"]), shard_count=layout if isinstance(layout, int) else 1,
                mode=str(doc["mode"]), retention_hours=int(doc["retention"]),
                created=float(doc["created"]),
            )  # fmt: skip
            if isinstance(layout, list):
                state.restore_layout(layout)
            state.tags = dict(doc.get("tags") or {})
            for shard_index, position, arrival, key, data in loaded.records.get(name, ()):
                shard = state.shards[shard_index]
                shard.append(StoredRecord(position, arrival, key, bytes(data)))
            for shard in state.shards:  # never reuse a position, even a trimmed one
                shard.next_position = max(shard.next_position, shard.last_position() + 1)
                if shard.closing:  # its last durable record ends it
                    shard.ending = shard.last_position()
                shard.expire(now - state.retention_hours * 3600)
            self._streams[name] = state
        self._checkpoints = loaded.checkpoints

    async def run(self) -> None:
        """The journal and the retention sweep, until cancelled."""
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._journal.run(), name="stream-commits")
            tasks.create_task(self._sweep(), name="stream-retention")

    def close(self) -> None:
        self._store.close()

    def now(self) -> float:
        return self._clock.wall()

    @property
    def commits(self) -> int:
        return self._journal.commits

    async def _sweep(self) -> None:
        while True:
            await self._clock.sleep(SWEEP_INTERVAL)
            with contextlib.suppress(Exception):  # a failed sweep is retried next time
                await self.expire()

    async def expire(self) -> None:
        """Drop the records older than each stream's retention period."""
        now = self._clock.wall()
        statements = []
        for state in list(self._streams.values()):
            before = now - state.retention_hours * 3600
            for shard in state.shards:
                last = shard.expire(before)
                if last is not None:
                    statements.append(storage.trim(state.name, shard.index, last))
        if statements:
            await self._journal.submit(storage.Write(statements=statements))

    # -- streams -------------------------------------------------------------------------

    def arn(self, name: str) -> str:
        return f"arn:aws:kinesis:{self._region}:{self.account}:stream/{name}"

    def names(self) -> list[str]:
        return sorted(self._streams)

    def get(self, name: str | None = None, arn: str | None = None) -> StreamState:
        """The stream named by StreamName or StreamARN (AWS takes either)."""
        if arn:
            name_of = self._name_of(arn)
            if name and name != name_of:
                raise InvalidArgumentError("StreamARN and StreamName refer to different streams.")
            name = name_of
        if not name:
            raise InvalidArgumentError("Either StreamName or StreamARN must be provided.")
        state = self._streams.get(name)
        if state is None:
            raise stream_not_found(name, self.account)
        return state

    def find(self, arn: str) -> StreamState | None:
        state = self._streams.get(arn.rpartition("/")[2])
        return state if state is not None and state.arn == arn else None

    def _name_of(self, arn: str) -> str:
        prefix = f"arn:aws:kinesis:{self._region}:{self.account}:stream/"
        if not arn.startswith(prefix):
            raise InvalidArgumentError(f"Invalid StreamARN: {arn}")
        return arn[len(prefix) :]

    async def create(
        self, name: str, shard_count: int | None, mode: str, tags: dict[str, str] | None = None
    ) -> StreamState:
        check_name(name)
        if mode == "ON_DEMAND":
            shard_count = ON_DEMAND_SHARDS
        elif shard_count is None:
            raise InvalidArgumentError("ShardCount is required for PROVISIONED stream mode.")
        elif shard_count < 1:
            raise constraint(
                shard_count, "shardCount", "Member must have value greater than or equal to 1"
            )
        if name in self._streams:
            raise StreamInUseError(f"Stream {name} under account {self.account} already exists.")
        used = sum(len(s.open_shards()) for s in self._streams.values())
        if used + shard_count > ACCOUNT_SHARD_LIMIT:
            raise LimitExceededError(
                f"This request would exceed the shard limit for the account {self.account} in "
                f"{self._region}. Current shard count for the account: {used}. Limit: "
                f"{ACCOUNT_SHARD_LIMIT}. Number of additional shards that would have resulted "
                f"from this request: {shard_count}. Refer to the AWS Service Limits page "
                "(http://docs.aws.amazon.com/general/latest/gr/aws_service_limits.html) for "
                "current limits and how to request higher limits."
            )
        state = StreamState(
            name, self.arn(name), shard_count=shard_count, mode=mode,
            retention_hours=DEFAULT_RETENTION, created=self._clock.wall(),
        )  # fmt: skip
        state.tags = self._checked_tags(state, {}, tags or {})
        self._streams[name] = state  # taken at once: a second create is refused
        try:
            await self._journal.submit(
                storage.Write(statements=[storage.put_stream(name, state.to_doc())])
            )
        except BaseException:
            self._streams.pop(name, None)
            raise
        return state

    async def delete(self, state: StreamState) -> None:
        self._streams.pop(state.name, None)
        state.deleted = True
        state.notify()  # readers waiting on it find it gone
        for key in [k for k in self._checkpoints if k[1] == state.name]:
            del self._checkpoints[key]
        await self._journal.submit(storage.Write(statements=storage.drop_stream(state.name)))

    async def set_retention(self, state: StreamState, hours: int, *, increase: bool) -> None:
        """Increase/DecreaseStreamRetentionPeriod, with AWS's checks and wording."""
        if hours < DEFAULT_RETENTION:
            raise InvalidArgumentError(
                f"Minimum allowed retention period is {DEFAULT_RETENTION} hours. Requested "
                f"retention period ({hours} hours) is too short."
            )
        if hours > MAX_RETENTION:
            raise InvalidArgumentError(
                f"Maximum allowed retention period is {MAX_RETENTION} hours. Requested "
                f"retention period ({hours} hours) is too long."
            )
        current = state.retention_hours
        if increase and hours < current:
            raise InvalidArgumentError(
                f"Requested retention period ({hours} hours) for stream {state.name} can not "
                f"be shorter than existing retention period ({current} hours). Use "
                "DecreaseRetentionPeriod API."
            )
        if not increase and hours > current:
            raise InvalidArgumentError(
                f"Requested retention period ({hours} hours) for stream {state.name} can not "
                f"be longer than existing retention period ({current} hours). Use "
                "IncreaseRetentionPeriod API."
            )
        state.retention_hours = hours
        await self._journal.submit(
            storage.Write(statements=[storage.put_stream(state.name, state.to_doc())])
        )
        if not increase:
            await self.expire()

    def _checked_tags(
        self, state: StreamState, current: dict[str, str], added: dict[str, str]
    ) -> dict[str, str]:
        tags = {**current, **added}
        if len(tags) > MAX_TAGS:
            raise InvalidArgumentError(
                f"Failed to add tags to stream {state.name} under account {self.account} "
                f"because a given stream cannot have more than {MAX_TAGS} tags associated "
                "with it."
            )
        return tags

    async def tag(self, state: StreamState, added: dict[str, str], removed: list[str]) -> None:
        """AddTagsToStream / RemoveTagsFromStream."""
        tags = self._checked_tags(state, state.tags, added)
        for key in removed:
            tags.pop(key, None)
        state.tags = tags
        await self._journal.submit(
            storage.Write(statements=[storage.put_stream(state.name, state.to_doc())])
        )

    async def update_shard_count(self, state: StreamState, target: int) -> int:
        """UpdateShardCount (UNIFORM_SCALING): the open shard count before."""
        current = len(state.open_shards())
        if target > 2 * current or target * 2 < current:
            raise InvalidArgumentError(
                f"UpdateShardCount: TargetShardCount {target} for stream {state.name} under "
                f"account {self.account} must be between half and double the current open "
                f"shard count ({current})."
            )
        used = sum(len(s.open_shards()) for s in self._streams.values())
        if used - current + target > ACCOUNT_SHARD_LIMIT:
            raise LimitExceededError(
                f"This request would exceed the shard limit for the account {self.account} in "
                f"{self._region}. Current shard count for the account: {used}. Limit: "
                f"{ACCOUNT_SHARD_LIMIT}."
            )
        if target == current:
            return current
        state.reshard(target)
        # Puts enqueued before this write are applied before its hook closes the old shards.
        await self._journal.submit(storage.Write(
            statements=[storage.put_stream(state.name, state.to_doc())],
            applied=state.close_resharded,
        ))  # fmt: skip
        return current

    # -- records -------------------------------------------------------------------------

    def _route(self, state: StreamState, entry: Entry) -> Shard:
        key = entry.explicit_hash_key
        if key is None:
            key = hash_key(entry.partition_key)
        elif key >= HASH_SPACE:
            raise InvalidArgumentError(
                "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. "
                f"Specified value was {key}"
            )
        shards = state.open_shards()  # uniform ranges (CreateStream, UpdateShardCount)
        return shards[shard_for(len(shards), key)]

    async def put(self, state: StreamState, entries: Sequence[Entry]) -> list[Put]:
        """PutRecords: every entry durable (or refused for throughput) when it returns."""
        now = self._clock.wall()
        shards = [self._route(state, e) for e in entries]  # refuses the request as a whole
        results: list[Put] = []
        rows: list[storage.Row] = []
        kept: list[tuple[Shard, StoredRecord]] = []
        for entry, shard in zip(entries, shards, strict=True):
            if not shard.admit(now, len(entry.data) + len(entry.partition_key.encode())):
                results.append(Put(
                    error_code="ProvisionedThroughputExceededException",
                    error_message=f"Rate exceeded for shard {shard.id} in stream {state.name} "
                    f"under account {self.account}.",
                ))  # fmt: skip
                continue
            position = shard.reserve()
            record = StoredRecord(position, now, entry.partition_key, entry.data)
            rows.append((shard.index, position, now, entry.partition_key, entry.data))
            kept.append((shard, record))
            results.append(Put(shard.id, state.sequence(shard, position)))
        if rows:

            def show() -> None:
                if not state.deleted:
                    for shard, record in kept:
                        shard.append(record)
                    state.notify()

            await self._journal.submit(
                storage.Write(many=[storage.insert_records(state.name, rows)], applied=show)
            )
        return results

    async def put_one(self, state: StreamState, entry: Entry) -> Put:
        """PutRecord: throttling is the whole call's error."""
        (result,) = await self.put(state, [entry])
        if result.error_code:
            raise ThroughputExceededError(result.error_message)
        return result

    # -- the in-process API (event source mappings) ----------------------------------------

    def read(self, state: StreamState, shard: int, after: int, limit: int) -> list[StoredRecord]:
        return state.shards[shard].after(after, limit)

    async def wait(self, state: StreamState, seconds: float) -> None:
        """Until records arrive in `state` (or it is deleted), at most `seconds`."""
        with contextlib.suppress(TimeoutError):
            async with self._clock.timeout(seconds):
                await state.arrived.wait()

    def checkpoints(self, consumer: str, state: StreamState) -> dict[int, int]:
        """shard index -> the last position `consumer` finished (none saved: absent)."""
        return dict(self._checkpoints.get((consumer, state.name), {}))

    async def save_checkpoint(
        self, consumer: str, state: StreamState, shard: int, position: int
    ) -> None:
        """Durable when it returns (a deleted stream's are dropped: a new stream of that
        name must not start from them)."""
        if state.deleted:
            return
        self._checkpoints.setdefault((consumer, state.name), {})[shard] = position
        await self._journal.submit(storage.Write(
            statements=[storage.save_checkpoint(consumer, state.name, shard, position)]
        ))  # fmt: skip

    def forget_consumer(self, consumer: str) -> None:
        """The consumer is gone (its mapping deleted): its checkpoints go, soon."""
        for key in [k for k in self._checkpoints if k[0] == consumer]:
            del self._checkpoints[key]
        self._journal.submit_nowait(storage.Write(statements=[storage.forget_consumer(consumer)]))


def check_name(name: str) -> None:
    if not _NAME.fullmatch(name):
        raise constraint(
            name, "streamName", "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
        )
