"""Opening an SQLite database whose acknowledged writes survive a crash or power loss,
and writing to it in one transaction (one fsync)."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from ember.errors import ServiceError


def open_durable(path: Path, schema: str, what: str) -> sqlite3.Connection:
    """WAL with `synchronous=FULL`: the WAL is fsynced at every commit. Autocommit mode
    (isolation_level=None): callers write their own BEGIN IMMEDIATE ... COMMIT."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.executescript(schema)
    except sqlite3.Error as exc:
        raise ServiceError(f"cannot open the {what} at {path}: {exc}") from exc
    return db


@contextlib.contextmanager
def transaction(db: sqlite3.Connection, what: str) -> Iterator[None]:
    """BEGIN IMMEDIATE ... COMMIT around the block; ROLLBACK when it raises. SQLite's
    errors (the block's too) leave as ServiceError naming `what`."""
    try:
        db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
    except sqlite3.Error as exc:
        raise ServiceError(f"cannot write the {what}: {exc}") from exc
