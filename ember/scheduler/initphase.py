"""Init, in Lambda's order: Extension Init (every external extension registers), Runtime
Init (the runtime starts, then polls next), Function Init ends when the runtime and every
extension wait in next. Each step is raced against the runtime's exit, an extension's death
and the one Init budget they share."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from ember.clock import Clock
from ember.runtime_api import EndpointError, RuntimeEndpoint
from ember.sandbox import ProcessSandbox
from ember.scheduler import failures
from ember.scheduler.results import InvocationResult
from ember.scheduler.tasks import cancel_and_wait, first_done
from ember.telemetry import reports
from ember.telemetry.platform import PlatformLog

T = TypeVar("T")


class _Interrupted(Exception):
    """What ended a step other than its own result: "exited", "crashed" or "timeout"."""

    def __init__(self, kind: str, detail: Any = None) -> None:
        super().__init__(kind)
        self.kind = kind
        self.detail = detail


class InitPhase:
    def __init__(
        self,
        endpoint: RuntimeEndpoint,
        sandbox: ProcessSandbox,
        crash: asyncio.Future[tuple[str, int]],  # an external extension exited: (name, status)
        clock: Clock,
        budget: float,
        log: Callable[[str], None],
        platform: PlatformLog | None = None,  # EXTENSION records in the function's format
    ) -> None:
        self._platform = platform
        self._endpoint = endpoint
        self._sandbox = sandbox
        self._crash = crash
        self._clock = clock
        self._budget = budget
        self._deadline = clock.monotonic() + budget
        self._log = log

    async def run(
        self, extensions: frozenset[str], *, snapshot: bool = False
    ) -> InvocationResult | None:
        """None once everything waits in next (`snapshot`, SnapStart's: the runtime waits
        in restore/next); else the failure, as the invoker sees it."""
        try:
            return await self._phases(extensions, snapshot)
        except _Interrupted as stop:
            failed = self._endpoint.extension_failure()
            if failed is not None:  # it reported an init error, then exited
                return self._extension_failed(failed.name, failed.error_type)
            if stop.kind == "crashed":
                return failures.extension_crashed(stop.detail[1])
            if stop.kind == "exited":
                oom = self._sandbox.out_of_memory()
                return failures.runtime_exited(str(uuid.uuid4()), stop.detail, oom)
            return failures.init_timed_out(self._budget)

    async def _phases(self, extensions: frozenset[str], snapshot: bool) -> InvocationResult | None:
        endpoint = self._endpoint
        if extensions:
            failed = await self._until(endpoint.wait_extensions_registered(extensions))
            if failed is not None:
                return self._extension_failed(failed.name, failed.error_type)
        self._sandbox.release()  # Runtime Init starts once every extension registered
        init_error = await self._until(
            endpoint.restore_gate.wait_parked() if snapshot else endpoint.wait_ready()
        )
        if init_error is not None:
            return InvocationResult(
                payload=init_error.body,
                function_error="Unhandled",
                error_type=init_error.error_type,
            )
        failed = await self._until(endpoint.wait_extensions_ready())
        if failed is not None:
            return self._extension_failed(failed.name, failed.error_type)
        for extension in endpoint.extensions():
            if self._platform is not None:
                self._platform.extension_ready(extension.name, extension.events)
            else:
                self._log(reports.extension_ready(extension.name, extension.events))
        return None

    def _extension_failed(self, name: str, error_type: str | None) -> InvocationResult:
        if self._platform is not None:
            self._platform.extension_init_error(name, error_type)
        else:
            self._log(reports.extension_init_error(name, error_type))
        return failures.extension_init_failed(name, error_type)

    async def _until(self, awaitable: Awaitable[T]) -> T:
        task = asyncio.ensure_future(awaitable)
        exited = self._sandbox.exited()
        waiters: set[asyncio.Future[Any]] = {task, exited, self._crash}
        try:
            done = await first_done(
                self._clock, waiters, max(0.0, self._deadline - self._clock.monotonic())
            )
        finally:
            if not task.done():
                await cancel_and_wait(task, EndpointError)
        if task in done:
            return task.result()
        if self._crash.done():
            raise _Interrupted("crashed", self._crash.result())
        if exited in done:
            raise _Interrupted("exited", exited.result())
        raise _Interrupted("timeout")
