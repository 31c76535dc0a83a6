"""The scheduler knows which code live environments run, and says when the last one on a
code path has shut down (control then collects code no function version uses)."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest

from .fakes import FakeScheduler, request, spec


def test_code_is_released_once_its_last_environment_is_gone(tmp_path: Path) -> None:
    async def main() -> None:
        scheduler = FakeScheduler(tmp_path)
        released: list[str] = []
        some_released = asyncio.Event()

        async def on_released(path: str) -> None:
            released.append(path)
            some_released.set()

        scheduler.set_code_released(on_released)
        runner = asyncio.create_task(scheduler.run())
        await scheduler.wait_running()
        old = dataclasses.replace(spec(revision="r1"), code_path="/code/old")
        new = dataclasses.replace(spec(revision="r2"), code_path="/code/new")
        try:
            await scheduler.invoke(old, request("a"))  # leaves one idle environment
            first = scheduler.made[0]
            first.gate.clear()
            first.entered.clear()
            busy = asyncio.create_task(scheduler.invoke(old, request("b")))
            await first.entered.wait()  # the idle one, now busy again
            assert scheduler.code_in_use("/code/old")
            # An update: the function now runs `new`; the busy environment finishes first.
            scheduler.retire("f")
            await scheduler.invoke(new, request("c"))
            assert scheduler.code_in_use("/code/old")
            assert released == []
            first.gate.set()
            await busy
            await asyncio.wait_for(some_released.wait(), 5)  # its retirement runs apart
            assert released == ["/code/old"]
            assert not scheduler.code_in_use("/code/old")
            assert scheduler.code_in_use("/code/new")
        finally:
            for env in scheduler.made:
                env.gate.set()
            await scheduler.close()
            runner.cancel()
            with pytest.raises(asyncio.CancelledError):
                await runner
        assert released == ["/code/old", "/code/new"]  # close() shut the last one down

    asyncio.run(main())
