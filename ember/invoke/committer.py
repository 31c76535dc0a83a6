"""Group commit for the event queue: every write waits for a durable commit, and writes
that arrive together share one transaction (and one fsync).

While one batch commits in a worker thread the next one gathers here; so under load a
batch holds everything that arrived during the previous commit, and an idle queue
commits a lone write at once.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from ember.blocking import run_blocking
from ember.errors import LambdaError
from ember.store.queue import EventQueue, Op

# Ops beyond this wait for the next batch (bounds one transaction's size and latency).
MAX_BATCH = 2048


@dataclasses.dataclass(frozen=True, slots=True)
class CommitterStatistics:
    commits: int
    ops: int
    largest_batch: int


class GroupCommitter:
    def __init__(self, queue: EventQueue) -> None:
        self._queue = queue
        self._pending: list[tuple[Op, asyncio.Future[Any]]] = []
        self._wakeup = asyncio.Event()
        self._commits = 0
        self._ops = 0
        self._largest = 0

    async def submit(self, op: Op) -> Any:
        """Run `op` in the next batch; return its result once the batch is committed."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.append((op, future))
        self._wakeup.set()
        return await future

    async def run(self) -> None:
        """Commit batches until cancelled; a cancelled commit still finishes in its thread."""
        while True:
            await self._wakeup.wait()
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            if not self._pending:
                self._wakeup.clear()
            if batch:
                await self._commit(batch)

    async def _commit(self, batch: list[tuple[Op, asyncio.Future[Any]]]) -> None:
        try:
            results = await run_blocking(self._queue.apply, [op for op, _ in batch])
        except LambdaError as exc:  # the whole transaction failed: so did every op
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        self._commits += 1
        self._ops += len(batch)
        self._largest = max(self._largest, len(batch))
        for (_, future), result in zip(batch, results, strict=True):
            if future.done():  # its caller was cancelled; the write stands regardless
                continue
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)

    def statistics(self) -> CommitterStatistics:
        return CommitterStatistics(self._commits, self._ops, self._largest)
