"""Queues on disk: one SQLite file (WAL, `synchronous=FULL`), written only in group
commits. Memory holds the live state (ember.queues.state); this file is its durable copy,
read back whole at start-up.

    queues   (name, doc)                      attributes, tags, timestamps (JSON)
    messages (seq, queue, doc, sent, visible_at, receives, first_receive)
    dedup    (queue, id, message_id, sequence, expires)   FIFO deduplication window

Every change is an `Op`; `QueueStore.apply` runs a batch of them in one transaction, so
concurrent sends, receives and deletes share one fsync. `Committer` gathers the batches
(ember/store/group_commit.py).
"""

from __future__ import annotations

import dataclasses
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import orjson

from ember.errors import ServiceError
from ember.queues.messages import Message
from ember.store.durable import open_durable, transaction
from ember.store.group_commit import CommitStatistics, GroupCommit

_SCHEMA = """
CREATE TABLE IF NOT EXISTS queues (
    name TEXT PRIMARY KEY,
    doc  BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS messages (
    seq           INTEGER PRIMARY KEY,
    queue         TEXT NOT NULL,
    doc           BLOB NOT NULL,
    sent          REAL NOT NULL,
    visible_at    REAL NOT NULL,
    receives      INTEGER NOT NULL,
    first_receive REAL
);
CREATE INDEX IF NOT EXISTS messages_queue ON messages (queue, seq);
CREATE TABLE IF NOT EXISTS dedup (
    queue      TEXT NOT NULL,
    id         TEXT NOT NULL,
    message_id TEXT NOT NULL,
    sequence   TEXT,
    expires    REAL NOT NULL,
    PRIMARY KEY (queue, id)
) WITHOUT ROWID;
"""
# Ops beyond this wait for the next batch (bounds one transaction's size and latency).
MAX_BATCH = 4096


class Op(Protocol):
    def run(self, db: sqlite3.Connection) -> None: ...


@dataclasses.dataclass(frozen=True, slots=True)
class DedupEntry:
    queue: str
    dedup_id: str
    message_id: str
    sequence_number: str | None
    expires: float


@dataclasses.dataclass(frozen=True, slots=True)
class PutQueue:
    name: str
    doc: dict[str, Any]

    def run(self, db: sqlite3.Connection) -> None:
        db.execute("INSERT OR REPLACE INTO queues (name, doc) VALUES (?, ?)",
                   (self.name, orjson.dumps(self.doc)))  # fmt: skip


@dataclasses.dataclass(frozen=True, slots=True)
class DropQueue:
    name: str

    def run(self, db: sqlite3.Connection) -> None:
        db.execute("DELETE FROM queues WHERE name = ?", (self.name,))
        db.execute("DELETE FROM messages WHERE queue = ?", (self.name,))
        db.execute("DELETE FROM dedup WHERE queue = ?", (self.name,))


@dataclasses.dataclass(frozen=True, slots=True)
class Insert:
    messages: Sequence[Message]
    dedup: Sequence[DedupEntry] = ()

    def run(self, db: sqlite3.Connection) -> None:
        db.executemany(
            "INSERT INTO messages (seq, queue, doc, sent, visible_at, receives, first_receive) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(m.seq, m.queue, orjson.dumps(m.to_doc()), m.sent, m.visible_at, m.receives,
              m.first_receive) for m in self.messages],
        )  # fmt: skip
        if self.dedup:
            db.executemany(
                "INSERT OR REPLACE INTO dedup VALUES (?, ?, ?, ?, ?)",
                [(d.queue, d.dedup_id, d.message_id, d.sequence_number, d.expires)
                 for d in self.dedup],
            )  # fmt: skip


@dataclasses.dataclass(frozen=True, slots=True)
class Update:
    """New visibility and receive counts: (visible_at, receives, first_receive, seq) rows."""

    rows: Sequence[tuple[float, int, float | None, int]]

    def run(self, db: sqlite3.Connection) -> None:
        db.executemany(
            "UPDATE messages SET visible_at = ?, receives = ?, first_receive = ? WHERE seq = ?",
            self.rows,
        )


