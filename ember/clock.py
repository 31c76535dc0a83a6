"""The injected clock: wall time for timestamps, monotonic time for deadlines.

Components take a `Clock` instead of calling `time` directly, so tests can drive
retries, idle reaping and deadlines without waiting.
"""

from __future__ import annotations

import datetime
import time
from typing import Protocol


class Clock(Protocol):
    def wall(self) -> float:
        """Seconds since the epoch (for timestamps shown to users)."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (for deadlines and ages)."""


class SystemClock:
    """The real clock."""

    def wall(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()


class ManualClock:
    """A clock that moves only when told to (unit tests)."""

    def __init__(self, wall: float = 1_700_000_000.0) -> None:
        self._wall = wall
        self._mono = 0.0

    def wall(self) -> float:
        return self._wall

    def monotonic(self) -> float:
        return self._mono

    def advance(self, seconds: float) -> None:
        self._wall += seconds
        self._mono += seconds


def iso_millis(wall: float, zone: str = "Z") -> str:
    """UTC to the millisecond, as AWS prints times: `...T12:00:00.000Z` in logs and
    records, `...T12:00:00.000+0000` (zone="+0000") in LastModified fields."""
    moment = datetime.datetime.fromtimestamp(wall, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}{zone}"
