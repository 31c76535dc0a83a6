"""Waiting on and stopping the tasks we own, on the injected clock, without swallowing
our own cancellation.

`with suppress(CancelledError): await task` after `task.cancel()` also swallows the
CancelledError aimed at the caller (when the caller is cancelled while it waits), and the
caller then carries on as if nothing happened. Here the task's own cancellation ends at the
await; the caller's (`current_task().cancelling()`) always propagates.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ember.clock import Clock


async def cancel_and_wait(task: asyncio.Future[Any], *expected: type[BaseException]) -> None:
    """Cancel `task` and wait until it has finished. Its cancellation and the exception
    types in `expected` end here; anything else it raised, and our own cancellation, do not."""
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise
    except expected:
        pass


async def first_done(
    clock: Clock, waiters: set[asyncio.Future[Any]], limit: float
) -> set[asyncio.Future[Any]]:
    """`asyncio.wait(FIRST_COMPLETED)` with its time limit on `clock`: the waiters that
    finished, or none when `limit` seconds passed first. The waiters are left running."""
    try:
        async with clock.timeout(limit):
            done, _ = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    except TimeoutError:
        return set()
    return done
