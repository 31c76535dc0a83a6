"""The tables' live state and its durable changes: definitions, items by key, streams.

Every change goes through `commit_changes`: the items change in memory at once (so a later
condition sees them), and the call returns only once the journal has made the change and
its stream record durable in one transaction; the stream record becomes readable then.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ember.clock import Clock
from ember.tables import indexes, storage
from ember.tables.errors import (
    NOT_FOUND,
    TableNotFoundError,
    TableValidationError,
    table_not_found,
)
from ember.tables.indexes import IndexSpec
from ember.tables.model import StreamInfo, TableSpec
from ember.tables.storage import Journal, TableStore, Write
from ember.tables.streams import RETENTION, LiveStream, StreamRecord, build_record
from ember.tables.values import INVALID, Item, item_size, key_text, sort_key, value_size

log = logging.getLogger("ember.tables")

SWEEP_EVERY = 60.0  # seconds between retention sweeps
EXPIRE_EVERY = 5.0  # seconds between Time to Live passes (AWS takes up to days)
TTL_HORIZON = 5 * 365 * 86400.0  # DynamoDB leaves items expired over five years ago alone
KEY_MISMATCH = "The provided key element does not match the schema"
MAX_HASH_KEY_BYTES = 2048
MAX_RANGE_KEY_BYTES = 1024


@dataclasses.dataclass(frozen=True, slots=True)
class Change:
    """One item's change: old None = insert, new None = delete."""

    key: Item
    old: Item | None
    new: Item | None
    expired: bool = False  # a deletion by Time to Live


class LiveTable:
    def __init__(self, spec: TableSpec) -> None:
        self.spec = spec
        self.indexes = {n: IndexSpec.from_doc(d) for n, d in spec.indexes.items()}
        # partition key text -> sort key text ("" without one) -> item
        self.partitions: dict[str, dict[str, Item]] = {}
        self.count = 0
        self.described = False  # CREATING until first described, as AWS settles quickly

    def get(self, key: Item) -> Item | None:
        pk, sk = self.key_texts(key)
        return self.partitions.get(pk, {}).get(sk)

    def key_texts(self, key: Item) -> tuple[str, str]:
        pk = key_text(key[self.spec.hash_key])
        sk = key_text(key[self.spec.range_key]) if self.spec.range_key else ""
        return pk, sk

    def store_key(self, key: Item) -> str:
        pk, sk = self.key_texts(key)
        return f"{pk}\x00{sk}"

    def set(self, key: Item, item: Item | None) -> None:
        pk, sk = self.key_texts(key)
        partition = self.partitions.setdefault(pk, {})
        old = partition.pop(sk, None)
        if old is not None:
            self.count -= 1
        if item is not None:
            partition[sk] = item
            self.count += 1
        elif not partition:
            del self.partitions[pk]

    def partition(self, pk: str) -> list[Item]:
        """A partition's items in sort-key order."""
        items = list(self.partitions.get(pk, {}).values())
        if self.spec.range_key is not None:
            name = self.spec.range_key
            items.sort(key=lambda i: sort_key(i[name]))
        return items

    def all_items(self) -> Iterator[Item]:
        for pk in sorted(self.partitions):
            yield from self.partition(pk)

    def key_of(self, item: Item, *, whole_item: bool) -> Item:
        """The key attributes of a key (exactly them) or of an item (at least them), checked
        against the key schema with AWS's words."""
        names = self.spec.key_names()
        if not whole_item and (set(item) != set(names)):
            raise TableValidationError(KEY_MISMATCH)
        key = {}
        for name in names:
            value = item.get(name)
            expected = self.spec.attributes.get(name, "S")
            if value is None:
                raise TableValidationError(
                    f"{INVALID}Missing the key {name} in the item" if whole_item else KEY_MISMATCH
                )
            actual = next(iter(value))
            if actual != expected:
                raise TableValidationError(
                    f"{INVALID}Type mismatch for key {name} expected: {expected} actual: {actual}"
                    if whole_item
                    else KEY_MISMATCH
                )
            if actual in ("S", "B") and value[actual] == "":
                raise TableValidationError(
                    "One or more parameter values are not valid. The AttributeValue for a key "
                    f"attribute cannot contain an empty {'string' if actual == 'S' else 'binary'}"
                    f" value. Key: {name}"
                )
            if name == self.spec.hash_key and value_size(value) > MAX_HASH_KEY_BYTES:
                raise TableValidationError(
                    f"{INVALID}Size of hashkey has exceeded the maximum size limit of "
                    f"{MAX_HASH_KEY_BYTES} bytes"
                )
            if name == self.spec.range_key and value_size(value) > MAX_RANGE_KEY_BYTES:
                raise TableValidationError(
                    f"{INVALID}Aggregated size of all range keys has exceeded the size limit "
                    f"of {MAX_RANGE_KEY_BYTES} bytes"
                )
            key[name] = value
        return key


