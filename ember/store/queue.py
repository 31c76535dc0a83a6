"""The durable queue of asynchronous events: one SQLite file, written in group commits.

Every change is an `Op`. `EventQueue.apply` runs a batch of ops in one transaction (each
inside its own savepoint, so one failing op does not undo the others) and commits once:
with WAL and `synchronous=FULL` that commit is the fsync that makes the whole batch
survive power loss, so concurrent writers share one fsync instead of paying one each.
"""

from __future__ import annotations

import dataclasses
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from ember.errors import ServiceError
from ember.store.durable import open_durable
from ember.store.events import (
    EventState,
    InvalidEventTransition,
    NewEvent,
    QueuedEvent,
    TargetDepth,
    check_transition,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id         INTEGER PRIMARY KEY,
    request_id TEXT NOT NULL,
    target     TEXT NOT NULL,
    qualifier  TEXT,
    payload    BLOB NOT NULL,
    context    TEXT,
    state      TEXT NOT NULL,
    received   REAL NOT NULL,
    not_before REAL NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    backoffs   INTEGER NOT NULL DEFAULT 0,
    outcome    BLOB
);
CREATE INDEX IF NOT EXISTS events_due ON events (state, not_before, id);
CREATE INDEX IF NOT EXISTS events_by_target ON events (state, target, not_before, id);
CREATE TABLE IF NOT EXISTS tallies (
    target  TEXT PRIMARY KEY,
    dropped INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
"""
_COLUMNS = (
    "id, request_id, target, qualifier, payload, received, context, attempts, backoffs, outcome"
)


class Op(Protocol):
    """One change (or read) of the queue, run inside the batch's transaction."""

    def run(self, db: sqlite3.Connection) -> Any: ...


def _insert(db: sqlite3.Connection, events: Sequence[NewEvent]) -> list[int]:
    ids = []
    for e in events:
        cursor = db.execute(
            "INSERT INTO events (request_id, target, qualifier, payload, context, state, "
            "received, not_before) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (e.request_id, e.target, e.qualifier, e.payload, e.context, EventState.READY,
             e.received, e.received),
        )  # fmt: skip
        ids.append(cursor.lastrowid or 0)  # always set after an INSERT
    return ids


def _leave_in_flight(
    db: sqlite3.Connection, event_id: int, target: EventState, sql: str, params: tuple[Any, ...]
) -> None:
    """Run `sql` (which must match the row only while IN_FLIGHT) as the move to `target`."""
    check_transition(EventState.IN_FLIGHT, target)
    if db.execute(sql, params).rowcount != 1:
        raise InvalidEventTransition(f"event {event_id} is not in flight; cannot move to {target}")


@dataclasses.dataclass(frozen=True, slots=True)
class Enqueue:
    """Accept events (READY at once). Returns their ids."""

    events: Sequence[NewEvent]

    def run(self, db: sqlite3.Connection) -> list[int]:
        return _insert(db, self.events)


# Every target with a READY event, one index seek each (SQLite has no loose index scan).
_READY_TARGETS = """
WITH RECURSIVE targets(name) AS (
    SELECT min(target) FROM events WHERE state = :ready
    UNION ALL
    SELECT (SELECT min(target) FROM events WHERE state = :ready AND target > name)
    FROM targets WHERE name IS NOT NULL
)
SELECT name FROM targets WHERE name IS NOT NULL
"""


@dataclasses.dataclass(frozen=True, slots=True)
class Claim:
    """Take up to `limit` due events (READY -> IN_FLIGHT), fairly across targets: round
    robin over the functions with due events (starting after `after`, the last target the
    previous claim served), oldest due first within each. A function with a deep backlog
    so cannot keep another's events waiting behind it. Returns (events, when the next
    READY event falls due or None)."""

    now: float
    limit: int
    after: str | None = None

    def run(self, db: sqlite3.Connection) -> tuple[list[QueuedEvent], float | None]:
        check_transition(EventState.READY, EventState.IN_FLIGHT)
        targets = [name for (name,) in db.execute(_READY_TARGETS, {"ready": EventState.READY})]
        if self.after is not None:  # rotate: the targets after the last one served first
            split = next((i for i, t in enumerate(targets) if t > self.after), len(targets))
            targets = targets[split:] + targets[:split]
        queues = []
        for target in targets:
            due = db.execute(
                f"SELECT {_COLUMNS} FROM events WHERE state = ? AND target = ? AND "
                "not_before <= ? ORDER BY not_before, id LIMIT ?",
                (EventState.READY, target, self.now, self.limit),
            ).fetchall()
            if due:
                queues.append(due)
                if len(queues) >= self.limit:
                    break  # the first round alone fills the claim
        rows: list[Any] = []
        depth = 0
        while len(rows) < self.limit and any(len(q) > depth for q in queues):
            rows += [q[depth] for q in queues if len(q) > depth][: self.limit - len(rows)]
            depth += 1
        db.executemany(
            "UPDATE events SET state = ? WHERE id = ?",
            [(EventState.IN_FLIGHT, row[0]) for row in rows],
        )
        (next_due,) = db.execute(
            "SELECT min(not_before) FROM events WHERE state = ?", (EventState.READY,)
        ).fetchone()
        return [QueuedEvent(*row) for row in rows], next_due


