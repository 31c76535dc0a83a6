"""Stopping owned tasks: their cancellation ends at the await, the caller's does not."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest

from ember.clock import ManualClock
from ember.runtime_api import RuntimeEndpoint
from ember.sandbox import ProcessSandbox
from ember.scheduler.initphase import InitPhase
from ember.scheduler.tasks import cancel_and_wait


async def _slow_to_stop(stopping: asyncio.Event, release: asyncio.Event) -> None:
    """A task that, once cancelled, needs a moment to clean up."""
    try:
        await asyncio.Event().wait()
    except asyncio.CancelledError:
        stopping.set()
        await release.wait()
        raise


def test_the_tasks_own_cancellation_ends_at_the_await() -> None:
    async def main() -> None:
        task = asyncio.create_task(asyncio.Event().wait())
        await asyncio.sleep(0)
        await cancel_and_wait(task)  # returns quietly
        assert task.cancelled()

    asyncio.run(main())


def test_an_expected_error_of_the_task_ends_there_others_propagate() -> None:
    async def fails(kind: type[Exception]) -> None:
        raise kind("boom")

    async def main() -> None:
        task = asyncio.create_task(fails(KeyError))
        await asyncio.sleep(0)
        await cancel_and_wait(task, KeyError)
        task = asyncio.create_task(fails(ValueError))
        await asyncio.sleep(0)
        with pytest.raises(ValueError, match="boom"):
            await cancel_and_wait(task, KeyError)

    asyncio.run(main())


def test_the_callers_cancellation_propagates() -> None:
    async def main() -> None:
        stopping, release = asyncio.Event(), asyncio.Event()
        inner = asyncio.create_task(_slow_to_stop(stopping, release))
        await asyncio.sleep(0)
        after: list[str] = []

        async def caller() -> None:
            await cancel_and_wait(inner)
            after.append("carried on")  # must not run: the caller was cancelled

        outer = asyncio.create_task(caller())
        await stopping.wait()
        outer.cancel()
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await outer
        assert after == []

    asyncio.run(main())


class _Sandbox:
    def __init__(self) -> None:
        self._exited: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    def exited(self) -> asyncio.Future[int]:
        return self._exited


def test_init_step_propagates_the_callers_cancellation() -> None:
    """Init's step timed out and is being stopped when the caller (a server stopping, a
    cancelled cold start) is cancelled: the caller must see CancelledError, not a
    timeout it would then report."""

    async def main() -> None:
        clock = ManualClock()
        crash: asyncio.Future[tuple[str, int]] = asyncio.get_running_loop().create_future()
        phase = InitPhase(
            cast(RuntimeEndpoint, object()),
            cast(ProcessSandbox, _Sandbox()),
            crash,
            clock,
            0.0,  # the budget is spent: the step times out at once
            lambda line: None,
        )
        stopping, release = asyncio.Event(), asyncio.Event()
        outcome: list[Any] = []

        async def step() -> None:
            try:
                await phase._until(_slow_to_stop(stopping, release))
            except Exception as exc:
                outcome.append(exc)

        caller = asyncio.create_task(step())
        await stopping.wait()
        caller.cancel()
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await caller
        assert outcome == []

    asyncio.run(main())


class _SilentEndpoint:
    """A runtime that never reaches next."""

    async def wait_ready(self) -> None:
        await asyncio.Event().wait()

    def extension_failure(self) -> None:
        return None


class _HeldSandbox(_Sandbox):
    def release(self) -> None:
        pass


def test_the_init_timeout_runs_on_the_injected_clock() -> None:
    """Init's budget is measured by the clock the scheduler is given: a ManualClock ends
    it when the test advances, with no waiting."""

    async def main() -> None:
        clock = ManualClock()
        crash: asyncio.Future[tuple[str, int]] = asyncio.get_running_loop().create_future()
        phase = InitPhase(
            cast(RuntimeEndpoint, _SilentEndpoint()),
            cast(ProcessSandbox, _HeldSandbox()),
            crash,
            clock,
            10.0,
            lambda line: None,
        )
        init = asyncio.create_task(phase.run(frozenset()))
        while not clock.pending():  # noqa: ASYNC110 (one loop turn at a time)
            await asyncio.sleep(0)
        clock.advance(9.9)
        await asyncio.sleep(0)
        assert not init.done()
        clock.advance(0.1)
        failure = await asyncio.wait_for(init, 5)
        assert failure is not None
        assert failure.error_type == "Sandbox.Timedout"

    asyncio.run(main())
