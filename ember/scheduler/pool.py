"""The scheduler: one pool of environments per function version, warm reuse, reaping."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from ember.clock import Clock
from ember.config import Settings
from ember.runtimes import RuntimeCatalog
from ember.scheduler.environment import Environment, EnvironmentLostError
from ember.scheduler.results import InvocationResult, InvokeRequest
from ember.scheduler.spec import EnvironmentSpec
from ember.scheduler.states import EnvState
from ember.telemetry import LogStore

log = logging.getLogger("ember.scheduler")


@dataclasses.dataclass(slots=True)
class Pool:
    """Environments of one function version. `idle` is a stack: the most recently used
    environment is reused first, so the least recently used ones age out and are reaped."""

    idle: list[Environment] = dataclasses.field(default_factory=list)
    busy: set[Environment] = dataclasses.field(default_factory=set)


@dataclasses.dataclass(frozen=True, slots=True)
class SchedulerStatistics:
    environments: int
    idle: int
    busy: int
    cold_starts: int
    warm_starts: int


class Scheduler:
    def __init__(
        self, settings: Settings, catalog: RuntimeCatalog, logs: LogStore, clock: Clock
    ) -> None:
        self._settings = settings
        self._catalog = catalog
        self._logs = logs
        self._clock = clock
        self._pools: dict[str, Pool] = {}  # "name:version" -> Pool
        self._current_revision: dict[str, str] = {}  # pool key -> revision id now served
        self._bin_dir: Path = catalog.python_bin_dir(settings.data_dir / "bin")
        self._tasks: asyncio.TaskGroup | None = None
        self._cold = 0
        self._warm = 0

    # -- lifecycle --------------------------------------------------------------------

    async def run(self) -> None:
        """Own every shutdown task and reap idle environments until cancelled."""
        try:
            async with asyncio.TaskGroup() as tasks:
                self._tasks = tasks
                period = max(0.05, min(self._settings.idle_timeout / 4, 5.0))
                while True:
                    await asyncio.sleep(period)
                    self._reap()
        finally:
            self._tasks = None

    async def close(self) -> None:
        """Shut every environment down (Shutdown phase for each), concurrently."""
        envs = [env for pool in self._pools.values() for env in (*pool.idle, *pool.busy)]
        self._pools.clear()
        await asyncio.gather(*(env.shutdown() for env in envs), return_exceptions=True)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        if self._tasks is None:
            coro.close()
            raise RuntimeError("the scheduler is not running")
        self._tasks.create_task(coro)

    def _retire(self, env: Environment) -> None:
        self._spawn(self._shutdown(env))

    async def _shutdown(self, env: Environment) -> None:
        try:
            await env.shutdown()
        except Exception:  # a failed shutdown must not take the scheduler down
            log.exception("shutting down environment %s failed", env.id)

    def _reap(self) -> None:
        cutoff = self._clock.monotonic() - self._settings.idle_timeout
        for pool in self._pools.values():
            # idle is a stack, oldest at the bottom: reap from the bottom up.
            while pool.idle and pool.idle[0].last_used <= cutoff:
                self._retire(pool.idle.pop(0))

    # -- invoking ---------------------------------------------------------------------

    def retire_function(self, function_name: str) -> None:
        """Shut down idle environments of a function that changed or was deleted; busy ones
        are shut down when they finish (their revision no longer matches)."""
        prefix = f"{function_name}:"
        for key, pool in self._pools.items():
            if key.startswith(prefix):
                while pool.idle:
                    self._retire(pool.idle.pop())
                self._current_revision[key] = ""

    async def invoke(self, spec: EnvironmentSpec, request: InvokeRequest) -> InvocationResult:
        pool = self._pools.get(spec.pool_key)
        if pool is None:
            pool = self._pools[spec.pool_key] = Pool()
        self._current_revision[spec.pool_key] = spec.revision_id
        # An idle environment may die between invocations; then the invocation, which
        # never reached it, goes to another one (at most a few times).
        for _ in range(3):
            env = self._take_idle(pool, spec)
            if env is None:
                return await self._invoke_cold(pool, spec, request)
            self._warm += 1
            try:
                return await self._run(pool, env, request)
            except EnvironmentLostError:
                continue
        return await self._invoke_cold(pool, spec, request)

    def _take_idle(self, pool: Pool, spec: EnvironmentSpec) -> Environment | None:
        while pool.idle:
            candidate = pool.idle.pop()
            if candidate.spec.revision_id == spec.revision_id and candidate.alive:
                pool.busy.add(candidate)
                return candidate
            self._retire(candidate)
        return None

    async def _invoke_cold(
        self, pool: Pool, spec: EnvironmentSpec, request: InvokeRequest
    ) -> InvocationResult:
        runtime = self._catalog.get(spec.runtime)
        if runtime is None:
            return InvocationResult.platform_error(
                "Runtime.InvalidRuntime", f"Runtime {spec.runtime} is not available here"
            )
        env = Environment(spec, runtime, self._settings, self._logs, self._clock, self._bin_dir)
        pool.busy.add(env)
        self._cold += 1
        try:
            failure = await env.start()
        except BaseException:
            pool.busy.discard(env)
            self._retire(env)
            raise
        if failure is not None:
            pool.busy.discard(env)
            self._retire(env)
            return failure
        try:
            return await self._run(pool, env, request)
        except EnvironmentLostError as lost:
            # Died between Init and taking its first invocation: report it as Lambda would.
            return InvocationResult.platform_error(
                "Runtime.ExitError", f"RequestId: {request.request_id} Error: {lost}"
            )

    async def _run(self, pool: Pool, env: Environment, request: InvokeRequest) -> InvocationResult:
        """One invocation on a busy environment; then back to the pool or retired."""
        try:
            result = await env.invoke(request)
        except BaseException:
            pool.busy.discard(env)
            self._retire(env)  # lost, or cancelled mid-invoke: its state is unknown
            raise
        pool.busy.discard(env)
        current = self._current_revision.get(env.spec.pool_key) == env.spec.revision_id
        if env.state is EnvState.IDLE and env.alive and current:
            pool.idle.append(env)
        else:
            self._retire(env)
        return result

    def statistics(self) -> SchedulerStatistics:
        idle = sum(len(p.idle) for p in self._pools.values())
        busy = sum(len(p.busy) for p in self._pools.values())
        return SchedulerStatistics(idle + busy, idle, busy, self._cold, self._warm)
