"""Streams on disk: one SQLite file (WAL, `synchronous=FULL`) written only in group
commits. Memory holds the live records (ember.streams.shards); this file is their durable
copy, read back whole at start-up.

    streams     (name, doc)                               shard count, retention, created…
    records     (stream, shard, position, arrival, key, data)   one row per record
    checkpoints (consumer, stream, shard, position)       how far a consumer has processed

A change is a `Write`; the `Journal` (ember/store/group_commit.py) runs every write that
arrived while the previous transaction committed in one transaction (one fsync) and only
then lets each `applied` hook show it in memory, in order, so readers never see a record a
crash could take back.
"""

from __future__ import annotations

import dataclasses
import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson

from ember.errors import ServiceError
from ember.store.durable import open_durable, transaction
from ember.store.group_commit import GroupCommit, show

_SCHEMA = """
CREATE TABLE IF NOT EXISTS streams (
    name TEXT PRIMARY KEY,
    doc  BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS records (
    stream   TEXT NOT NULL,
    shard    INTEGER NOT NULL,
    position INTEGER NOT NULL,
    arrival  REAL NOT NULL,
    key      TEXT NOT NULL,
    data     BLOB NOT NULL,
    PRIMARY KEY (stream, shard, position)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS checkpoints (
    consumer TEXT NOT NULL,
    stream   TEXT NOT NULL,
    shard    INTEGER NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (consumer, stream, shard)
) WITHOUT ROWID;
"""
MAX_BATCH = 8192  # writes per transaction at most (bounds its size and latency)

# One stored record: (shard, position, arrival, partition key, data).
Row = tuple[int, int, float, str, bytes]


@dataclasses.dataclass(frozen=True, slots=True)
class Write:
    """SQL to run in a transaction, and what to show in memory once it is durable."""

    statements: Sequence[tuple[str, Sequence[Any]]] = ()
    many: Sequence[tuple[str, Sequence[Sequence[Any]]]] = ()
    applied: Callable[[], None] | None = None


def put_stream(name: str, doc: dict[str, Any]) -> tuple[str, Sequence[Any]]:
    return "INSERT OR REPLACE INTO streams (name, doc) VALUES (?, ?)", (name, orjson.dumps(doc))


def insert_records(stream: str, rows: Sequence[Row]) -> tuple[str, Sequence[Sequence[Any]]]:
    return (
        "INSERT INTO records (stream, shard, position, arrival, key, data) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [(stream, *row) for row in rows],
    )


def drop_stream(name: str) -> list[tuple[str, Sequence[Any]]]:
    return [
        ("DELETE FROM streams WHERE name = ?", (name,)),
        ("DELETE FROM records WHERE stream = ?", (name,)),
        ("DELETE FROM checkpoints WHERE stream = ?", (name,)),
    ]


def trim(stream: str, shard: int, up_to: int) -> tuple[str, Sequence[Any]]:
    """Records past the retention period: positions up to `up_to` go, but the shard's
    newest row stays (memory forgets it): it carries the position to go on from."""
    return (
        "DELETE FROM records WHERE stream = ? AND shard = ? AND position <= ? AND position < "
        "(SELECT MAX(position) FROM records WHERE stream = ? AND shard = ?)",
        (stream, shard, up_to, stream, shard),
    )


def save_checkpoint(
    consumer: str, stream: str, shard: int, position: int
) -> tuple[str, Sequence[Any]]:
    return (
        "INSERT OR REPLACE INTO checkpoints (consumer, stream, shard, position) "
        "VALUES (?, ?, ?, ?)",
        (consumer, stream, shard, position),
    )


def forget_consumer(consumer: str) -> tuple[str, Sequence[Any]]:
    return "DELETE FROM checkpoints WHERE consumer = ?", (consumer,)


@dataclasses.dataclass(slots=True)
class Loaded:
    streams: dict[str, dict[str, Any]]
    records: dict[str, list[Row]]  # stream -> its rows, by shard then position
    checkpoints: dict[tuple[str, str], dict[int, int]]  # (consumer, stream) -> shard -> pos


class StreamStore:
    """The SQLite file. Written from one thread at a time (the journal's)."""

    def __init__(self, path: Path) -> None:
        self._db = open_durable(path, _SCHEMA, "stream store")
        self._lock = threading.Lock()  # close() waits for a commit still running

    def load(self) -> Loaded:
        try:
            # Rows a crash left behind a deleted stream must not join a new one.
            self._db.execute("DELETE FROM records WHERE stream NOT IN (SELECT name FROM streams)")
            streams = {n: orjson.loads(d) for n, d in self._db.execute("SELECT * FROM streams")}
            records: dict[str, list[Row]] = {}
            for stream, shard, position, arrival, key, data in self._db.execute(
                "SELECT stream, shard, position, arrival, key, data FROM records "
                "ORDER BY stream, shard, position"
            ):
                records.setdefault(stream, []).append((shard, position, arrival, key, data))
            checkpoints: dict[tuple[str, str], dict[int, int]] = {}
            for consumer, stream, shard, position in self._db.execute(
                "SELECT consumer, stream, shard, position FROM checkpoints"
            ):
                checkpoints.setdefault((consumer, stream), {})[shard] = position
        except sqlite3.Error as exc:
            raise ServiceError(f"cannot read the stream store: {exc}") from exc
        return Loaded(streams, records, checkpoints)

    def apply(self, writes: Sequence[Write]) -> None:
        with self._lock, transaction(self._db, "stream store"):
            for write in writes:
                for sql, args in write.statements:
                    self._db.execute(sql, args)
                for sql, rows in write.many:
                    self._db.executemany(sql, rows)

    def close(self) -> None:
        with self._lock:
            self._db.close()


class Journal(GroupCommit[Write]):
    """Group commit: `submit` returns once its change is durable and shown in memory."""

    def __init__(self, store: StreamStore) -> None:
        super().__init__(store.apply, max_batch=MAX_BATCH, applied=show)
