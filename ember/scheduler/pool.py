"""The scheduler: one pool of environments per function version, warm reuse, reaping."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from ember.clock import Clock
from ember.config import Settings
from ember.runtimes import RuntimeCatalog, RuntimeSpec
from ember.sandbox import Capabilities
from ember.scheduler.concurrency import Concurrency
from ember.scheduler.environment import Environment, EnvironmentLostError
from ember.scheduler.results import InvocationResult, InvokeRequest
from ember.scheduler.spec import EnvironmentSpec
from ember.scheduler.states import EnvState
from ember.telemetry import LogStore

log = logging.getLogger("ember.scheduler")


@dataclasses.dataclass(slots=True)
class Pool:
    """Environments of one function version. `idle` is a stack: the most recently used
    environment is reused first, so the least recently used ones age out and are reaped.
    Provisioned environments live in `ready_provisioned` and are never reaped."""

    idle: list[Environment] = dataclasses.field(default_factory=list)
    busy: set[Environment] = dataclasses.field(default_factory=set)
    provisioned: set[Environment] = dataclasses.field(default_factory=set)  # all of them
    ready_provisioned: list[Environment] = dataclasses.field(default_factory=list)
    provisioned_target: int = 0
    provisioning: asyncio.Task[None] | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class ProvisionedStatus:
    """Where a version's provisioned concurrency stands (Lambda's Status field)."""

    requested: int
    allocated: int
    available: int
    status: str  # IN_PROGRESS | READY | FAILED
    reason: str = ""


StatusCallback = Callable[[ProvisionedStatus], None]


@dataclasses.dataclass(frozen=True, slots=True)
class SchedulerStatistics:
    environments: int
    idle: int
    busy: int
    provisioned: int
    cold_starts: int
    warm_starts: int
    running: int


class Scheduler:
    def __init__(
        self,
        settings: Settings,
        catalog: RuntimeCatalog,
        logs: LogStore,
        clock: Clock,
        capabilities: Capabilities,
    ) -> None:
        self._settings = settings
        self._capabilities = capabilities  # what the host lets environments enforce
        self._catalog = catalog
        self._logs = logs
        self._clock = clock
        self._pools: dict[str, Pool] = {}  # "name:version" -> Pool
        self._current_revision: dict[str, str] = {}  # pool key -> revision id now served
        self._bin_dir: Path = catalog.python_bin_dir(settings.data_dir / "bin")
        self._tasks: asyncio.TaskGroup | None = None
        self._running = asyncio.Event()
        self.concurrency = Concurrency(
            settings.concurrency_limit, settings.scale_limit, settings.scale_window
        )
        self._cold = 0
        self._warm = 0

    # -- lifecycle --------------------------------------------------------------------

    async def run(self) -> None:
        """Own every shutdown and provisioning task and reap idle environments until
        cancelled."""
        try:
            async with asyncio.TaskGroup() as tasks:
                self._tasks = tasks
                self._running.set()
                period = max(0.05, min(self._settings.idle_timeout / 4, 5.0))
                while True:
                    await asyncio.sleep(period)
                    self._reap()
        finally:
            self._tasks = None
            self._running.clear()

    async def wait_running(self) -> None:
        """Until `run()` owns its task group (provisioning needs it)."""
        await self._running.wait()

    async def close(self) -> None:
        """Shut every environment down (Shutdown phase for each), concurrently."""
        envs = {
            env
            for pool in self._pools.values()
            for env in (*pool.idle, *pool.busy, *pool.provisioned)
        }
        self._pools.clear()
        await asyncio.gather(*(env.shutdown() for env in envs), return_exceptions=True)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        if self._tasks is None:
            coro.close()
            raise RuntimeError("the scheduler is not running")
        return self._tasks.create_task(coro)

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

    def _new_environment(self, spec: EnvironmentSpec, runtime: RuntimeSpec) -> Environment:
        return Environment(
            spec, runtime, self._settings, self._logs, self._clock, self._bin_dir,
            capabilities=self._capabilities,
        )  # fmt: skip

    def _pool(self, key: str) -> Pool:
        pool = self._pools.get(key)
        if pool is None:
            pool = self._pools[key] = Pool()
        return pool

    # -- configuration ----------------------------------------------------------------

    def retire(self, function_name: str, version: str | None = None) -> None:
        """Shut down idle environments of a function version that changed or was deleted
        (every version when `version` is None); busy ones go when they finish."""
        for key, pool in self._pools.items():
            name, _, pool_version = key.rpartition(":")
            if name != function_name or (version is not None and pool_version != version):
                continue
            while pool.idle:
                self._retire(pool.idle.pop())
            self._current_revision[key] = ""
            if version is None or pool.provisioned_target:
                self._set_provisioned_target(key, pool, 0)

    def set_reserved(self, function_name: str, value: int | None) -> None:
        self.concurrency.set_reserved(function_name, value)

    def set_provisioned(
        self, spec: EnvironmentSpec, count: int, on_status: StatusCallback | None = None
    ) -> None:
        """Keep `count` environments of this version initialised ahead of invocations."""
        pool = self._pool(spec.pool_key)
        self._current_revision[spec.pool_key] = spec.revision_id
        self._set_provisioned_target(spec.pool_key, pool, count, spec, on_status)

    def _set_provisioned_target(
        self,
        key: str,
        pool: Pool,
        count: int,
        spec: EnvironmentSpec | None = None,
        on_status: StatusCallback | None = None,
    ) -> None:
        pool.provisioned_target = count
        self._update_provisioned_totals(key.rpartition(":")[0])
        if pool.provisioning is not None and not pool.provisioning.done():
            pool.provisioning.cancel()
        while len(pool.provisioned) > count and pool.ready_provisioned:
            env = pool.ready_provisioned.pop(0)
            pool.provisioned.discard(env)
            self._retire(env)
        if spec is not None and count:
            pool.provisioning = self._spawn(self._provision(pool, spec, on_status))
        elif on_status is not None:
            on_status(
                ProvisionedStatus(count, len(pool.provisioned), len(pool.provisioned), "READY")
            )

    def _update_provisioned_totals(self, function_name: str) -> None:
        total = sum(
            p.provisioned_target
            for key, p in self._pools.items()
            if key.rpartition(":")[0] == function_name
        )
        self.concurrency.set_provisioned(function_name, total)

    async def _provision(
        self, pool: Pool, spec: EnvironmentSpec, on_status: StatusCallback | None
    ) -> None:
        """Initialise environments until the pool holds its target (a few at a time)."""
        runtime = self._catalog.get(spec.runtime)
        target = pool.provisioned_target

        def report(status: str, reason: str = "") -> None:
            if on_status is not None:
                ready = len(pool.provisioned)
                on_status(ProvisionedStatus(target, ready, ready, status, reason))

        if runtime is None:
            report("FAILED", f"Runtime {spec.runtime} is not available here")
            return
        report("IN_PROGRESS")
        provisioned_spec = dataclasses.replace(spec, initialization_type="provisioned-concurrency")
        while len(pool.provisioned) < pool.provisioned_target:
            batch = min(8, pool.provisioned_target - len(pool.provisioned))
            envs = [self._new_environment(provisioned_spec, runtime) for _ in range(batch)]
            try:
                failures = await asyncio.gather(*(env.start() for env in envs))
            except asyncio.CancelledError:
                # The target changed (or the server stops) mid-Init: these belong to no pool
                # yet, so nothing else would ever shut their processes down.
                await asyncio.gather(*(self._shutdown(env) for env in envs))
                raise
            for env, failure in zip(envs, failures, strict=True):
                if failure is None:
                    pool.provisioned.add(env)
                    pool.ready_provisioned.append(env)
                else:
                    self._retire(env)
            failed = [f for f in failures if f is not None]
            if failed:
                detail = failed[0].error_type or "Runtime.Unknown"
                report("FAILED", f"FUNCTION_ERROR_INIT_FAILURE: Init failed with {detail}")
                return
        report("READY")

    # -- invoking ---------------------------------------------------------------------

    async def invoke(self, spec: EnvironmentSpec, request: InvokeRequest) -> InvocationResult:
        """Run one invocation, or raise TooManyRequestsError as Lambda throttles."""
        pool = self._pool(spec.pool_key)
        self._current_revision[spec.pool_key] = spec.revision_id
        # An idle environment may die between invocations; then the invocation, which
        # never reached it, goes to another one (at most a few times).
        for _ in range(3):
            provisioned = bool(pool.ready_provisioned)
            slot = self.concurrency.acquire(spec.function_name, provisioned=provisioned)
            try:
                env = self._take_idle(pool, spec)
                if env is None:
                    self.concurrency.note_new_environment(
                        spec.function_name, self._clock.monotonic()
                    )
                    return await self._invoke_cold(pool, spec, request)
                self._warm += 1
                try:
                    return await self._run(pool, env, request)
                except EnvironmentLostError:
                    continue
            finally:
                self.concurrency.release(slot)
        slot = self.concurrency.acquire(spec.function_name, provisioned=False)
        try:
            return await self._invoke_cold(pool, spec, request)
        finally:
            self.concurrency.release(slot)

    def _take_idle(self, pool: Pool, spec: EnvironmentSpec) -> Environment | None:
        """A provisioned environment first, then the most recently used on-demand one."""
        for stack in (pool.ready_provisioned, pool.idle):
            while stack:
                candidate = stack.pop()
                if candidate.spec.revision_id == spec.revision_id and candidate.alive:
                    pool.busy.add(candidate)
                    return candidate
                pool.provisioned.discard(candidate)
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
        env = self._new_environment(spec, runtime)
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
            pool.provisioned.discard(env)
            self._retire(env)  # lost, or cancelled mid-invoke: its state is unknown
            raise
        pool.busy.discard(env)
        current = self._current_revision.get(env.spec.pool_key) == env.spec.revision_id
        # A provisioned environment busy when its target dropped (config deleted or lowered)
        # goes now, as the idle ones went then.
        surplus = env in pool.provisioned and len(pool.provisioned) > pool.provisioned_target
        if env.state is EnvState.IDLE and env.alive and current and not surplus:
            if env in pool.provisioned:
                pool.ready_provisioned.append(env)
            else:
                pool.idle.append(env)
        else:
            pool.provisioned.discard(env)
            self._retire(env)
            if pool.provisioned_target > len(pool.provisioned) and current:
                # A provisioned environment died: bring the pool back to its target.
                self._respawn_provisioned(pool, env.spec)
        return result

    def _respawn_provisioned(self, pool: Pool, spec: EnvironmentSpec) -> None:
        if pool.provisioning is None or pool.provisioning.done():
            pool.provisioning = self._spawn(self._provision(pool, spec, None))

    def statistics(self) -> SchedulerStatistics:
        pools = self._pools.values()
        idle = sum(len(p.idle) + len(p.ready_provisioned) for p in pools)
        busy = sum(len(p.busy) for p in pools)
        return SchedulerStatistics(
            environments=idle + busy,
            idle=idle,
            busy=busy,
            provisioned=sum(len(p.provisioned) for p in pools),
            cold_starts=self._cold,
            warm_starts=self._warm,
            running=self.concurrency.running(),
        )
