"""Group commit: every write waits for a durable commit, and writes that arrive together
share one transaction (and one fsync).

While one batch commits in a worker thread the next one gathers here; so under load a
batch holds everything that arrived during the previous commit, and an idle store
commits a lone write at once. The event queue, SQS queues, Kinesis streams and DynamoDB
tables each run one over their own SQLite file.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Sequence
from typing import Any, Generic, Protocol, TypeVar

from ember.blocking import run_blocking
from ember.errors import LambdaError, ServiceError

W = TypeVar("W")


@dataclasses.dataclass(frozen=True, slots=True)
class CommitStatistics:
    commits: int
    ops: int
    largest_batch: int


class GroupCommit(Generic[W]):
    """`apply` runs a batch in one transaction in a worker thread and returns None, or each
    write's result (an exception instance: that write failed alone, the others stand).
    `submit` returns once its write is durable. `applied`, if given, runs on the loop
    for each write of a committed batch, in order, before its waiter wakes (the in-memory
    side of a change that must not show before it is durable)."""

    def __init__(
        self,
        apply: Callable[[list[W]], Sequence[Any] | None],
        *,
        max_batch: int,
        applied: Callable[[W], None] | None = None,
    ) -> None:
        self._apply = apply
        self._max_batch = max_batch  # bounds one transaction's size and latency
        self._applied = applied
        # a write and who waits for it (None: nobody, or a later write of the same submit)
        self._pending: list[tuple[W, asyncio.Future[Any] | None]] = []
        self._wakeup = asyncio.Event()
        self._submitted = 0  # writes handed in so far
        self._done = 0  # of those, the ones whose commit is over (durable, or failed)
        self._progress = asyncio.Event()  # set (and replaced) when _done moves
        self._commits = 0
        self._ops = 0
        self._largest = 0

    async def submit(self, *writes: W) -> Any:
        """Commit `writes` with the next batch; return the last one's result once durable."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        for write in writes[:-1]:
            self._pending.append((write, None))
        self._pending.append((writes[-1], future))
        self._submitted += len(writes)
        self._wakeup.set()
        return await future

    def submit_nowait(self, write: W) -> None:
        """Commit with the next batch; nobody waits (housekeeping, whose failure only
        leaves rows nobody reads)."""
        self._pending.append((write, None))
        self._submitted += 1
        self._wakeup.set()

    async def settled(self) -> None:
        """Until every write handed in before this call has committed: a reader that waits
        here never sees a change a crash could still take back. Free while none is in
        flight."""
        target = self._submitted
        while self._done < target:
            await self._progress.wait()

    async def run(self) -> None:
        """Commit batches until cancelled; a cancelled commit still finishes in its thread."""
        while True:
            await self._wakeup.wait()
            batch = self._pending[: self._max_batch]
            self._pending = self._pending[self._max_batch :]
            if not self._pending:
                self._wakeup.clear()
            if batch:
                await self._commit(batch)

    async def _commit(self, batch: list[tuple[W, asyncio.Future[Any] | None]]) -> None:
        try:
            results = await run_blocking(self._apply, [write for write, _ in batch])
        except Exception as exc:  # the whole transaction failed: so did every write
            error = exc if isinstance(exc, LambdaError) else ServiceError(str(exc))
            for _, future in batch:
                if future is not None and not future.done():
                    future.set_exception(error)
            self._advance(len(batch))
            return
        self._commits += 1
        self._ops += len(batch)
        self._largest = max(self._largest, len(batch))
        self._advance(len(batch))
        outcomes = [None] * len(batch) if results is None else results
        for (write, future), result in zip(batch, outcomes, strict=True):
            if self._applied is not None:
                self._applied(write)
            if future is None or future.done():  # a cancelled caller: the write stands
                continue
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)

    def _advance(self, count: int) -> None:
        self._done += count
        progress, self._progress = self._progress, asyncio.Event()
        progress.set()

    def statistics(self) -> CommitStatistics:
        return CommitStatistics(self._commits, self._ops, self._largest)

    @property
    def commits(self) -> int:
        """Transactions so far (benches and tests read it)."""
        return self._commits


class Showing(Protocol):
    @property
    def applied(self) -> Callable[[], None] | None: ...


def show(write: Showing) -> None:
    """The `applied` hook for writes that carry their own in-memory side."""
    if write.applied is not None:
        write.applied()
