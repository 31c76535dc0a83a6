"""Metric points on disk: one row per series and minute (SQLite, its own file), merged into
on each flush and trimmed to the retention period. Called from a thread (run_blocking),
never from the event loop; one lock serialises the connection's users.

A series is `SeriesKey` = (namespace, metric, name, resource, version): for AWS/Lambda the
function name, the qualifier it was invoked with ("" when none) and the version that ran.
Empty strings stand for a dimension the series does not have (account-wide gauges).
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path

from ember.store.durable import open_durable
from ember.telemetry.metrics_stat import Stat

SeriesKey = tuple[str, str, str, str, str]  # namespace, metric, name, resource, version
# A query's filter: the key's fields that must match (None: any value).
Pattern = tuple[str, str | None, str | None, str | None, str | None]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS points (
    namespace TEXT NOT NULL,
    metric TEXT NOT NULL,
    name TEXT NOT NULL,
    resource TEXT NOT NULL,
    version TEXT NOT NULL,
    minute INTEGER NOT NULL,  -- epoch seconds of the minute's start
    count INTEGER NOT NULL,
    total REAL NOT NULL,
    minimum REAL NOT NULL,
    maximum REAL NOT NULL,
    buckets BLOB,  -- histogram (metrics_stat), NULL for counters and gauges
    PRIMARY KEY (namespace, metric, name, resource, version, minute)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS points_by_minute ON points (minute);
"""
_KEY_COLUMNS = ("namespace", "metric", "name", "resource", "version")


class MetricsStore:
    def __init__(self, path: Path) -> None:
        self._db = open_durable(path, _SCHEMA, "metrics database")
        # Metrics are not accepted work: the last seconds may go with a power loss, so the
        # WAL is not fsynced at each commit (a checkpoint still is).
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._lock = threading.Lock()

    def merge(self, batch: Mapping[int, Mapping[SeriesKey, Stat]], keep_since: int) -> None:
        """Add each minute's stats to what is stored (one transaction), and drop points
        older than `keep_since` (epoch seconds)."""
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                for minute, stats in batch.items():
                    for key, stat in stats.items():
                        if not stat.count:
                            continue
                        row = db.execute(
                            "SELECT count, total, minimum, maximum, buckets FROM points "
                            "WHERE namespace=? AND metric=? AND name=? AND resource=? "
                            "AND version=? AND minute=?",
                            (*key, minute),
                        ).fetchone()
                        if row is not None:
                            merged = Stat.stored(*row)
                            merged.merge(stat)
                            stat = merged
                        db.execute(
                            "INSERT OR REPLACE INTO points VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                            (*key, minute, stat.count, stat.total, stat.minimum,
                             stat.maximum, stat.histogram_blob()),
                        )  # fmt: skip
                db.execute("DELETE FROM points WHERE minute < ?", (keep_since,))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def read(
        self, patterns: Iterable[Pattern], start: int, end: int
    ) -> list[tuple[SeriesKey, int, Stat]]:
        """Points of series matching any of `patterns` with start <= minute < end."""
        found: list[tuple[SeriesKey, int, Stat]] = []
        with self._lock:
            for pattern in patterns:
                clauses = ["minute >= ?", "minute < ?"]
                values: list[str | int] = [start, end]
                for column, wanted in zip(_KEY_COLUMNS, pattern, strict=True):
                    if wanted is not None:
                        clauses.append(f"{column} = ?")
                        values.append(wanted)
                rows = self._db.execute(
                    "SELECT namespace, metric, name, resource, version, minute, count, total, "
                    f"minimum, maximum, buckets FROM points WHERE {' AND '.join(clauses)}",
                    values,
                ).fetchall()
                found += [((r[0], r[1], r[2], r[3], r[4]), r[5], Stat.stored(*r[6:])) for r in rows]
        return found

    def series(self, since: int) -> list[SeriesKey]:
        """Every series with a point since `since`."""
        with self._lock:
            rows = self._db.execute(
                "SELECT DISTINCT namespace, metric, name, resource, version FROM points "
                "WHERE minute >= ?",
                (since,),
            ).fetchall()
        return [(r[0], r[1], r[2], r[3], r[4]) for r in rows]

    def close(self) -> None:
        # Closing what failed to open fully: nothing to keep.
        with self._lock, contextlib.suppress(sqlite3.Error):
            self._db.close()
