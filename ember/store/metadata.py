"""Documents keyed by (kind, key) in SQLite, written in atomic transactions."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from ember.errors import ServiceError
from ember.store.durable import open_durable

# One table serves every resource kind: control decides what a document holds,
# the store only guarantees that a batch of puts and deletes lands whole or not at all.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    kind TEXT NOT NULL,
    key  TEXT NOT NULL,
    doc  BLOB NOT NULL,
    PRIMARY KEY (kind, key)
) WITHOUT ROWID;
"""

Put = tuple[str, str, dict[str, Any]]
Delete = tuple[str, str]


class MetadataStore:
    """SQLite in WAL mode; `synchronous=FULL` so an acknowledged write survives power loss."""

    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        self._db = open_durable(path, _SCHEMA, "metadata store")

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                raise ServiceError(f"metadata store write failed: {exc}") from exc

    def write(self, puts: Sequence[Put] = (), deletes: Sequence[Delete] = ()) -> None:
        """Apply every put and delete in one transaction (blocking: call off the loop)."""
        with self._transaction() as db:
            for kind, key in deletes:
                db.execute("DELETE FROM documents WHERE kind = ? AND key = ?", (kind, key))
            for kind, key, doc in puts:
                db.execute(
                    "INSERT OR REPLACE INTO documents (kind, key, doc) VALUES (?, ?, ?)",
                    (kind, key, orjson.dumps(doc)),
                )

    def load(self, kind: str) -> dict[str, dict[str, Any]]:
        """Every document of one kind, by key."""
        with self._lock:
            try:
                rows = self._db.execute(
                    "SELECT key, doc FROM documents WHERE kind = ?", (kind,)
                ).fetchall()
            except sqlite3.Error as exc:
                raise ServiceError(f"metadata store read failed: {exc}") from exc
        return {key: orjson.loads(doc) for key, doc in rows}

    def close(self) -> None:
        with self._lock:
            self._db.close()
