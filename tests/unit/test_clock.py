import asyncio

import pytest

from ember.clock import ManualClock, SystemClock, iso_millis


def test_iso_millis_in_both_aws_spellings() -> None:
    assert iso_millis(0.5) == "1970-01-01T00:00:00.500Z"
    assert iso_millis(1_700_000_000.25, "+0000") == "2023-11-14T22:13:20.250+0000"


def test_manual_clock_moves_only_when_told() -> None:
    clock = ManualClock(wall=10.0)
    clock.advance(2.5)
    assert (clock.wall(), clock.monotonic()) == (12.5, 2.5)


def test_manual_sleep_ends_when_the_clock_passes_it() -> None:
    async def main() -> None:
        clock = ManualClock()
        woke: list[float] = []

        async def sleeper() -> None:
            await clock.sleep(10)
            woke.append(clock.monotonic())

        task = asyncio.create_task(sleeper())
        await asyncio.sleep(0)
        assert clock.pending() == 1
        clock.advance(9.9)
        await asyncio.sleep(0)
        assert woke == []
        clock.advance(0.1)
        await task
        assert woke == [10.0]
        assert clock.pending() == 0

    asyncio.run(main())


def test_manual_timeout_fires_only_when_advanced() -> None:
    async def main() -> None:
        clock = ManualClock()
        never = asyncio.Event()

        async def bounded() -> None:
            async with clock.timeout(5):
                await never.wait()

        task = asyncio.create_task(bounded())
        await asyncio.sleep(0)
        assert not task.done()
        clock.advance(5)
        with pytest.raises(TimeoutError):
            await task
        async with clock.timeout(None):  # no limit, and nothing left registered
            pass
        assert clock.pending() == 0

    asyncio.run(main())


def test_system_clock_times_out_like_asyncio() -> None:
    async def main() -> None:
        with pytest.raises(TimeoutError):
            async with SystemClock().timeout(0.0):
                await asyncio.Event().wait()

    asyncio.run(main())
