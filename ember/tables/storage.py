"""Tables on disk: one SQLite file (WAL, `synchronous=FULL`) written only in group commits.
Memory holds the live items and stream records (ember.tables.service); this file is their
durable copy, read back whole at start-up.

    tables      (name, doc)                         definitions (TableSpec documents)
    items       (tbl, key, doc)                     one row per item
    streams     (arn, doc)                          StreamInfo documents
    records     (stream, seq, created, doc)         stream records, kept 24 hours
    checkpoints (consumer, stream, seq)             how far a mapping has processed
    counters    (name, value)                       the last stream sequence number given

A change is a `Write`; the `Journal` (ember/store/group_commit.py) runs every write that
arrived while the previous transaction committed in one transaction (one fsync). An item's
change and its stream record are one `Write`: neither is on disk without the other. Each
write's `applied` hook runs once it is durable, in order (stream records become readable
there).
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
CREATE TABLE IF NOT EXISTS tables (name TEXT PRIMARY KEY, doc BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS items (
    tbl TEXT NOT NULL, key TEXT NOT NULL, doc BLOB NOT NULL, PRIMARY KEY (tbl, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS streams (arn TEXT PRIMARY KEY, doc BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS records (
    stream TEXT NOT NULL, seq INTEGER NOT NULL, created REAL NOT NULL, doc BLOB NOT NULL,
    PRIMARY KEY (stream, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS checkpoints (
    consumer TEXT NOT NULL, stream TEXT NOT NULL, seq INTEGER NOT NULL,
    PRIMARY KEY (consumer, stream)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)
    WITHOUT ROWID;
"""
MAX_BATCH = 4096  # writes per transaction at most (bounds its size and latency)

Statement = tuple[str, Sequence[Any]]


@dataclasses.dataclass(frozen=True, slots=True)
class Write:
    """SQL to run in a transaction, and what to do in memory once it is durable."""

    statements: Sequence[Statement] = ()
    applied: Callable[[], None] | None = None


def put_table(name: str, doc: dict[str, Any]) -> Statement:
    return "INSERT OR REPLACE INTO tables (name, doc) VALUES (?, ?)", (name, orjson.dumps(doc))


def drop_table(name: str) -> list[Statement]:
    return [("DELETE FROM tables WHERE name = ?", (name,)),
            ("DELETE FROM items WHERE tbl = ?", (name,))]  # fmt: skip


def put_item(table: str, key: str, item: dict[str, Any]) -> Statement:
    return (
        "INSERT OR REPLACE INTO items (tbl, key, doc) VALUES (?, ?, ?)",
        (table, key, orjson.dumps(item)),
    )


def delete_item(table: str, key: str) -> Statement:
    return "DELETE FROM items WHERE tbl = ? AND key = ?", (table, key)


def put_stream(arn: str, doc: dict[str, Any]) -> Statement:
    return "INSERT OR REPLACE INTO streams (arn, doc) VALUES (?, ?)", (arn, orjson.dumps(doc))


def drop_stream(arn: str) -> list[Statement]:
    return [("DELETE FROM streams WHERE arn = ?", (arn,)),
            ("DELETE FROM records WHERE stream = ?", (arn,)),
            ("DELETE FROM checkpoints WHERE stream = ?", (arn,))]  # fmt: skip


def insert_record(stream: str, seq: int, created: float, doc: dict[str, Any]) -> Statement:
    return (
        "INSERT INTO records (stream, seq, created, doc) VALUES (?, ?, ?, ?)",
        (stream, seq, created, orjson.dumps(doc)),
    )


def bump_sequence(value: int) -> Statement:
    return "INSERT OR REPLACE INTO counters (name, value) VALUES ('sequence', ?)", (value,)


def trim_records(before: float) -> Statement:
    return "DELETE FROM records WHERE created < ?", (before,)


def put_checkpoint(consumer: str, stream: str, seq: int) -> Statement:
    return (
        "INSERT OR REPLACE INTO checkpoints (consumer, stream, seq) VALUES (?, ?, ?)",
        (consumer, stream, seq),
    )


def drop_checkpoints(consumer: str) -> Statement:
    return "DELETE FROM checkpoints WHERE consumer = ?", (consumer,)


@dataclasses.dataclass(slots=True)
class Loaded:
    tables: dict[str, dict[str, Any]]
    items: dict[str, list[dict[str, Any]]]  # table -> items
    streams: list[dict[str, Any]]
    records: dict[str, list[tuple[int, float, dict[str, Any]]]]  # stream -> (seq, created, doc)
    checkpoints: dict[tuple[str, str], int]
    sequence: int


class TableStore:
    """The SQLite file. `apply` is called from one thread at a time (the journal's)."""

    def __init__(self, path: Path) -> None:
        self._db = open_durable(path, _SCHEMA, "table store")
        self._lock = threading.Lock()  # held by a commit; close() waits for it

    def load(self) -> Loaded:
        db = self._db
        try:
            tables = {n: orjson.loads(d) for n, d in db.execute("SELECT name, doc FROM tables")}
            items: dict[str, list[dict[str, Any]]] = {name: [] for name in tables}
            for table, doc in db.execute("SELECT tbl, doc FROM items"):
                if table in items:
                    items[table].append(orjson.loads(doc))
            streams = [orjson.loads(d) for (d,) in db.execute("SELECT doc FROM streams")]
            records: dict[str, list[tuple[int, float, dict[str, Any]]]] = {}
            for stream, seq, created, doc in db.execute(
                "SELECT stream, seq, created, doc FROM records ORDER BY stream, seq"
            ):
                records.setdefault(stream, []).append((seq, created, orjson.loads(doc)))
            checkpoints = {
                (c, s): q for c, s, q in db.execute("SELECT consumer, stream, seq FROM checkpoints")
            }
            row = db.execute("SELECT value FROM counters WHERE name = 'sequence'").fetchone()
        except sqlite3.Error as exc:
            raise ServiceError(f"cannot read the table store: {exc}") from exc
        return Loaded(tables, items, streams, records, checkpoints, row[0] if row else 0)

    def apply(self, writes: Sequence[Write]) -> None:
        with self._lock, transaction(self._db, "table store"):
            for write in writes:
                for sql, params in write.statements:
                    self._db.execute(sql, params)

    def close(self) -> None:
        with self._lock:
            self._db.close()


class Journal(GroupCommit[Write]):
    """Group commit: `submit` returns once its write is durable (and applied); writes that
    arrive while a commit runs share the next one (one transaction, one fsync). `settled`
    waits for the writes in flight: writes change memory at once (so that later conditions
    see them), and a reader must not show one a crash could still take back."""

    def __init__(self, store: TableStore) -> None:
        super().__init__(store.apply, max_batch=MAX_BATCH, applied=show)
