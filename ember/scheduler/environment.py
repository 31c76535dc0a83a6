"""One execution environment: a sandboxed runtime (and its extensions) with its Runtime API
endpoint, through Init, any number of Invokes, and Shutdown.

Between invocations the environment is frozen. The freeze happens in the background once
the invocation is complete (the runtime and every extension that got INVOKE are back in
next), not on the response's path; the next invoke() waits for that task and thaws.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime
import math
import uuid
from pathlib import Path
from typing import Any

from ember.blocking import run_blocking
from ember.clock import Clock, iso_millis
from ember.config import Settings
from ember.runtime_api import EndpointError, Invocation, RuntimeEndpoint
from ember.runtimes import RuntimeSpec
from ember.sandbox import Capabilities, LaunchError, ProcessSandbox, describe_exit
from ember.sandbox.overlay import merged
from ember.scheduler import failures, layout
from ember.scheduler.envlog import EnvironmentLog
from ember.scheduler.initphase import InitPhase
from ember.scheduler.results import InvocationResult, InvokeRequest
from ember.scheduler.spec import EnvironmentSpec
from ember.scheduler.states import EnvState, check_transition
from ember.telemetry import LogStore

EXTENSION_SHUTDOWN = 2.0  # Lambda: 2,000 ms for extensions to handle SHUTDOWN
SETTLE_FLOOR = 1.0  # seconds granted to reach next after a response, at the least


class EnvironmentLostError(Exception):
    """The environment died before its runtime took the invocation: nothing of the
    invocation ran, so the scheduler may give it to another environment."""


class Environment:
    """Not safe for concurrent invokes: the scheduler hands it one at a time."""

    def __init__(
        self,
        spec: EnvironmentSpec,
        runtime: RuntimeSpec,
        settings: Settings,
        logs: LogStore,
        clock: Clock,
        bin_dir: Path,
        *,
        capabilities: Capabilities,
    ) -> None:
        self.id = uuid.uuid4().hex
        self.spec = spec
        self._runtime = runtime
        self._settings = settings
        self._logs = logs
        self._clock = clock
        self._bin_dir = bin_dir
        self._caps = capabilities
        self.state = EnvState.STARTING
        self.last_used = clock.monotonic()
        self.invocations = 0
        self._endpoint = RuntimeEndpoint(
            metadata={
                "functionName": spec.function_name,
                "functionVersion": spec.version,
                "handler": spec.handler,
            }
        )
        self._sandbox: ProcessSandbox | None = None
        self._output = EnvironmentLog()
        self._init_duration_ms: float | None = None
        # Completes the last invocation (waits for next), then freezes; owned here.
        self._settling: asyncio.Task[None] | None = None
        self._wanted = False  # an invoke waits on _settling: do not freeze
        self._broken: str | None = None  # why this environment must not be reused
        self._companions: set[str] = set()  # external extensions still running
        self._companions_gone = asyncio.Event()
        self._crash: asyncio.Future[tuple[str, int]] = asyncio.get_running_loop().create_future()

    # -- state ------------------------------------------------------------------------

    def _move(self, target: EnvState) -> None:
        check_transition(self.state, target)
        self.state = target

    @property
    def alive(self) -> bool:
        return (
            self.state in (EnvState.IDLE, EnvState.BUSY, EnvState.STARTING)
            and self._broken is None
            and self._sandbox is not None
            and self._sandbox.returncode is None
        )

    @property
    def log_stream_name(self) -> str:
        day = datetime.datetime.fromtimestamp(self._clock.wall(), tz=datetime.UTC)
        return f"{day:%Y/%m/%d}/[{self.spec.version}]{self.id}"

    # -- logs -------------------------------------------------------------------------

    def _log(self, line: str) -> None:
        self._output.write(line)

    def _flush_output(self) -> None:
        self._output.flush(self._sandbox.drain_output if self._sandbox is not None else None)

    def _on_companion_exit(self, name: str, status: int) -> None:
        self._companions.discard(name)
        if not self._companions:
            self._companions_gone.set()
        if self.state is EnvState.STOPPING:
            return
        # Lambda resets an environment whose extension dies; during Init it fails Init.
        self._broken = f"extension {name} exited with status {status}"
        if not self._crash.done():
            self._crash.set_result((name, status))

    # -- Init -------------------------------------------------------------------------

    async def start(self) -> InvocationResult | None:
        """Run Init: Extension Init, Runtime Init, Function Init, all within the Init
        budget. None when the runtime and extensions are ready; else the failure."""
        spec = self.spec
        stream_name = self.log_stream_name
        self._output.open(self._logs, spec.log_group, stream_name)
        address = await self._endpoint.start()
        opt_dir = None
        if spec.layer_paths:
            folder = await run_blocking(merged, spec.layer_paths, self._settings.data_dir / "opt")
            opt_dir = str(folder)
        ctx = layout.Context(
            sandboxed=self._caps.namespaces,
            region=self._settings.region,
            bin_dir=self._bin_dir,
            opt_dir=opt_dir,
            address=address,
            stream=stream_name,
        )
        plan = await run_blocking(layout.plan, spec, self._runtime, ctx)
        started = self._clock.monotonic()
        if plan.missing_entrypoint is not None:
            return self._launch_failed(plan.missing_entrypoint, "no executable bootstrap")
        self._endpoint.declare_external_extensions(plan.extensions)
        self._companions = set(plan.extensions)
        try:
            self._sandbox = await ProcessSandbox.launch(plan.sandbox, self._caps)
        except LaunchError as exc:
            return self._launch_failed(plan.sandbox.argv[0], str(exc))
        self._sandbox.on_output(self._output.output)
        self._sandbox.on_companion_exit(self._on_companion_exit)
        init = InitPhase(
            self._endpoint,
            self._sandbox,
            self._crash,
            self._clock,
            self._settings.init_timeout - (self._clock.monotonic() - started),
            self._log,
        )
        failure = await init.run(plan.extensions)
        self._init_duration_ms = (self._clock.monotonic() - started) * 1000
        if failure is not None:
            self._flush_output()
            self._log(
                f"INIT_REPORT Init Duration: {self._init_duration_ms:.2f} ms\tPhase: init\t"
                + (
                    "Status: timeout"
                    if failure.error_type == "Sandbox.Timedout"
                    else f"Status: error\tError Type: {failure.error_type}"
                )
            )
            return dataclasses.replace(failure, init_duration_ms=self._init_duration_ms)
        # Init runs at the host's speed; invocations get Lambda's share of a CPU.
        self._sandbox.limit_cpu(self._caps.cpus(spec.memory_size))
        self._move(EnvState.IDLE)
        # Frozen until its first invocation (unless that one is already waiting).
        self._settling = asyncio.create_task(
            self._settle(self._clock.monotonic()), name=f"settle-{self.id}"
        )
        return None

    def _launch_failed(self, program: str, detail: str) -> InvocationResult:
        self._log(f"INIT_REPORT Init Duration: 0.00 ms\tPhase: init\tStatus: error\t{detail}")
        return failures.launch_failed(program)

    # -- Invoke -----------------------------------------------------------------------

    async def _ready_for_invoke(self) -> None:
        """Wait for the last invocation to complete (and its freeze); thaw."""
        assert self._sandbox is not None
        task = self._settling
        if task is not None:
            self._wanted = True
            try:
                await asyncio.shield(task)
            finally:
                self._wanted = False
                self._settling = None
        if self._broken is not None or self._sandbox.returncode is not None:
            reason = self._broken or describe_exit(self._sandbox.returncode or 0)
            raise EnvironmentLostError(reason)
        self._sandbox.thaw()

    async def _settle(self, deadline: float) -> None:
        """Complete the invocation (the runtime and extensions back in next), then freeze."""
        assert self._sandbox is not None
        try:
            async with asyncio.timeout(max(SETTLE_FLOOR, deadline - self._clock.monotonic())):
                await self._endpoint.wait_idle()
        except TimeoutError:
            self._discard("the invocation did not complete (no next) within its timeout")
            return
        except EndpointError as exc:
            self._discard(f"the runtime went away: {exc}")
            return
        failed = self._endpoint.extension_failure()
        if failed is not None:
            self._discard(f"extension {failed.name} reported {failed.error_type}")
            return
        if not self._wanted and self.state is EnvState.IDLE:
            # On the loop: one ~0.1 ms write to an open fd. A thread hop costs as much and
            # could queue behind an fsync that the next invoke would then wait on.
            try:
                self._sandbox.freeze()
            except OSError as exc:
                self._broken = f"cannot freeze: {exc}"

    def _discard(self, reason: str) -> None:
        """Never reuse this environment, and stop what still runs in it now (Lambda resets
        it); the scheduler retires it when it next looks."""
        self._broken = reason
        assert self._sandbox is not None
        self._sandbox.kill()

    async def invoke(self, request: InvokeRequest) -> InvocationResult:
        assert self._sandbox is not None
        await self._ready_for_invoke()
        self._move(EnvState.BUSY)
        spec = self.spec
        rid = request.request_id
        cold_init, self._init_duration_ms = self._init_duration_ms, None
        self._output.start_tail(request.want_log_tail)
        self._log(f"START RequestId: {rid} Version: {spec.version}")
        started = self._clock.monotonic()
        deadline_ms = int(self._clock.wall() * 1000) + spec.timeout * 1000
        handed_before = self._endpoint.statistics().invocations
        call = asyncio.ensure_future(
            self._endpoint.invoke(
                Invocation(
                    request_id=rid,
                    payload=request.payload,
                    deadline_ms=deadline_ms,
                    invoked_function_arn=request.invoked_function_arn,
                    trace_id=request.trace_id,
                    client_context=request.client_context,
                    cognito_identity=request.cognito_identity,
                )
            )
        )
        exited = self._sandbox.exited()
        try:
            waiters: set[asyncio.Future[Any]] = {call, exited}
            done, _ = await asyncio.wait(
                waiters, timeout=spec.timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            if not call.done():
                call.cancel()
        duration = (self._clock.monotonic() - started) * 1000
        self.invocations += 1
        self.last_used = self._clock.monotonic()
        status = ""
        if call in done and not call.cancelled():
            response = call.result()
            self._flush_output()
            result = InvocationResult(
                payload=response.body,
                function_error=None if response.error_type is None else "Unhandled",
                error_type=response.error_type,
                executed_version=spec.version,
            )
        elif exited in done and self._endpoint.statistics().invocations == handed_before:
            # It died after its previous response (e.g. awslambdaric exits after a 413),
            # before taking this invocation.
            self._flush_output()
            self._log(f"END RequestId: {rid}")
            self._output.take_tail()
            raise EnvironmentLostError(describe_exit(exited.result()))
        elif exited in done:
            self._flush_output()
            oom = self._sandbox.out_of_memory()
            result = failures.runtime_exited(rid, exited.result(), oom, spec.version)
            status = f"\tStatus: error\tError Type: {result.error_type}"
        else:
            # Lambda stops a timed-out environment; its next invoke gets a fresh Init.
            self._sandbox.kill()
            self._flush_output()
            self._log(
                f"{iso_millis(self._clock.wall())} {rid} Task timed out after "
                f"{spec.timeout:.2f} seconds"
            )
            result = failures.invoke_timed_out(rid, spec.timeout, spec.version)
            status = "\tStatus: timeout"
        self._log(f"END RequestId: {rid}")
        report = (
            f"REPORT RequestId: {rid}\tDuration: {duration:.2f} ms\t"
            f"Billed Duration: {max(1, math.ceil(duration))} ms\t"
            f"Memory Size: {spec.memory_size} MB\t"
            f"Max Memory Used: {self._sandbox.max_memory_used_mb()} MB\t"
        )
        if cold_init is not None:
            report += f"Init Duration: {cold_init:.2f} ms\t"
        self._log(report + status)
        tail = self._output.take_tail()
        if self._sandbox.returncode is None and result.error_type != "Sandbox.Timedout":
            self._move(EnvState.IDLE)
            # The client's response goes now; completing the invocation and freezing are
            # the background's (they must not add to the response's latency).
            self._settling = asyncio.create_task(
                self._settle(started + spec.timeout), name=f"settle-{self.id}"
            )
        return dataclasses.replace(
            result, log_tail=tail, duration_ms=duration, init_duration_ms=cold_init
        )

    # -- Shutdown ---------------------------------------------------------------------

    async def shutdown(self) -> None:
        """SHUTDOWN to the extensions (2 s to exit), SIGTERM to the runtime, a grace period,
        SIGKILL; then release the cgroup, the endpoint and the log stream."""
        if self.state in (EnvState.STOPPING, EnvState.DEAD):
            return
        self._move(EnvState.STOPPING)
        try:
            if self._settling is not None:
                self._settling.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._settling
                self._settling = None
            if self._sandbox is not None:
                self._sandbox.thaw()
                await self._shutdown_extensions()
                await self._sandbox.terminate(self._settings.shutdown_grace)
                self._flush_output()
                await self._sandbox.close()
        finally:
            await self._endpoint.close()
            self._output.close()
            self._move(EnvState.DEAD)

    async def _shutdown_extensions(self) -> None:
        assert self._sandbox is not None
        if self._sandbox.returncode is not None or not self._companions:
            return
        reason = "spindown" if self._broken is None else "failure"
        deadline_ms = int(self._clock.wall() * 1000 + EXTENSION_SHUTDOWN * 1000)
        if not self._endpoint.shutdown_extensions(reason, deadline_ms):
            return
        # Lambda waits for the extensions to exit, up to the deadline, then kills them.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(EXTENSION_SHUTDOWN):
                await self._companions_gone.wait()