@dataclasses.dataclass(frozen=True, slots=True)
class Reschedule:
    """Put an in-flight event back (IN_FLIGHT -> READY) to run again at `not_before`."""

    event_id: int
    not_before: float
    attempts: int
    backoffs: int
    outcome: bytes | None

    def run(self, db: sqlite3.Connection) -> None:
        _leave_in_flight(
            db,
            self.event_id,
            EventState.READY,
            "UPDATE events SET state = ?, not_before = ?, attempts = ?, backoffs = ?, "
            "outcome = ? WHERE id = ? AND state = ?",
            (EventState.READY, self.not_before, self.attempts, self.backoffs, self.outcome,
             self.event_id, EventState.IN_FLIGHT),
        )  # fmt: skip


@dataclasses.dataclass(frozen=True, slots=True)
class Finish:
    """End an in-flight event (DONE or FAILED) and, in the same transaction, accept the
    events it hands over (destination records, dead letters): none is lost in between."""

    event_id: int
    target_name: str
    state: EventState
    follow_ups: Sequence[NewEvent] = ()

    def run(self, db: sqlite3.Connection) -> None:
        _leave_in_flight(
            db,
            self.event_id,
            self.state,
            "DELETE FROM events WHERE id = ? AND state = ?",
            (self.event_id, EventState.IN_FLIGHT),
        )
        if self.state is EventState.FAILED:
            db.execute(
                "INSERT INTO tallies (target, dropped) VALUES (?, 1) "
                "ON CONFLICT (target) DO UPDATE SET dropped = dropped + 1",
                (self.target_name,),
            )
        _insert(db, self.follow_ups)


@dataclasses.dataclass(frozen=True, slots=True)
class Depths:
    """Per-function depth, in-flight count, oldest event and dropped tally (a read)."""

    def run(self, db: sqlite3.Connection) -> list[TargetDepth]:
        found: dict[str, dict[str, Any]] = {}
        for target, dropped in db.execute("SELECT target, dropped FROM tallies"):
            found[target] = {"dropped": dropped}
        for target, state, count, oldest in db.execute(
            "SELECT target, state, count(*), min(received) FROM events GROUP BY target, state"
        ):
            entry = found.setdefault(target, {})
            entry[state] = count
            if entry.get("oldest") is None or oldest < entry["oldest"]:
                entry["oldest"] = oldest
        return [
            TargetDepth(
                target=target,
                ready=entry.get(EventState.READY, 0),
                in_flight=entry.get(EventState.IN_FLIGHT, 0),
                oldest_received=entry.get("oldest"),
                dropped=entry.get("dropped", 0),
            )
            for target, entry in sorted(found.items())
        ]


class EventQueue:
    """The queue's SQLite connection. Blocking: call it off the event loop."""

    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        # FULL synchronous: the WAL is fsynced at every commit, so a 202 survives power loss.
        self._db = open_durable(path, _SCHEMA, "event queue")

    def recover(self) -> int:
        """Make events a crash left IN_FLIGHT READY again (at-least-once). Returns how many."""
        check_transition(EventState.IN_FLIGHT, EventState.READY)
        results = self.apply([_Recover()])
        if isinstance(results[0], BaseException):
            raise results[0]
        count: int = results[0]
        return count

    def apply(self, ops: Sequence[Op]) -> list[Any]:
        """Run every op in one transaction and commit once. Returns each op's result, or the
        exception it raised (its savepoint is rolled back; the others stand)."""
        results: list[Any] = []
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    for op in ops:
                        results.append(self._run_one(op))
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                raise ServiceError(f"event queue write failed: {exc}") from exc
        return results

    def _run_one(self, op: Op) -> Any:
        self._db.execute("SAVEPOINT op")
        try:
            result = op.run(self._db)
        except (ServiceError, sqlite3.Error, ValueError, TypeError) as exc:
            self._db.execute("ROLLBACK TO op")
            self._db.execute("RELEASE op")
            if isinstance(exc, sqlite3.Error):
                return ServiceError(f"event queue operation failed: {exc}")
            return exc
        self._db.execute("RELEASE op")
        return result

    def close(self) -> None:
        with self._lock:
            self._db.close()


@dataclasses.dataclass(frozen=True, slots=True)
class _Recover:
    def run(self, db: sqlite3.Connection) -> int:
        cursor = db.execute(
            "UPDATE events SET state = ? WHERE state = ?",
            (EventState.READY, EventState.IN_FLIGHT),
        )
        return cursor.rowcount
