"""The scheduler: one pool of environments per function version, warm reuse, reaping."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

from ember.blocking import run_blocking
from ember.clock import Clock
from ember.config import Settings
from ember.errors import TooManyRequestsError
from ember.protocols import SessionIssuer
from ember.runtimes import RuntimeCatalog, RuntimeSpec
from ember.sandbox import Capabilities, overlay
from ember.sandbox.descriptors import Allowance
from ember.sandbox.network import HostAccess
from ember.sandbox.scratch import ScratchFullError
from ember.scheduler.concurrency import Concurrency, Reservations
from ember.scheduler.environment import Environment, EnvironmentLostError
from ember.scheduler.prestart import Prestarts
from ember.scheduler.results import InvocationResult, InvokeRequest
from ember.scheduler.spec import EnvironmentSpec
from ember.scheduler.states import EnvState
from ember.telemetry import LogStore
from ember.telemetry.metrics import InvocationSeries, Metrics

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
    # SnapStart versions: environments past Init (and the before-snapshot hooks), frozen
    # in SNAPSHOT until an invocation restores one; `refilling` keeps SNAPSHOTS_KEPT ready.
    snapshots: list[Environment] = dataclasses.field(default_factory=list)
    refilling: asyncio.Task[None] | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class ProvisionedStatus:
    """Where a version's provisioned concurrency stands (Lambda's Status field)."""

    requested: int
    allocated: int
    available: int
    status: str  # IN_PROGRESS | READY | FAILED
    reason: str = ""


StatusCallback = Callable[[ProvisionedStatus], None]
# Snapshot-ready environments kept per SnapStart version (each holds its Init's memory).
SNAPSHOTS_KEPT = 1
# Told a code path once the last live environment on it has shut down (control collects it).
CodeReleased = Callable[[str], Awaitable[None]]


class Scheduler:
    def __init__(
        self,
        settings: Settings,
        catalog: RuntimeCatalog,
        logs: LogStore,
        clock: Clock,
        capabilities: Capabilities,
        reservations: Reservations,
        host_access: HostAccess | None = None,
        credentials: SessionIssuer | None = None,
        max_environments: int | None = None,
        *,
        bin_dir: Path,
        opt_dir: Path,
        allowance: Allowance | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self._settings = settings
        self.metrics = metrics or Metrics()  # each invocation and throttle is counted there
        self._capabilities = capabilities  # what the host lets environments enforce
        self._host_access = host_access  # host.ember.internal's ports
        self._credentials = credentials  # environments' role sessions
        self._catalog = catalog
        self._logs = logs
        self._clock = clock
        self._pools: dict[str, Pool] = {}  # "name:version" -> Pool
        self._current_revision: dict[str, str] = {}  # pool key -> revision id now served
        self._bin_dir: Path = catalog.python_bin_dir(bin_dir)
        self._tasks: asyncio.TaskGroup | None = None
        self._retiring: set[asyncio.Task[None]] = set()  # Shutdown phases under way
        # Environments that hold server resources (started, not yet shut down), and how
        # many the server's open-file limit lets it hold (sandbox.descriptors).
        self._live: set[Environment] = set()
        self._stopping: set[Environment] = set()  # in their Shutdown phase
        # Set whenever a stopped environment gives its /tmp back (see _make_room).
        self._tmp_returned = asyncio.Event()
        self._max_environments = max_environments
        self._allowance = allowance  # descriptors lent to their extra connections
        # Merged /opt folders (sandbox.overlay): live environments on each layer list, and
        # the layer list each pool's current revision uses. A list neither holds is removed.
        self._opt_root = opt_dir
        self._layer_users: collections.Counter[tuple[str, ...]] = collections.Counter()
        self._layer_lists: dict[str, tuple[str, ...]] = {}  # pool key -> layer paths
        # code path -> live environments running it: code an update or delete left behind
        # stays until its last environment is gone, then `_code_released` hears of it.
        self._code_users: collections.Counter[str] = collections.Counter()
        self._code_released: CodeReleased | None = None
        self._running = asyncio.Event()
        # Reserved and provisioned concurrency as control configured it (read, never written).
        self.concurrency = Concurrency(reservations, settings.scale_limit, settings.scale_window)
        # Python sandboxes started ahead of cold starts (`--prestart N`; None: off here).
        self.prestarts = Prestarts.open(
            settings.prestart, capabilities, host_access or HostAccess(), self.metrics
        )

    # -- lifecycle --------------------------------------------------------------------

    async def run(self) -> None:
        """Own every shutdown and provisioning task and reap idle environments until
        cancelled."""
        # Merges left by an earlier run belong to no environment now (they are made again).
        await run_blocking(overlay.remove, self._opt_root)
        try:
            async with asyncio.TaskGroup() as tasks:
                self._tasks = tasks
                self._running.set()
                if self.prestarts is not None:
                    tasks.create_task(self.prestarts.run(), name="prestart")
                period = max(0.05, min(self._settings.idle_timeout / 4, 5.0))
                while True:
                    await self._clock.sleep(period)
                    self._reap()
        finally:
            self._tasks = None
            self._running.clear()

    def code_in_use(self, path: str) -> bool:
        """Whether a live environment (started, not yet shut down) runs the code at `path`."""
        return path in self._code_users

    def set_code_released(self, released: CodeReleased) -> None:
        """Call `released(path)` after the last live environment on a code path shuts down."""
        self._code_released = released

    async def wait_running(self) -> None:
        """Until `run()` owns its task group (provisioning needs it)."""
        await self._running.wait()

    async def close(self) -> None:
        """Shut every environment down (Shutdown phase for each), concurrently, and wait
        for the retirements already under way: their processes and cgroups go too."""
        envs = {
            env
            for pool in self._pools.values()
            for env in (*pool.idle, *pool.busy, *pool.provisioned, *pool.snapshots)
        }
        self._pools.clear()
        self._current_revision.clear()
        for env in envs:
            self._retire(env)
        while self._retiring:
            await asyncio.gather(*self._retiring, return_exceptions=True)
        if self.prestarts is not None:  # every environment holding a slot is gone
            await self.prestarts.close()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        if self._tasks is None:
            coro.close()
            raise RuntimeError("the scheduler is not running")
        return self._tasks.create_task(coro)

    def _retire(self, env: Environment) -> None:
        """Shut `env` down in the background. Retirements are owned here rather than by
        run()'s task group: stopping the reaper must not cut a Shutdown phase short (the
        processes and the cgroup would stay), and an environment that fails while the
        scheduler stops still goes. close() waits for every one of them."""
        self._own(self._shutdown(env), f"retire-{env.id}")

    def _own(self, work: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.get_running_loop().create_task(work, name=name)
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)

    async def _shutdown(self, env: Environment) -> None:
        if env in self._stopping or env not in self._live:
            return  # retired twice (close() and its invocation's end): once is enough
        self._stopping.add(env)
        try:
            await env.shutdown()
        except Exception:  # a failed shutdown must not take the scheduler down
            log.exception("shutting down environment %s failed", env.id)
        finally:
            self._stopping.discard(env)
            self._live.discard(env)
            if self._capabilities.scratch is not None:  # its /tmp grows no more
                self._capabilities.scratch.unclaim(env.spec.ephemeral_storage)
                self._tmp_returned.set()
            code = env.spec.code_path
            self._code_users[code] -= 1
            last_on_code = self._code_users[code] <= 0
            if last_on_code:
                del self._code_users[code]
            layers = env.spec.layer_paths
            if layers:
                self._layer_users[layers] -= 1
                if self._layer_users[layers] <= 0:
                    del self._layer_users[layers]
                    await self._collect_merge(layers)
            if last_on_code:
                await self._release_code(code)

    async def _release_code(self, code: str) -> None:
        """Hand code no live environment runs any more to control (which may remove it)."""
        if self._code_released is None:
            return
        try:
            await self._code_released(code)
        except Exception:  # the data dir keeps it; the scheduler goes on
            log.exception("collecting the code at %s failed", code)

    async def _collect_merge(self, layers: tuple[str, ...]) -> None:
        """Remove the merged /opt of `layers` once no environment nor current revision uses
        it (it is a cache: a later cold start makes it again)."""
        if layers in self._layer_users or layers in self._layer_lists.values():
            return
        trash = overlay.discard(layers, self._opt_root)  # now, on the loop: no race
        if trash is not None:
            await run_blocking(overlay.remove, trash)

    def _reap(self) -> None:
        cutoff = self._clock.monotonic() - self._settings.idle_timeout
        for pool in self._pools.values():
            # idle is a stack, oldest at the bottom: reap from the bottom up.
            while pool.idle and pool.idle[0].last_used <= cutoff:
                self._retire(pool.idle.pop(0))

    def _make_environment(self, spec: EnvironmentSpec, runtime: RuntimeSpec) -> Environment:
        """A new environment, or TooManyRequestsError when the server cannot hold another
        (its descriptors would run out); then the least recently used idle one goes, so
        that a retry finds room."""
        limit = self._max_environments
        if limit is not None and len(self._live) >= limit:
            self._evict_idle()
            raise TooManyRequestsError(
                f"Rate Exceeded. This server holds {len(self._live)} execution "
                f"environments, as many as its open-file limit (RLIMIT_NOFILE) allows; "
                "retry, or raise the limit (see `ember doctor`).",
                Reason="ConcurrentInvocationLimitExceeded",
            )
        if self._capabilities.scratch is not None:
            # Its /tmp may grow to EphemeralStorage on the data dir's disk.
            try:
                self._capabilities.scratch.claim(spec.ephemeral_storage)
            except ScratchFullError as exc:
                self._evict_idle()
                raise TooManyRequestsError(
                    f"Rate Exceeded. {exc}; retry once "
                    "environments end, or give the data dir more disk (see `ember doctor`).",
                    Reason="ConcurrentInvocationLimitExceeded",
                ) from exc
        env = self._new_environment(spec, runtime)
        self._live.add(env)
        self._code_users[spec.code_path] += 1
        if spec.layer_paths:
            self._layer_users[spec.layer_paths] += 1
        return env

    def _evict_idle(self) -> bool:
        """Retire the least recently used idle environment; False when there is none."""
        oldest: tuple[float, Pool] | None = None
        for pool in self._pools.values():
            if pool.idle and (oldest is None or pool.idle[0].last_used < oldest[0]):
                oldest = (pool.idle[0].last_used, pool)
        if oldest is None:
            return False
        self._retire(oldest[1].idle.pop(0))
        return True

    async def _make_room(self, spec: EnvironmentSpec) -> None:
        """Before a cold start, while the data dir's disk has no room for another /tmp of
        this size: retire idle environments and wait for those already stopping (after a
        configuration change, a burst finds the old revision's still in their Shutdown
        phase) to give theirs back, at most the Shutdown grace and a second. Then
        _make_environment claims, or refuses with 429 if there is still no room."""
        scratch = self._capabilities.scratch
        size = spec.ephemeral_storage
        if scratch is None or scratch.fits(size):
            return
        if self.prestarts is not None:  # ready sandboxes hold a /tmp each: first theirs
            await self.prestarts.give_back()
            if scratch.fits(size):
                return
        with contextlib.suppress(TimeoutError):
            async with self._clock.timeout(self._settings.shutdown_grace + 1.0):
                while not scratch.fits(size):
                    if not self._evict_idle() and not self._stopping:
                        return  # nothing will give /tmp back soon
                    self._tmp_returned.clear()
                    await self._tmp_returned.wait()

    def _new_environment(self, spec: EnvironmentSpec, runtime: RuntimeSpec) -> Environment:
        return Environment(
            spec, runtime, self._settings, self._logs, self._clock, self._bin_dir,
            capabilities=self._capabilities, host_access=self._host_access,
            credentials=self._credentials, opt_root=self._opt_root, allowance=self._allowance,
            prestarts=self.prestarts,
        )  # fmt: skip

    def _current(self, spec: EnvironmentSpec) -> None:
        """`spec` is the revision its version now runs."""
        self._current_revision[spec.pool_key] = spec.revision_id
        if spec.layer_paths:
            self._layer_lists[spec.pool_key] = spec.layer_paths
        else:
            self._layer_lists.pop(spec.pool_key, None)

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
            self._drop_snapshots(pool)
            self._current_revision[key] = ""
            if version is None or pool.provisioned_target:
                self._set_provisioned_target(key, pool, 0)

    def forget(self, function_name: str, version: str | None = None) -> None:
        """A function (every version, when `version` is None) or one published version was
        deleted: retire its environments (busy ones when they finish) and drop everything
        kept for it, so that state does not grow with the functions ever created."""
        self.retire(function_name, version)
        for key in list(self._pools):
            name, _, pool_version = key.rpartition(":")
            if name != function_name or (version is not None and pool_version != version):
                continue
            pool = self._pools.pop(key)
            self._current_revision.pop(key, None)
            layers = self._layer_lists.pop(key, ())
            if layers and layers not in self._layer_users:
                self._own(self._collect_merge(layers), f"collect-{key}")
            if pool.provisioning is not None and not pool.provisioning.done():
                pool.provisioning.cancel()
        if version is None:
            self.concurrency.forget(function_name)

    def set_provisioned(
        self, spec: EnvironmentSpec, count: int, on_status: StatusCallback | None = None
    ) -> None:
        """Keep `count` environments of this version initialised ahead of invocations."""
        pool = self._pool(spec.pool_key)
        self._current(spec)
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
            envs: list[Environment] = []
            try:
                for _ in range(batch):
                    envs.append(self._make_environment(provisioned_spec, runtime))
            except TooManyRequestsError as exc:
                for env in envs:
                    self._retire(env)
                report("FAILED", exc.message)
                return
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
                # AWS's StatusReason is the code alone; which error stopped Init goes to
                # Ember's log (and the function's log stream has the Init's own lines).
                log.warning("provisioned Init of %s failed with %s", spec.pool_key, detail)
                report("FAILED", "FUNCTION_ERROR_INIT_FAILURE")
                return
        report("READY")

    # -- invoking ---------------------------------------------------------------------

    async def invoke(self, spec: EnvironmentSpec, request: InvokeRequest) -> InvocationResult:
        """Run one invocation, or raise TooManyRequestsError as Lambda throttles; either
        is counted in the metrics (Invocations, Errors, Duration; Throttles)."""
        series = self.metrics.series(spec.function_name, spec.version, request.invoked_function_arn)
        try:
            result = await self._invoke(spec, request, series)
        except TooManyRequestsError:
            series.throttled()
            raise
        series.completed(result.function_error is not None, result.duration_ms)
        series.billed(  # for `ember cost`: Lambda bills by the memory this version runs at
            spec.memory_size, spec.ephemeral_storage, result.duration_ms, result.init_duration_ms,
            result.restore_duration_ms,
        )  # fmt: skip
        return result

    async def _invoke(
        self, spec: EnvironmentSpec, request: InvokeRequest, series: InvocationSeries
    ) -> InvocationResult:
        pool = self._pool(spec.pool_key)
        self._current(spec)
        # An idle environment may die between invocations; then the invocation, which
        # never reached it, goes to another one (at most a few times).
        for _ in range(3):
            # Choose the environment first: the slot's kind (provisioned or on-demand) is
            # the kind of the environment that serves the call, not of the one hoped for.
            env = self._take_idle(pool, spec)
            try:
                slot = self.concurrency.acquire(
                    spec.function_name, provisioned=env is not None and env in pool.provisioned
                )
            except TooManyRequestsError:
                if env is not None:
                    self._put_back(pool, env)
                raise
            provisioned = not slot.on_demand
            series.begin(
                provisioned=provisioned, unreserved=slot.unreserved, allocated=len(pool.provisioned)
            )
            try:
                if env is None:
                    self.concurrency.note_new_environment(
                        spec.function_name, self._clock.monotonic()
                    )
                    return await self._invoke_cold(pool, spec, request)
                try:
                    return await self._run(pool, env, request)
                except EnvironmentLostError:
                    continue
            finally:
                self.concurrency.release(slot)
                series.end(provisioned=provisioned, unreserved=slot.unreserved)
        slot = self.concurrency.acquire(spec.function_name, provisioned=False)
        series.begin(provisioned=False, unreserved=slot.unreserved, allocated=len(pool.provisioned))
        try:
            return await self._invoke_cold(pool, spec, request)
        finally:
            self.concurrency.release(slot)
            series.end(provisioned=False, unreserved=slot.unreserved)

    @staticmethod
    def _put_back(pool: Pool, env: Environment) -> None:
        """Return an environment taken for a call that was then throttled, unused."""
        pool.busy.discard(env)
        (pool.ready_provisioned if env in pool.provisioned else pool.idle).append(env)

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
        if spec.initialization_type == "snap-start":
            return await self._invoke_restored(pool, spec, runtime, request)
        await self._make_room(spec)
        env = self._make_environment(spec, runtime)
        return await self._first_run(pool, env, request, env.start())

    async def _first_run(
        self,
        pool: Pool,
        env: Environment,
        request: InvokeRequest,
        begin: Awaitable[InvocationResult | None],
    ) -> InvocationResult:
        """A new environment's first invocation, once `begin` (its Init, or a SnapStart
        restore) has brought it up; an environment that fails to come up is retired and
        its failure answered."""
        pool.busy.add(env)
        try:
            failure = await begin
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
            # Died between coming up and taking its first invocation: as Lambda reports it.
            return _exited(request, lost)

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

    # -- SnapStart --------------------------------------------------------------------

    async def prepare_snapshot(self, spec: EnvironmentSpec) -> InvocationResult | None:
        """PublishVersion of a SnapStart version: run its Init (and before-snapshot hooks)
        once and keep the environment ready to restore. None when ready; else Init's
        failure (the version is then Failed)."""
        pool = self._pool(spec.pool_key)
        self._current(spec)
        runtime = self._catalog.get(spec.runtime)
        if runtime is None:
            return InvocationResult.platform_error(
                "Runtime.InvalidRuntime", f"Runtime {spec.runtime} is not available here"
            )
        env = await self._start_snapshot(spec, runtime)
        if isinstance(env, InvocationResult):
            return env
        if self._current_revision.get(spec.pool_key) != spec.revision_id:
            self._retire(env)  # the version was deleted meanwhile
        else:
            pool.snapshots.append(env)
        return None

    async def _start_snapshot(
        self, spec: EnvironmentSpec, runtime: RuntimeSpec
    ) -> Environment | InvocationResult:
        """A new environment of a SnapStart version through Init, in SNAPSHOT."""
        await self._make_room(spec)
        env = self._make_environment(spec, runtime)
        try:
            failure = await env.start()
        except BaseException:
            await self._shutdown(env)  # belongs to no pool yet
            raise
        if failure is not None:
            self._retire(env)
            return failure
        return env

    async def _invoke_restored(
        self, pool: Pool, spec: EnvironmentSpec, runtime: RuntimeSpec, request: InvokeRequest
    ) -> InvocationResult:
        """A cold start of a SnapStart version: restore a snapshot-ready environment (one
        made now, Init included, when none is ready), then keep another one ready."""
        env: Environment | None = None
        while pool.snapshots and env is None:
            candidate = pool.snapshots.pop()
            if candidate.spec.revision_id == spec.revision_id and candidate.alive:
                env = candidate
            else:
                self._retire(candidate)
        if env is None:
            started = await self._start_snapshot(spec, runtime)
            if isinstance(started, InvocationResult):
                return started
            env = started
        self._refill_snapshots(pool, spec)
        return await self._first_run(pool, env, request, _restored(env, request))

    def _refill_snapshots(self, pool: Pool, spec: EnvironmentSpec) -> None:
        if len(pool.snapshots) < SNAPSHOTS_KEPT and (
            pool.refilling is None or pool.refilling.done()
        ):
            pool.refilling = self._spawn(self._refill(pool, spec))

    async def _refill(self, pool: Pool, spec: EnvironmentSpec) -> None:
        """Bring the version's snapshot-ready environments back to SNAPSHOTS_KEPT (off any
        invocation's path); stop at the first failure (the next cold start tries again)."""
        runtime = self._catalog.get(spec.runtime)
        while runtime is not None and len(pool.snapshots) < SNAPSHOTS_KEPT:
            if self._current_revision.get(spec.pool_key) != spec.revision_id:
                return  # the version was deleted or changed meanwhile
            try:
                env = await self._start_snapshot(spec, runtime)
            except TooManyRequestsError:
                return
            if isinstance(env, InvocationResult):
                log.warning("SnapStart Init of %s failed: %s", spec.pool_key, env.error_type)
                return
            if self._current_revision.get(spec.pool_key) != spec.revision_id:
                self._retire(env)
                return
            pool.snapshots.append(env)

    def _drop_snapshots(self, pool: Pool) -> None:
        if pool.refilling is not None and not pool.refilling.done():
            pool.refilling.cancel()
        while pool.snapshots:
            self._retire(pool.snapshots.pop())

    def _respawn_provisioned(self, pool: Pool, spec: EnvironmentSpec) -> None:
        if pool.provisioning is None or pool.provisioning.done():
            pool.provisioning = self._spawn(self._provision(pool, spec, None))


def _exited(request: InvokeRequest, lost: EnvironmentLostError) -> InvocationResult:
    return InvocationResult.platform_error(
        "Runtime.ExitError", f"RequestId: {request.request_id} Error: {lost}"
    )


async def _restored(env: Environment, request: InvokeRequest) -> InvocationResult | None:
    """A SnapStart restore; the environment gone during it is the invocation's ExitError."""
    try:
        return await env.restore()
    except EnvironmentLostError as lost:
        return _exited(request, lost)
