"""The injected clock: wall time for timestamps, monotonic time for deadlines, and the
waiting that depends on them (sleeps and timeouts).

Components take a `Clock` instead of calling `time` or `asyncio.sleep`/`asyncio.timeout`
directly, so tests can drive retries, idle reaping and deadlines without waiting: with a
`ManualClock`, a sleep ends and a timeout fires when the test advances the clock past it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime
import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Protocol


class Clock(Protocol):
    def wall(self) -> float:
        """Seconds since the epoch (for timestamps shown to users)."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (for deadlines and ages)."""

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` on this clock."""

    def timeout(self, seconds: float | None) -> AbstractAsyncContextManager[object]:
        """Like `asyncio.timeout(seconds)` (None: no limit), on this clock."""


class SystemClock:
    """The real clock."""

    def wall(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    def timeout(self, seconds: float | None) -> AbstractAsyncContextManager[object]:
        # asyncio's own context manager, unwrapped: it is on every invoke's path.
        return asyncio.timeout(seconds)


@dataclasses.dataclass(eq=False)
class _Timer:
    due: float
    timeout: asyncio.Timeout


class ManualClock:
    """A clock that moves only when told to (unit tests). Sleeps and timeouts on it end
    when `advance()` carries it past their deadline, never by themselves."""

    def __init__(self, wall: float = 1_700_000_000.0) -> None:
        self._wall = wall
        self._mono = 0.0
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []
        self._timers: list[_Timer] = []

    def wall(self) -> float:
        return self._wall

    def monotonic(self) -> float:
        return self._mono

    def advance(self, seconds: float) -> None:
        self._wall += seconds
        self._mono += seconds
        for due, waiter in list(self._sleepers):
            if due <= self._mono:
                self._sleepers.remove((due, waiter))
                if not waiter.done():
                    waiter.set_result(None)
        for timer in list(self._timers):
            if timer.due <= self._mono:
                self._timers.remove(timer)
                timer.timeout.reschedule(asyncio.get_running_loop().time())

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        entry = (self._mono + seconds, asyncio.get_running_loop().create_future())
        self._sleepers.append(entry)
        try:
            await entry[1]
        finally:
            if entry in self._sleepers:
                self._sleepers.remove(entry)

    def timeout(self, seconds: float | None) -> AbstractAsyncContextManager[object]:
        return self._timeout(seconds)

    @contextlib.asynccontextmanager
    async def _timeout(self, seconds: float | None) -> AsyncIterator[None]:
        async with asyncio.timeout(None) as limit:
            timer = None
            if seconds is not None:
                if seconds <= 0:
                    limit.reschedule(asyncio.get_running_loop().time())
                else:
                    timer = _Timer(self._mono + seconds, limit)
                    self._timers.append(timer)
            try:
                yield
            finally:
                if timer is not None and timer in self._timers:
                    self._timers.remove(timer)

    def pending(self) -> int:
        """Sleeps and timeouts waiting on this clock (tests wait for a task to reach one)."""
        return len(self._sleepers) + len(self._timers)


def iso_millis(wall: float, zone: str = "Z") -> str:
    """UTC to the millisecond, as AWS prints times: `...T12:00:00.000Z` in logs and
    records, `...T12:00:00.000+0000` (zone="+0000") in LastModified fields."""
    moment = datetime.datetime.fromtimestamp(wall, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}{zone}"
