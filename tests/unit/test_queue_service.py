"""The queue service on a manual clock: long polls wake on sends and on visibility ending,
visibility and retention run on wall time, FIFO groups and deduplication windows, redrive,
and a restart from the same file (no sockets: the in-process API)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest

from ember.clock import ManualClock
from ember.config import Settings
from ember.queues import QueueDoesNotExistError, Queues
from ember.queues.errors import QueueInvalidParameterError

ARN = "arn:aws:sqs:us-east-1:000000000000:"
T = TypeVar("T")


@asynccontextmanager
async def running(path: Path, clock: ManualClock) -> AsyncIterator[Queues]:
    queues = Queues(Settings(), path, clock)
    task = asyncio.create_task(queues.run())
    try:
        yield queues
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        queues.close()


def run(check: Callable[[Queues, ManualClock], Awaitable[None]], path: Path) -> None:
    async def main() -> None:
        clock = ManualClock()
        async with running(path, clock) as queues:
            await check(queues, clock)

    asyncio.run(main())


async def parked(clock: ManualClock, poll: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
    """`poll` started, once it waits on the clock (a long poll parked)."""
    before = clock.pending()  # the retention sweep's sleep is one
    task = asyncio.create_task(poll)
    while clock.pending() == before and not task.done():  # noqa: ASYNC110 - no event to wait on
        await asyncio.sleep(0.001)
    assert not task.done()
    return task


def test_long_poll_wakes_on_send(tmp_path: Path) -> None:
    async def check(queues: Queues, clock: ManualClock) -> None:
        await queues.create_queue("q", {}, {})
        poll = await parked(clock, queues.receive(ARN + "q", max_messages=10, wait_seconds=20))
        assert not poll.done()
        sent = await queues.send(ARN + "q", "hello")
        (got,) = await poll  # no clock advance: the send woke it
        assert got.message_id == sent
        assert got.attributes["ApproximateReceiveCount"] == "1"

    run(check, tmp_path / "q.db")


def test_visibility_ends_on_wall_time_and_wakes_a_poll(tmp_path: Path) -> None:
    async def check(queues: Queues, clock: ManualClock) -> None:
        await queues.create_queue("q", {"VisibilityTimeout": "30"}, {})
        await queues.send(ARN + "q", "m")
        (first,) = await queues.receive(ARN + "q", max_messages=1)
        assert await queues.receive(ARN + "q", max_messages=1) == []
        clock.advance(15)
        poll = await parked(clock, queues.receive(ARN + "q", max_messages=1, wait_seconds=20))
        clock.advance(14)  # 29 s into its visibility timeout: still hidden
        await asyncio.sleep(0.01)
        assert not poll.done()
        clock.advance(2)  # visible again: the poll (due to wait 20 s) returns it now
        (again,) = await poll
        assert again.message_id == first.message_id
        assert again.attributes["ApproximateReceiveCount"] == "2"
        assert again.receipt_handle != first.receipt_handle
        await queues.delete(ARN + "q", first.receipt_handle)  # stale: nothing happens
        assert queues.backlog(ARN + "q") == 0
        await queues.delete(ARN + "q", again.receipt_handle)

    run(check, tmp_path / "q.db")


def test_retention_drops_old_messages(tmp_path: Path) -> None:
    async def check(queues: Queues, clock: ManualClock) -> None:
        await queues.create_queue("q", {"MessageRetentionPeriod": "60"}, {})
        await queues.send(ARN + "q", "old")
        clock.advance(61)
        await queues.send(ARN + "q", "new")
        got = await queues.receive(ARN + "q", max_messages=10)
        assert [m.body for m in got] == ["new"]

    run(check, tmp_path / "q.db")


def test_fifo_groups_and_the_deduplication_window(tmp_path: Path) -> None:
    async def check(queues: Queues, clock: ManualClock) -> None:
        await queues.create_queue("f.fifo", {"FifoQueue": "true"}, {})
        arn = ARN + "f.fifo"
        one = await queues.send(arn, "a1", group_id="a", dedup_id="1")
        assert await queues.send(arn, "a1 again", group_id="a", dedup_id="1") == one
        await queues.send(arn, "a2", group_id="a", dedup_id="2")
        await queues.send(arn, "b1", group_id="b", dedup_id="3")
        (a1,) = await queues.receive(arn, max_messages=1)
        assert a1.body == "a1"
        # a is busy until a1 is deleted: b's message comes, then nothing.
        assert [m.body for m in await queues.receive(arn, max_messages=10)] == ["b1"]
        assert await queues.receive(arn, max_messages=10) == []
        poll = await parked(clock, queues.receive(arn, max_messages=10, wait_seconds=20))
        await queues.delete(arn, a1.receipt_handle)  # frees group a: wakes the poll
        assert [m.body for m in await poll] == ["a2"]
        clock.advance(301)  # past the 5-minute window: the same id is a new message
        assert await queues.send(arn, "a1", group_id="a", dedup_id="1") != one
        with pytest.raises(QueueInvalidParameterError):
            await queues.send(arn, "no dedup id", group_id="a")

    run(check, tmp_path / "q.db")


def test_redrive_after_max_receives(tmp_path: Path) -> None:
    async def check(queues: Queues, clock: ManualClock) -> None:
        await queues.create_queue("dlq", {}, {})
        policy = f'{{"deadLetterTargetArn": "{ARN}dlq", "maxReceiveCount": 1}}'
        await queues.create_queue("src", {"RedrivePolicy": policy, "VisibilityTimeout": "5"}, {})
        assert queues.describe(ARN + "src").redrive is not None
        sent = await queues.send(ARN + "src", "poison")
        (first,) = await queues.receive(ARN + "src", max_messages=1)
        clock.advance(6)
        assert await queues.receive(ARN + "src", max_messages=1) == []
        (dead,) = await queues.receive(ARN + "dlq", max_messages=1)
        assert dead.message_id == first.message_id == sent

    run(check, tmp_path / "q.db")


def test_restart_keeps_messages_visibility_and_counts(tmp_path: Path) -> None:
    path = tmp_path / "q.db"

    async def main() -> None:
        clock = ManualClock()
        async with running(path, clock) as queues:
            await queues.create_queue("q", {}, {})
            for i in range(5):
                await queues.send(ARN + "q", f"m{i}")
            taken = await queues.receive(ARN + "q", max_messages=2, visibility_timeout=100)
        async with running(path, clock) as queues:
            assert queues.backlog(ARN + "q") == 3
            assert queues.get_attributes("q", ["ApproximateNumberOfMessagesNotVisible"]) == {
                "ApproximateNumberOfMessagesNotVisible": "2"
            }
            clock.advance(101)  # their visibility ends in wall time, across the restart
            got = await queues.receive(ARN + "q", max_messages=10)
            counts = {m.body: m.attributes["ApproximateReceiveCount"] for m in got}
            assert counts == {"m0": "2", "m1": "2", "m2": "1", "m3": "1", "m4": "1"}
            assert {m.body for m in taken} == {"m0", "m1"}

    asyncio.run(main())


def test_unknown_queues(tmp_path: Path) -> None:
    async def check(queues: Queues, clock: ManualClock) -> None:
        assert not queues.arn_exists(ARN + "nope")
        assert not queues.arn_exists("arn:aws:sqs:us-east-1:111111111111:nope")
        with pytest.raises(QueueDoesNotExistError):
            await queues.send(ARN + "nope", "m")
        with pytest.raises(QueueDoesNotExistError):
            queues.describe("not an arn")

    run(check, tmp_path / "q.db")


def test_concurrent_sends_share_commits(tmp_path: Path) -> None:
    async def check(queues: Queues, clock: ManualClock) -> None:
        await queues.create_queue("q", {}, {})
        before = queues.statistics()
        ids = await asyncio.gather(*(queues.send(ARN + "q", f"m{i}") for i in range(200)))
        assert len(set(ids)) == 200
        after = queues.statistics()
        assert after.ops - before.ops == 200
        assert after.commits - before.commits < 200  # batched: fewer fsyncs than sends
        assert queues.backlog(ARN + "q") == 200

    run(check, tmp_path / "q.db")
