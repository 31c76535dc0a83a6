"""Each environment's /tmp counts against the data dir's disk from its creation to the end
of its shutdown; one that would not fit is refused as the descriptor budget refuses."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest

from ember.errors import TooManyRequestsError
from ember.sandbox.scratch import ScratchPool
from ember.sandbox.scratch_budget import ScratchBudget
from tests.unit.scheduler.fakes import FakeEnvironment, FakeScheduler, request, spec

MB = 1 << 20


def _with_disk(scheduler: FakeScheduler, tmp: Path, free_mb: int) -> ScratchPool:
    """A scratch pool on a fake 1,000 MB disk (reserve 100 MB) with `free_mb` available."""
    pool = ScratchPool(tmp / "scratch", ready=0)
    pool._budget = ScratchBudget(
        tmp, lambda mb: (mb + 10) * MB, lambda _folder: (1000 * MB, free_mb * MB)
    )
    scheduler._capabilities = dataclasses.replace(scheduler._capabilities, scratch=pool)
    return pool


def test_a_cold_start_the_disk_cannot_hold_waits_for_the_oldest_idle_environment_to_go(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        scheduler = FakeScheduler(tmp_path)
        pool = _with_disk(scheduler, tmp_path, free_mb=900)  # one 522 MB image fits
        runner = asyncio.create_task(scheduler.run())
        await scheduler.wait_running()
        try:
            await scheduler.invoke(spec("a"), request())
            assert pool.statistics().admitted == 1  # idle, still holding its /tmp
            await scheduler.invoke(spec("b"), request())  # room made by retiring "a"
            a, b = scheduler.made
            assert a.shutdown_started.is_set()
            assert not b.shutdown_started.is_set()
            assert pool.statistics().admitted == 1  # b's alone
        finally:
            await scheduler.close()
            runner.cancel()
            with pytest.raises(asyncio.CancelledError):
                await runner
        assert pool.statistics().admitted == 0

    asyncio.run(main())


def test_a_tmp_the_disk_cannot_hold_is_refused_when_no_environment_can_give_way(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        scheduler = FakeScheduler(tmp_path)
        pool = _with_disk(scheduler, tmp_path, free_mb=900)
        runner = asyncio.create_task(scheduler.run())
        await scheduler.wait_running()
        try:
            scheduler.gate_new = True  # "a" stays busy: nothing idle, nothing stopping
            busy = asyncio.create_task(scheduler.invoke(spec("a"), request()))
            (a,) = await _made(scheduler, 1)
            assert isinstance(a, FakeEnvironment)
            await a.entered.wait()
            with pytest.raises(TooManyRequestsError) as refused:
                await scheduler.invoke(spec("b"), request())
            assert "no room for another 512 MB /tmp" in refused.value.message
            assert "100 MB kept in reserve" in refused.value.message
            assert refused.value.extra["Reason"] == "ConcurrentInvocationLimitExceeded"
            assert pool.statistics().admitted == 1
            a.gate.set()
            await busy
        finally:
            await scheduler.close()
            runner.cancel()
            with pytest.raises(asyncio.CancelledError):
                await runner
        assert pool.statistics().admitted == 0

    asyncio.run(main())


async def _made(scheduler: FakeScheduler, count: int) -> list[object]:
    """The environments made so far, once there are `count` (a few turns of the loop)."""
    for _ in range(1000):
        if len(scheduler.made) >= count:
            return list(scheduler.made)
        await asyncio.sleep(0)
    raise AssertionError(f"{count} environments were not made")


def test_an_environment_that_fails_to_start_gives_its_tmp_back(tmp_path: Path) -> None:
    async def main() -> None:
        scheduler = FakeScheduler(tmp_path)
        pool = _with_disk(scheduler, tmp_path, free_mb=900)
        runner = asyncio.create_task(scheduler.run())
        await scheduler.wait_running()
        try:
            scheduler.start_error = OSError("no space left for its log")
            with pytest.raises(OSError, match="no space left"):
                await scheduler.invoke(spec("a"), request())
            while scheduler._retiring:
                await asyncio.gather(*scheduler._retiring)
            assert pool.statistics().admitted == 0
            scheduler.start_error = None
            await scheduler.invoke(spec("a"), request())  # the room is there again
        finally:
            await scheduler.close()
            runner.cancel()
            with pytest.raises(asyncio.CancelledError):
                await runner

    asyncio.run(main())