class Tables:
    def __init__(self, path: Path, clock: Clock, *, region: str, account: str) -> None:
        self.region = region
        self.account = account
        self.clock = clock
        self._store = TableStore(path)
        self.journal = Journal(self._store)
        self.tables: dict[str, LiveTable] = {}
        self.streams: dict[str, LiveStream] = {}  # arn -> stream (disabled ones 24 h more)
        self.checkpoints: dict[tuple[str, str], int] = {}  # (consumer, stream) -> seq done
        self._sequence = 0  # the last stream sequence number given
        self._load()

    def _load(self) -> None:
        loaded = self._store.load()
        for name, doc in loaded.tables.items():
            table = LiveTable(TableSpec.from_doc(doc))
            table.described = True
            for item in loaded.items.get(name, []):
                table.set(table.key_of(item, whole_item=True), item)
            self.tables[name] = table
        for doc in loaded.streams:
            stream = LiveStream(StreamInfo.from_doc(doc))
            for seq, created, record in loaded.records.get(stream.info.arn, []):
                stream.records.append(StreamRecord(seq, created, record))
            self.streams[stream.info.arn] = stream
        self.checkpoints = dict(loaded.checkpoints)
        self._sequence = loaded.sequence

    async def run(self) -> None:
        """The journal, Time to Live deletions and the 24-hour retention sweep, until
        cancelled."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self.journal.run(), name="tables-journal")
            ticks = 0
            while True:
                await self.clock.sleep(EXPIRE_EVERY)
                await self.expire()
                ticks += 1
                if ticks % int(SWEEP_EVERY / EXPIRE_EVERY) == 0:
                    await self.sweep()

    async def expire(self) -> None:
        """Delete the items whose Time to Live attribute (epoch seconds) has passed; each
        deletion writes a REMOVE stream record marked as the service's."""
        now = self.clock.wall()
        groups = []
        for table in list(self.tables.values()):
            name = table.spec.ttl_attribute
            if name is None:
                continue
            changes = []
            for item in table.all_items():
                value = item.get(name)
                if (
                    value is not None
                    and "N" in value
                    and now - TTL_HORIZON < float(value["N"]) < now
                ):
                    key = {k: item[k] for k in table.spec.key_names()}
                    changes.append(Change(key, item, None, expired=True))
            if changes:
                groups.append((table, changes))
        if groups:
            await self.commit_many(groups)

    async def sweep(self) -> None:
        before = self.clock.wall() - RETENTION
        gone = [
            s for s in self.streams.values()
            if s.info.disabled_at is not None and s.info.disabled_at < before
        ]  # fmt: skip
        statements = [storage.trim_records(before)]
        for stream in gone:
            statements += storage.drop_stream(stream.info.arn)

        def applied() -> None:
            for stream in self.streams.values():
                stream.trim(before)
            for stream in gone:
                stream.deleted = True
                stream.arrived.set()
                self.streams.pop(stream.info.arn, None)

        await self.journal.submit(Write(statements, applied))

    def close(self) -> None:
        self._store.close()

    # -- reads ----------------------------------------------------------------------

    def table(self, name: object, *, control: bool = False) -> LiveTable:
        """The table; unknown: ResourceNotFoundException, worded as AWS words it for item
        operations ("Requested resource not found") or for table operations (`control`)."""
        table = self.tables.get(name) if isinstance(name, str) else None
        if table is None:
            raise table_not_found(str(name)) if control else TableNotFoundError(NOT_FOUND)
        return table

    def stream(self, arn: str) -> LiveStream | None:
        return self.streams.get(arn)

    # -- definitions ------------------------------------------------------------------

    async def add_table(self, spec: TableSpec, stream: StreamInfo | None) -> LiveTable:
        table = LiveTable(spec)
        self.tables[spec.name] = table
        statements = [storage.put_table(spec.name, spec.to_doc())]
        if stream is not None:
            self.streams[stream.arn] = LiveStream(stream)
            statements.append(storage.put_stream(stream.arn, stream.to_doc()))
        await self.journal.submit(Write(statements))
        return table

    async def replace_spec(self, spec: TableSpec, streams: list[StreamInfo]) -> None:
        table = self.table(spec.name)
        table.spec = spec
        table.indexes = {n: IndexSpec.from_doc(d) for n, d in spec.indexes.items()}
        statements = [storage.put_table(spec.name, spec.to_doc())]
        for info in streams:
            live = self.streams.get(info.arn)
            if live is None:
                self.streams[info.arn] = LiveStream(info)
            else:
                live.info = info
            statements.append(storage.put_stream(info.arn, info.to_doc()))
        await self.journal.submit(Write(statements))

    async def remove_table(self, name: str, stream: StreamInfo | None) -> None:
        del self.tables[name]
        statements = storage.drop_table(name)
        if stream is not None:
            self.streams[stream.arn].info = stream
            statements.append(storage.put_stream(stream.arn, stream.to_doc()))
        await self.journal.submit(Write(statements))

    # -- items ------------------------------------------------------------------------

    async def commit_changes(self, table: LiveTable, changes: list[Change]) -> None:
        """Apply the changes in memory now; return once they (and their stream records)
        are durable."""
        await self.commit_many([(table, changes)])

    async def commit_many(self, groups: list[tuple[LiveTable, list[Change]]]) -> None:
        """`commit_changes` for changes to several tables in one transaction (all or
        nothing on disk: TransactWriteItems)."""
        for table, changes in groups:  # every check before any change
            if table.indexes:
                for change in changes:
                    if change.new is not None:
                        indexes.check_item_keys(table.indexes, table.spec.attributes, change.new)
        statements: list[storage.Statement] = []
        readable: list[tuple[LiveStream, StreamRecord]] = []
        now = self.clock.wall()
        for table, changes in groups:
            spec = table.spec
            stream = None
            if spec.stream_enabled and spec.stream_arn:
                stream = self.streams.get(spec.stream_arn)
            for change in changes:
                table.set(change.key, change.new)
                store_key = table.store_key(change.key)
                if change.new is None:
                    statements.append(storage.delete_item(spec.name, store_key))
                else:
                    statements.append(storage.put_item(spec.name, store_key, change.new))
                if stream is None or change.old == change.new:
                    continue  # DynamoDB writes no record for a write that changes nothing
                self._sequence += 1
                doc = build_record(region=self.region, view_type=stream.info.view_type,
                                   keys=change.key, old=change.old, new=change.new,
                                   seq=self._sequence, created=now,
                                   expired=change.expired)  # fmt: skip
                readable.append((stream, StreamRecord(self._sequence, now, doc)))
                statements.append(storage.insert_record(stream.info.arn, self._sequence, now, doc))
        if readable:
            statements.append(storage.bump_sequence(self._sequence))

        def applied() -> None:
            for stream, record in readable:
                stream.append(record)

        await self.journal.submit(Write(statements, applied))

    # -- checkpoints (event source mappings) -------------------------------------------

    async def save_checkpoint(self, consumer: str, stream: str, seq: int) -> None:
        self.checkpoints[(consumer, stream)] = seq
        await self.journal.submit(Write([storage.put_checkpoint(consumer, stream, seq)]))

    def forget_consumer(self, consumer: str) -> None:
        """The consumer's mapping is deleted: its checkpoints go (committed soon)."""
        for key in [k for k in self.checkpoints if k[0] == consumer]:
            del self.checkpoints[key]
        self.journal.submit_nowait(Write([storage.drop_checkpoints(consumer)]))

    def new_sequence_floor(self) -> int:
        return self._sequence

    def describe(self, table: LiveTable, status: str | None = None) -> dict[str, Any]:
        stream = self.streams.get(table.spec.stream_arn) if table.spec.stream_arn else None
        info = stream.info if stream is not None else None
        if status is None:
            status = "ACTIVE" if table.described else "CREATING"
        # TableSizeBytes: AWS refreshes it every few hours; Ember adds it up when asked.
        items = list(table.all_items())
        size = sum(item_size(item) for item in items)
        out = table.spec.describe(status, table.count, size, info)
        if table.indexes:
            out.update(indexes.describe(table.indexes, table.spec.arn, items,
                                        table.spec.key_names()))  # fmt: skip
        return out
