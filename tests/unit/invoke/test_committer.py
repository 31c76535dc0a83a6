"""Group commit: concurrent writes share transactions; one failing op fails alone."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from ember.invoke.committer import GroupCommitter
from ember.store.events import EventState, InvalidEventTransition, NewEvent
from ember.store.queue import Claim, Enqueue, EventQueue, Finish


def event(n: int) -> NewEvent:
    return NewEvent(f"req-{n}", "fn", None, b"{}", 100.0)


async def _with_committer(
    tmp_path: Path, check: Callable[[GroupCommitter], Awaitable[None]]
) -> None:
    committer = GroupCommitter(EventQueue(tmp_path / "q.db"))
    runner = asyncio.create_task(committer.run())
    try:
        await check(committer)
    finally:
        runner.cancel()


def test_concurrent_writes_share_commits(tmp_path: Path) -> None:
    async def check(committer: GroupCommitter) -> None:
        ids = await asyncio.gather(*(committer.submit(Enqueue([event(n)])) for n in range(200)))
        assert sorted(i for (i,) in ids) == list(range(1, 201))
        stats = committer.statistics()
        assert stats.ops == 200
        assert stats.commits < 200  # they were batched
        assert stats.largest_batch > 1
        claimed, _ = await committer.submit(Claim(now=100.0, limit=500))
        assert len(claimed) == 200

    asyncio.run(_with_committer(tmp_path, check))


def test_a_failing_op_fails_only_its_caller(tmp_path: Path) -> None:
    async def check(committer: GroupCommitter) -> None:
        results: tuple[Any, ...] = await asyncio.gather(
            committer.submit(Enqueue([event(1)])),
            committer.submit(Finish(999, "fn", EventState.DONE)),
            return_exceptions=True,
        )
        good, bad = results
        assert good == [1]
        assert isinstance(bad, InvalidEventTransition)
        with pytest.raises(InvalidEventTransition):
            await committer.submit(Finish(998, "fn", EventState.FAILED))

    asyncio.run(_with_committer(tmp_path, check))
