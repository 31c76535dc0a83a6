"""Opening an SQLite database whose acknowledged writes survive a crash or power loss."""

from __future__ import annotations

import sqlite3
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
