"""Environment with a stand-in sandbox: what reaches the scheduler when the host fails."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import cast

import pytest

from ember.clock import ManualClock
from ember.config import Settings
from ember.runtime_api import RuntimeEndpoint
from ember.runtimes import RuntimeSpec
from ember.sandbox import Capabilities, Isolation, ProcessSandbox
from ember.scheduler.environment import Environment, EnvironmentLostError
from ember.scheduler.states import EnvState
from ember.telemetry import LogStore

from .fakes import request, spec


class _UnthawableSandbox:
    returncode = None

    def __init__(self) -> None:
        self.killed = False

    def thaw(self) -> None:
        raise OSError(19, "No such device")

    def kill(self) -> None:
        self.killed = True


def test_a_failed_thaw_hands_the_invocation_to_another_environment(tmp_path: Path) -> None:
    """The scheduler retries EnvironmentLostError elsewhere; a raw OSError was a 500."""

    async def main() -> None:
        env = Environment(
            spec(),
            RuntimeSpec("python3.12", "/usr/bin/python3"),
            Settings(data_dir=tmp_path),
            cast(LogStore, object()),
            ManualClock(),
            tmp_path,
            capabilities=Capabilities(mode=Isolation.AUTO, cores=2),
            opt_root=tmp_path / "opt",
        )
        sandbox = _UnthawableSandbox()
        env._sandbox = cast(ProcessSandbox, sandbox)
        env.state = EnvState.IDLE
        with pytest.raises(EnvironmentLostError, match="cannot thaw"):
            await env.invoke(request())
        assert sandbox.killed
        assert not env.alive

    asyncio.run(main())


class _HungSandbox:
    """A runtime that took the invocation and never answers."""

    returncode = None

    def __init__(self) -> None:
        self.killed = False
        self._exited: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    def thaw(self) -> None:
        pass

    def exited(self) -> asyncio.Future[int]:
        return self._exited

    def drain_output(self) -> None:
        pass

    def kill(self) -> None:
        self.killed = True

    def max_memory_used_mb(self) -> int:
        return 1


class _Stats:
    invocations = 0


class _HungEndpoint:
    def statistics(self) -> _Stats:
        return _Stats()

    async def invoke(self, invocation: object) -> None:
        await asyncio.Event().wait()


def test_the_invoke_timeout_runs_on_the_injected_clock(tmp_path: Path) -> None:
    async def main() -> None:
        clock = ManualClock()
        env = Environment(
            spec(),  # Timeout: 3 s
            RuntimeSpec("python3.12", "/usr/bin/python3"),
            Settings(data_dir=tmp_path),
            cast(LogStore, object()),
            clock,
            tmp_path,
            capabilities=Capabilities(mode=Isolation.AUTO, cores=2),
            opt_root=tmp_path / "opt",
        )
        sandbox = _HungSandbox()
        env._sandbox = cast(ProcessSandbox, sandbox)
        env._endpoint = cast(RuntimeEndpoint, _HungEndpoint())
        env.state = EnvState.IDLE
        call = asyncio.create_task(env.invoke(request()))

        async def waiting_on_the_clock() -> None:
            while not clock.pending():  # noqa: ASYNC110 (one loop turn at a time)
                await asyncio.sleep(0)

        await asyncio.wait_for(waiting_on_the_clock(), 2)  # not on asyncio's own timer
        clock.advance(2.9)
        await asyncio.sleep(0)
        assert not call.done()
        clock.advance(0.1)
        result = await asyncio.wait_for(call, 5)
        assert result.error_type == "Sandbox.Timedout"
        assert sandbox.killed  # Lambda stops a timed-out environment
        assert result.duration_ms == 3000.0  # measured on the same clock

    asyncio.run(main())
