"""The dispatcher waits for retries on its injected clock: a manual clock, no real waiting."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from ember.clock import ManualClock
from ember.config import Settings
from ember.invoke.committer import GroupCommitter
from ember.invoke.dispatcher import Dispatcher
from ember.invoke.retry import FUNCTION_ERROR_DELAYS, RetryPolicy
from ember.scheduler.results import InvocationResult
from ember.store.events import NewEvent
from ember.store.queue import Enqueue, EventQueue
from ember.telemetry import Metrics

# How long (real time) a step of the dispatcher may take to show: a deadline, not a delay.
DEADLINE = 10.0


class FailingOnce:
    """An Invoker whose first run of the function fails (Unhandled), later ones succeed."""

    def __init__(self, clock: ManualClock) -> None:
        self._clock = clock
        self.runs: list[float] = []  # the manual clock's reading at each run

    async def invoke(self, name: str, qualifier: str | None, payload: bytes, **_: Any) -> Any:
        self.runs.append(self._clock.monotonic())
        if len(self.runs) == 1:
            body = b'{"errorType": "Exception", "errorMessage": "boom"}'
            return InvocationResult(body, function_error="Unhandled", error_type="Exception")
        return InvocationResult(b"null")


class NoConfigs:
    """No EventInvokeConfig: Lambda's default retry limits."""

    def find(self, name: str, qualifier: str | None) -> None:
        return None

    def function_exists(self, name: str, qualifier: str | None) -> bool:
        return True


async def _until(condition: Callable[[], bool]) -> None:
    """Let the dispatcher run until `condition` holds (polled; fails after DEADLINE)."""
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < deadline, "the dispatcher never got there"
        await asyncio.sleep(0.005)


def test_a_function_error_is_retried_only_when_the_clock_reaches_lambdas_delay(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        clock = ManualClock()
        invoker = FailingOnce(clock)
        committer = GroupCommitter(EventQueue(tmp_path / "queue.db"))
        dispatcher = Dispatcher(
            Settings(data_dir=tmp_path),
            committer,
            cast(Any, invoker),
            cast(Any, None),  # the FunctionService: only destinations need it
            cast(Any, NoConfigs()),
            Metrics(),
            clock,
            retry=RetryPolicy(jitter=False),  # Lambda's exact delays
        )
        async with asyncio.TaskGroup() as tasks:
            committer_task = tasks.create_task(committer.run())
            await committer.submit(Enqueue([NewEvent("req-1", "fn", None, b"{}", clock.wall())]))
            dispatching = tasks.create_task(dispatcher.run())
            # The first run fails; the dispatcher then waits for the retry on the clock.
            await _until(lambda: len(invoker.runs) == 1 and clock.pending() == 1)
            clock.advance(FUNCTION_ERROR_DELAYS[0] - 0.5)
            await _until(lambda: clock.pending() == 1)  # still waiting, nothing due yet
            for _ in range(20):  # turns of the loop in which a wrong early run could start
                await asyncio.sleep(0)
            assert invoker.runs == [0.0]
            clock.advance(0.5)
            await _until(lambda: len(invoker.runs) == 2)
            assert invoker.runs == [0.0, FUNCTION_ERROR_DELAYS[0]]
            await dispatcher.close()
            await dispatching
            committer_task.cancel()

    asyncio.run(main())
