"""The stream service on a manual clock, through its in-process API: retention, restarts
from the same file, checkpoints (no sockets)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from ember.clock import ManualClock
from ember.config import Settings
from ember.streams import Streams
from ember.streams.service import Entry


@asynccontextmanager
async def running(path: Path, clock: ManualClock) -> AsyncIterator[Streams]:
    streams = Streams(Settings(), path, clock)
    task = asyncio.create_task(streams.run())
    try:
        yield streams
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        streams.close()


def test_positions_go_on_after_every_record_expired_and_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "streams.db"
    clock = ManualClock()

    async def main() -> None:
        async with running(path, clock) as streams:
            state = await streams.create("s", 1, "PROVISIONED")
            puts = await streams.put(state, [Entry(b"x", "k") for _ in range(3)])
            assert [p.sequence_number for p in puts] == [state.sequence(state.shards[0], i)
                                                         for i in (1, 2, 3)]  # fmt: skip
            await streams.save_checkpoint("mapping", state, 0, 3)
            clock.advance(25 * 3600)
            await streams.expire()
            assert streams.read(state, 0, 0, 10) == []
        async with running(path, clock) as streams:
            state = streams.get("s")
            assert streams.read(state, 0, 0, 10) == []  # still past retention
            assert streams.checkpoints("mapping", state) == {0: 3}
            (put,) = await streams.put(state, [Entry(b"y", "k")])
            assert put.sequence_number == state.sequence(state.shards[0], 4)
            assert [r.data for r in streams.read(state, 0, 3, 10)] == [b"y"]

    asyncio.run(main())


def test_a_deleted_streams_checkpoints_do_not_reach_a_new_one(tmp_path: Path) -> None:
    async def main() -> None:
        async with running(tmp_path / "streams.db", ManualClock()) as streams:
            old = await streams.create("s", 2, "PROVISIONED")
            await streams.save_checkpoint("mapping", old, 1, 7)
            await streams.delete(old)
            await streams.save_checkpoint("mapping", old, 1, 9)  # a poller finishing late
            new = await streams.create("s", 2, "PROVISIONED")
            assert streams.checkpoints("mapping", new) == {}
            assert streams.find(new.arn) is new

    asyncio.run(main())


def test_a_reshard_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "streams.db"
    clock = ManualClock()

    async def main() -> None:
        async with running(path, clock) as streams:
            state = await streams.create("s", 2, "PROVISIONED")
            await streams.put(state, [Entry(b"a", "k"), Entry(b"b", "j")])
            assert await streams.update_shard_count(state, 3) == 2
            endings = [s.ending for s in state.shards[:2]]
            assert [s.parents for s in state.shards[2:]] == [(0,), (0, 1), (1,)]
            await streams.put(state, [Entry(b"c", "k")])
        async with running(path, clock) as streams:
            state = streams.get("s")
            assert [s.ending for s in state.shards[:2]] == endings
            assert [s.closing for s in state.shards] == [True, True, False, False, False]
            assert [s.parents for s in state.shards[2:]] == [(0,), (0, 1), (1,)]
            assert sum(len(s.records) for s in state.shards[2:]) == 1
            (put,) = await streams.put(state, [Entry(b"d", "k")])
            assert put.shard_id in {s.id for s in state.shards[2:]}

    asyncio.run(main())
