import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from ember.errors import TooManyRequestsError
from ember.sandbox import overlay
from ember.scheduler.pool import ProvisionedStatus

from .fakes import FakeScheduler, request, spec


def _run(tmp: Path, body: Callable[[FakeScheduler], Awaitable[Any]], **settings: Any) -> Any:
    async def main() -> Any:
        scheduler = FakeScheduler(tmp, **settings)
        runner = asyncio.create_task(scheduler.run())
        await scheduler.wait_running()
        try:
            return await body(scheduler)
        finally:
            for env in scheduler.made:  # a failed check must not leave a call waiting
                env.gate.set()
            await asyncio.sleep(0)
            await scheduler.close()
            runner.cancel()
            with pytest.raises(asyncio.CancelledError):
                await runner

    return asyncio.run(main())


async def _provision(scheduler: FakeScheduler, version_spec: Any, count: int) -> None:
    ready = asyncio.Event()

    def on_status(status: ProvisionedStatus) -> None:
        if status.status == "READY":
            ready.set()

    # Control writes the provisioned total into the reservations, then has it provisioned.
    scheduler.reservations.set_provisioned(version_spec.function_name, count)
    scheduler.set_provisioned(version_spec, count, on_status)
    await asyncio.wait_for(ready.wait(), 5)


def test_stale_provisioned_candidate_runs_on_demand_within_the_reservation(
    tmp_path: Path,
) -> None:
    """R=2, P=1: on-demand environments get one slot. When the provisioned environment
    is found dead, the call runs on an on-demand one and must hold that one slot."""

    async def body(scheduler: FakeScheduler) -> None:
        scheduler.reservations.set_reserved("f", 2)
        v1 = spec(version="1")
        await _provision(scheduler, v1, 1)
        scheduler.made[0].dead = True  # died while idle
        scheduler.gate_new = True
        first = asyncio.create_task(scheduler.invoke(v1, request("a")))
        await asyncio.wait_for(_entered(scheduler, 1), 5)
        assert scheduler.concurrency.running("f") == 1
        # The on-demand share (R - P = 1) is taken by the first call: throttle.
        with pytest.raises(TooManyRequestsError) as info:
            await scheduler.invoke(spec(), request("b"))
        assert info.value.extra["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
        scheduler.made[1].gate.set()
        await first

    _run(tmp_path, body)


def test_stale_provisioned_candidate_takes_an_unreserved_slot(tmp_path: Path) -> None:
    """Limit 2, P=1 for f (no reservation): one unreserved slot. A call that ends up on
    an on-demand environment takes it, so another function is throttled meanwhile."""

    async def body(scheduler: FakeScheduler) -> None:
        v1 = spec(version="1")
        await _provision(scheduler, v1, 1)
        assert scheduler.reservations.unreserved_capacity == 1
        scheduler.made[0].dead = True
        scheduler.gate_new = True
        first = asyncio.create_task(scheduler.invoke(v1, request("a")))
        await asyncio.wait_for(_entered(scheduler, 1), 5)
        with pytest.raises(TooManyRequestsError) as info:
            await scheduler.invoke(spec("g"), request("b"))
        assert info.value.extra["Reason"] == "ConcurrentInvocationLimitExceeded"
        scheduler.made[1].gate.set()
        await first

    _run(tmp_path, body, concurrency_limit=2)


def test_provisioned_environment_serves_with_a_provisioned_slot(tmp_path: Path) -> None:
    """R=1, P=1: the live provisioned environment serves, and a throttled call leaves
    it in the pool."""

    async def body(scheduler: FakeScheduler) -> None:
        scheduler.reservations.set_reserved("f", 1)
        v1 = spec(version="1")
        await _provision(scheduler, v1, 1)
        scheduler.made[0].gate.clear()
        first = asyncio.create_task(scheduler.invoke(v1, request("a")))
        await asyncio.wait_for(scheduler.made[0].entered.wait(), 5)
        with pytest.raises(TooManyRequestsError):
            await scheduler.invoke(spec(), request("b"))  # on-demand: R - P = 0
        scheduler.made[0].gate.set()
        await first
        await scheduler.invoke(v1, request("c"))  # back in the pool, still provisioned
        assert len(scheduler.made) == 1

    _run(tmp_path, body)


async def _entered(scheduler: FakeScheduler, index: int) -> None:
    # One loop turn at a time (no waiting on time): until the other task got this far.
    while len(scheduler.made) <= index:  # noqa: ASYNC110
        await asyncio.sleep(0)
    await scheduler.made[index].entered.wait()


def test_an_environment_failing_to_start_while_the_scheduler_stops_is_shut_down(
    tmp_path: Path,
) -> None:
    """Not a LaunchError (a bug, a full disk): the endpoint, log and cgroup still go, even
    when the scheduler's task group is gone, and the caller sees the original error."""

    async def main() -> None:
        scheduler = FakeScheduler(tmp_path)
        runner = asyncio.create_task(scheduler.run())
        await scheduler.wait_running()
        runner.cancel()
        with pytest.raises(asyncio.CancelledError):
            await runner
        scheduler.start_error = OSError("disk full")
        with pytest.raises(OSError, match="disk full"):
            await scheduler.invoke(spec(), request())
        await scheduler.close()
        assert [env.shut for env in scheduler.made] == [True]

    asyncio.run(main())


def test_close_waits_for_retirements_under_way(tmp_path: Path) -> None:
    """At server stop the reaper is cancelled too: a Shutdown phase in progress must still
    run to its end (kill, cgroup removal), and close() returns only then."""

    async def main() -> None:
        scheduler = FakeScheduler(tmp_path)
        runner = asyncio.create_task(scheduler.run())
        await scheduler.wait_running()
        await scheduler.invoke(spec(), request())
        env = scheduler.made[0]
        env.shutdown_gate.clear()
        scheduler.retire("f")  # e.g. the function was deleted
        await env.shutdown_started.wait()
        closing = asyncio.create_task(scheduler.close())
        runner.cancel()
        with pytest.raises(asyncio.CancelledError):
            await runner
        await asyncio.sleep(0)
        assert not closing.done()
        env.shutdown_gate.set()
        await closing
        assert env.shut

    asyncio.run(main())


def test_idle_environments_are_reaped_by_the_clock(tmp_path: Path) -> None:
    async def body(scheduler: FakeScheduler) -> None:
        await scheduler.invoke(spec(), request())
        env = scheduler.made[0]
        await _until_pending(scheduler)  # the reaper sleeps on the clock
        scheduler.clock.advance(59)
        await _until_pending(scheduler)
        assert not env.shutdown_started.is_set()
        scheduler.clock.advance(16)  # past 60 s idle, and the reaper's next look
        await asyncio.wait_for(env.shutdown_started.wait(), 5)

    _run(tmp_path, body, idle_timeout=60.0)


async def _until_pending(scheduler: FakeScheduler) -> None:
    while not scheduler.clock.pending():  # noqa: ASYNC110 (one loop turn at a time)
        await asyncio.sleep(0)
    await asyncio.sleep(0)


def test_forgetting_a_function_drops_all_the_scheduler_keeps_for_it(tmp_path: Path) -> None:
    async def body(scheduler: FakeScheduler) -> None:
        layered = dataclasses.replace(spec(), layer_paths=(str(tmp_path / "layer"),))
        (tmp_path / "layer").mkdir()
        (tmp_path / "layer" / "lib.py").write_text("x = 1")
        merge = overlay.merged(layered.layer_paths, tmp_path / "opt")
        await scheduler.invoke(layered, request("a"))
        await scheduler.invoke(spec(version="1"), request("b"))
        scheduler.made[1].gate.clear()
        scheduler.made[1].entered.clear()
        busy = asyncio.create_task(scheduler.invoke(spec(version="1"), request("c")))
        await scheduler.made[1].entered.wait()
        scheduler.forget("f")
        await asyncio.wait_for(scheduler.made[0].shutdown_started.wait(), 5)
        scheduler.made[1].gate.set()
        await busy  # the busy one finishes, then goes: its function is gone
        await asyncio.wait_for(scheduler.made[1].shutdown_started.wait(), 5)
        while scheduler._retiring:  # the Shutdown phases, then the merge's removal
            await asyncio.gather(*scheduler._retiring)
        assert scheduler._pools == {}
        assert scheduler._current_revision == {}
        assert scheduler._layer_lists == {}
        assert scheduler._live == set()
        assert scheduler.concurrency._starts == {}
        assert not merge.exists()
        assert [p.name for p in (tmp_path / "opt").iterdir()] == []

    _run(tmp_path, body)


def test_no_more_environments_than_the_descriptors_allow(tmp_path: Path) -> None:
    """At the budget a new environment is refused in Lambda's words, and the least recently
    used idle one goes so that a retry finds room."""

    async def body(scheduler: FakeScheduler) -> None:
        await scheduler.invoke(spec("a"), request())
        scheduler.clock.advance(1)
        await scheduler.invoke(spec("b"), request())
        with pytest.raises(TooManyRequestsError) as info:
            await scheduler.invoke(spec("c"), request())
        assert "RLIMIT_NOFILE" in info.value.message
        assert info.value.extra["Reason"] == "ConcurrentInvocationLimitExceeded"
        a, b = scheduler.made
        await asyncio.wait_for(a.shutdown_started.wait(), 5)  # the least recently used
        assert not b.shutdown_started.is_set()
        while scheduler._retiring:
            await asyncio.gather(*scheduler._retiring)
        await scheduler.invoke(spec("c"), request())  # the retry finds room
        assert len(scheduler.made) == 3

    _run(tmp_path, body, max_environments=2)


def test_an_environment_retired_twice_is_shut_down_and_counted_once(tmp_path: Path) -> None:
    async def main() -> None:
        scheduler = FakeScheduler(tmp_path, max_environments=1)
        runner = asyncio.create_task(scheduler.run())
        await scheduler.wait_running()
        scheduler.gate_new = True
        busy = asyncio.create_task(scheduler.invoke(spec(), request()))
        await _entered(scheduler, 0)
        env = scheduler.made[0]
        env.shutdown_gate.clear()
        closing = asyncio.create_task(scheduler.close())  # retires the busy one
        await env.shutdown_started.wait()
        env.gate.set()
        await busy  # its end retires it again: a no-op while the first runs
        assert len(scheduler._live) == 1  # still holding its descriptors
        env.shutdown_gate.set()
        await closing
        assert scheduler._live == set()
        runner.cancel()
        with pytest.raises(asyncio.CancelledError):
            await runner

    asyncio.run(main())