@dataclasses.dataclass(frozen=True, slots=True)
class Delete:
    seqs: Sequence[int]

    def run(self, db: sqlite3.Connection) -> None:
        db.executemany("DELETE FROM messages WHERE seq = ?", [(s,) for s in self.seqs])


@dataclasses.dataclass(frozen=True, slots=True)
class Move:
    """Hand a message to another queue (redrive to a dead-letter queue), as it is now."""

    message: Message

    def run(self, db: sqlite3.Connection) -> None:
        m = self.message
        db.execute(
            "UPDATE messages SET queue = ?, doc = ?, visible_at = ?, receives = ?, "
            "first_receive = ? WHERE seq = ?",
            (m.queue, orjson.dumps(m.to_doc()), m.visible_at, m.receives, m.first_receive,
             m.seq),
        )  # fmt: skip


@dataclasses.dataclass(frozen=True, slots=True)
class Purge:
    """PurgeQueue: the messages sent before it (those sent since stay)."""

    queue: str
    up_to: int

    def run(self, db: sqlite3.Connection) -> None:
        db.execute("DELETE FROM messages WHERE queue = ? AND seq <= ?", (self.queue, self.up_to))


@dataclasses.dataclass(frozen=True, slots=True)
class ForgetDedup:
    """Drop deduplication entries whose 5-minute window has passed."""

    now: float

    def run(self, db: sqlite3.Connection) -> None:
        db.execute("DELETE FROM dedup WHERE expires <= ?", (self.now,))


@dataclasses.dataclass(slots=True)
class Loaded:
    queues: dict[str, dict[str, Any]]
    messages: list[Message]
    dedup: list[DedupEntry]


class QueueStore:
    """The SQLite file. `apply` is called from one thread at a time (the committer's)."""

    def __init__(self, path: Path) -> None:
        self._db = open_durable(path, _SCHEMA, "queue store")
        # Held by a commit: close() waits for one a cancelled committer left running.
        self._lock = threading.Lock()

    def load(self) -> Loaded:
        try:
            # A send committed while its queue was being deleted leaves an orphan row: it
            # must not join a later queue of the same name.
            self._db.execute("DELETE FROM messages WHERE queue NOT IN (SELECT name FROM queues)")
            queues = {
                name: orjson.loads(doc)
                for name, doc in self._db.execute("SELECT name, doc FROM queues")
            }
            messages = []
            for seq, queue, doc, sent, visible_at, receives, first in self._db.execute(
                "SELECT seq, queue, doc, sent, visible_at, receives, first_receive "
                "FROM messages ORDER BY seq"
            ):
                d = orjson.loads(doc)
                messages.append(Message(
                    seq=seq, queue=queue, message_id=d["id"], body=d["body"],
                    md5_of_body=d["md5"], attributes=d["attrs"], md5_of_attributes=d["md5a"],
                    system=d["sys"], md5_of_system=d["md5s"], sender_id=d["sender"],
                    sent=sent, group_id=d["group"], dedup_id=d["dedup"],
                    sequence_number=d["sn"], visible_at=visible_at, receives=receives,
                    first_receive=first, dead_letter_source=d.get("dlq_source"),
                ))  # fmt: skip
            dedup = [DedupEntry(*row) for row in self._db.execute("SELECT * FROM dedup")]
        except sqlite3.Error as exc:
            raise ServiceError(f"cannot read the queue store: {exc}") from exc
        return Loaded(queues, messages, dedup)

    def apply(self, ops: Sequence[Op]) -> None:
        with self._lock:
            self._apply(ops)

    def _apply(self, ops: Sequence[Op]) -> None:
        with transaction(self._db, "queue store"):
            for op in ops:
                op.run(self._db)

    def close(self) -> None:
        with self._lock:
            self._db.close()


CommitterStatistics = CommitStatistics


class Committer(GroupCommit[Op]):
    """Group commit: `submit(*ops)` returns once its ops are durable; ops that arrive while
    a commit runs share the next one (one transaction, one fsync)."""

    def __init__(self, store: QueueStore) -> None:
        super().__init__(store.apply, max_batch=MAX_BATCH)
