"""One execution environment: a sandboxed runtime (and its extensions) with its Runtime API
endpoint, through Init, any number of Invokes, and Shutdown.

Between invocations the environment is frozen. The freeze happens in the background once
the invocation is complete (the runtime and every extension that got INVOKE are back in
next) and it stayed idle for FREEZE_GRACE, not on the response's path; the next invoke()
waits for that task and thaws (or, within the grace, finds it never frozen).

Beside it: what its launch takes from the host (launch.py), its external extensions
(companions.py), Init's steps (initphase.py), its log (envlog.py).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import uuid
from pathlib import Path
from typing import Any

from ember.clock import Clock
from ember.config import Settings
from ember.protocols import SessionIssuer
from ember.runtime_api import EndpointError, Invocation, RuntimeEndpoint
from ember.runtimes import RuntimeSpec
from ember.sandbox import Capabilities, LaunchError, ProcessSandbox, describe_exit
from ember.sandbox.descriptors import Allowance
from ember.sandbox.network import HostAccess
from ember.scheduler import failures
from ember.scheduler.companions import Companions
from ember.scheduler.envlog import EnvironmentLog, platform_log
from ember.scheduler.initphase import InitPhase
from ember.scheduler.launch import Launch
from ember.scheduler.prestart import Prestarted, Prestarts
from ember.scheduler.results import InvocationResult, InvokeRequest
from ember.scheduler.spec import EnvironmentSpec
from ember.scheduler.states import EnvState, check_transition
from ember.scheduler.tasks import cancel_and_wait, first_done
from ember.telemetry import LogStore, reports

SETTLE_FLOOR = 1.0  # seconds granted to reach next after a response, at the least
RESTORE_LIMIT = 10.0  # seconds for SnapStart's after-restore hooks (Lambda's Restore phase)
# An environment back in next is frozen once it has stayed idle this long: back-to-back
# invocations then skip the freezer's two cgroup writes (one of them, the thaw, on the
# response's path). Idle for longer, it is frozen as on Lambda.
FREEZE_GRACE = 0.005


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
        host_access: HostAccess | None = None,
        credentials: SessionIssuer | None = None,
        opt_root: Path,
        allowance: Allowance | None = None,
        prestarts: Prestarts | None = None,
    ) -> None:
        self.id = uuid.uuid4().hex
        self._runtime = runtime
        self._prestarts = prestarts  # ready sandboxes a cold start may take
        self._prestarted: Prestarted | None = None  # the one taken, released at shutdown
        self.spec = spec
        self._settings = settings
        self._logs = logs
        self._clock = clock
        self._caps = capabilities
        self.state = EnvState.STARTING
        self.last_used = clock.monotonic()
        self.invocations = 0
        self._endpoint = RuntimeEndpoint(
            metadata={
                "functionName": spec.function_name,
                "functionVersion": spec.version,
                "handler": spec.handler,
            },
            lender=allowance,  # server descriptors for its extra connections
        )
        # Network namespace, relays, layers and credentials: taken at start, released at shutdown.
        self._launch = Launch(
            self._endpoint,
            runtime,
            settings,
            bin_dir,
            capabilities=capabilities,
            host_access=host_access or HostAccess(),
            credentials=credentials,
            opt_root=opt_root,
            allowance=allowance,
        )
        self._sandbox: ProcessSandbox | None = None
        self._output = EnvironmentLog()
        # Lambda's own records: text or JSON lines (LoggingConfig), Telemetry API events.
        self._platform = platform_log(spec, clock, self._output, self._endpoint)
        self._init_duration_ms: float | None = None
        # SnapStart: kept in SNAPSHOT after Init until restore(); the first REPORT after
        # it shows the Restore duration instead of an Init duration.
        self.snapshot = spec.initialization_type == "snap-start"
        self._restore_duration_ms: float | None = None
        # Completes the last invocation (waits for next), then freezes; owned here.
        self._settling: asyncio.Task[None] | None = None
        self._wanted = False  # an invoke waits on _settling: do not freeze
        self._freezing: asyncio.TimerHandle | None = None  # the freeze after FREEZE_GRACE
        self._broken: str | None = None  # why this environment must not be reused
        self._companions = Companions(self._endpoint, clock)  # its external extensions

    # -- state ------------------------------------------------------------------------

    def _move(self, target: EnvState) -> None:
        check_transition(self.state, target)
        self.state = target

    @property
    def alive(self) -> bool:
        return (
            self.state in (EnvState.IDLE, EnvState.BUSY, EnvState.STARTING, EnvState.SNAPSHOT)
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

    # -- extensions -------------------------------------------------------------------

    def _on_companion_exit(self, name: str, status: int) -> None:
        self._companions.exited(name)
        if self.state is EnvState.STOPPING:
            return
        # Lambda resets an environment whose extension dies; during Init it fails Init.
        self._broken = f"extension {name} exited with status {status}"
        self._companions.crashed(name, status)

    # -- Init -------------------------------------------------------------------------

    async def start(self) -> InvocationResult | None:
        """Run Init: Extension Init, Runtime Init, Function Init, all within the Init
        budget. None when the runtime and extensions are ready; else the failure."""
        spec = self.spec
        stream_name = self.log_stream_name
        self._output.open(self._logs, spec.log_group, stream_name)
        taken = None
        if self._prestarts is not None:
            taken = self._prestarts.take(spec, self._runtime)
            if taken is not None and taken.netns is not None:
                self._launch.adopt(taken.netns, taken.routes)
                taken.netns = None  # the launch's now
        try:
            try:
                address = await self._launch.listen()
            except OSError as exc:
                failed = self._launch_failed("the Runtime API", f"cannot listen: {exc}")
                if taken is not None:
                    unused, taken = taken, None
                    await unused.discard()
                return failed
            plan = await self._launch.plan(spec, address, stream_name)
        except BaseException:
            if taken is not None:
                await taken.discard()  # never used: it goes now, not with the server
            raise
        started = self._clock.monotonic()
        self._platform.init_start(spec.initialization_type, spec.function_name)
        if plan.missing_entrypoint is not None:
            if taken is not None:
                await taken.discard()
            return self._launch_failed(plan.missing_entrypoint, "no executable bootstrap")
        self._companions.declare(plan.extensions)
        if taken is not None:
            try:
                self._sandbox = await taken.assign(spec, plan)
                self._prestarted = taken
            except LaunchError:
                await taken.discard()  # a fresh sandbox instead, in the same namespace
            taken = None
        try:
            if self._sandbox is None:
                self._sandbox = await ProcessSandbox.launch(plan.sandbox, self._caps)
        except LaunchError as exc:
            return self._launch_failed(plan.sandbox.argv[0], str(exc))
        self._sandbox.on_output(self._output.output)
        self._sandbox.on_companion_exit(self._on_companion_exit)
        init = InitPhase(
            self._endpoint,
            self._sandbox,
            self._companions.crash,
            self._clock,
            self._settings.init_timeout - (self._clock.monotonic() - started),
            self._log,
            self._platform,
        )
        failure = await init.run(plan.extensions, snapshot=self.snapshot)
        self._init_duration_ms = (self._clock.monotonic() - started) * 1000
        if failure is not None:
            self._flush_output()
            self._platform.init_failed(self._init_duration_ms, error_type=failure.error_type)
            return dataclasses.replace(failure, init_duration_ms=self._init_duration_ms)
        self._platform.init_done(spec.initialization_type, self._init_duration_ms)
        if spec.initialization_type == "provisioned-concurrency":
            # Lambda ran this Init when provisioning, not in an invocation: the first
            # REPORT shows no Init Duration (the Telemetry API's initReport has it).
            self._init_duration_ms = None
        # Init runs at the host's speed; invocations get Lambda's share of a CPU.
        self._sandbox.limit_cpu(self._caps.cpus(spec.memory_size))
        if self.snapshot:
            # The version's ready state: frozen in restore/next until restore() resumes it.
            self._move(EnvState.SNAPSHOT)
            self._init_duration_ms = None  # SnapStart's REPORT shows no Init duration
            try:
                self._sandbox.freeze()
            except OSError as exc:
                self._broken = f"cannot freeze: {exc}"
            return None
        self._move(EnvState.IDLE)
        # Frozen until its first invocation (unless that one is already waiting).
        self._settling = asyncio.create_task(
            self._settle(self._clock.monotonic()), name=f"settle-{self.id}"
        )
        return None

    async def restore(self) -> InvocationResult | None:
        """SnapStart's Restore phase: thaw an environment kept in SNAPSHOT, answer its
        restore/next, wait for its after-restore hooks (it then polls invocation/next).
        None when it is ready for an invocation; else the failure."""
        assert self._sandbox is not None
        started = self._clock.monotonic()
        try:
            self._sandbox.thaw()
        except OSError as exc:
            self._discard(f"cannot thaw: {exc}")
            raise EnvironmentLostError(self._broken or "cannot thaw") from exc
        if self._broken is not None or self._sandbox.returncode is not None:
            raise EnvironmentLostError(self._broken or describe_exit(self._sandbox.returncode or 0))
        gate = self._endpoint.restore_gate
        gate.release()
        restored = asyncio.ensure_future(gate.wait_restored())
        exited = self._sandbox.exited()
        try:
            done = await first_done(self._clock, {restored, exited}, RESTORE_LIMIT)
        finally:
            if not restored.done():
                await cancel_and_wait(restored, EndpointError)
        self._restore_duration_ms = (self._clock.monotonic() - started) * 1000
        if restored in done:
            error = restored.result()
            if error is None:
                self._move(EnvState.IDLE)
                self._platform.restore_report(self._restore_duration_ms)
                return None
            failure = InvocationResult(
                payload=error.body, function_error="Unhandled", error_type=error.error_type
            )
        elif exited in done:
            oom = self._sandbox.out_of_memory()
            failure = failures.runtime_exited(str(uuid.uuid4()), exited.result(), oom)
        else:
            failure = failures.restore_timed_out(RESTORE_LIMIT)
        self._flush_output()
        self._platform.restore_report(self._restore_duration_ms, error_type=failure.error_type)
        self._discard(f"restore failed: {failure.error_type}")
        return failure

    def _launch_failed(self, program: str, detail: str) -> InvocationResult:
        self._platform.init_failed(0.0, error_type=None, detail=detail)
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
                if task.done():  # else (we were cancelled) it stays ours: shutdown stops it
                    self._settling = None
        if self._freezing is not None:  # back within the grace: it was never frozen
            self._freezing.cancel()
            self._freezing = None
        if self._broken is not None or self._sandbox.returncode is not None:
            reason = self._broken or describe_exit(self._sandbox.returncode or 0)
            raise EnvironmentLostError(reason)
        try:
            self._sandbox.thaw()
        except OSError as exc:
            # Its cgroup is going or gone: the invocation never reached it, so it may
            # run on another environment; this one is stopped and retired.
            self._discard(f"cannot thaw: {exc}")
            raise EnvironmentLostError(self._broken or "cannot thaw") from exc

    async def _settle(self, deadline: float) -> None:
        """Complete the invocation (the runtime and extensions back in next), then freeze."""
        assert self._sandbox is not None
        try:
            limit = max(SETTLE_FLOOR, deadline - self._clock.monotonic())
            async with self._clock.timeout(limit):
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
            self._freezing = asyncio.get_running_loop().call_later(FREEZE_GRACE, self._freeze)

    def _freeze(self) -> None:
        """Freeze an environment idle since FREEZE_GRACE. On the loop: one short write to
        an open fd. A thread hop costs as much and could queue behind an fsync that the next
        invoke would then wait on."""
        self._freezing = None
        if self._sandbox is None or self.state is not EnvState.IDLE or self._wanted:
            return
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
        restored, self._restore_duration_ms = self._restore_duration_ms, None
        # What the extensions wrote before they were back in next (the pipe may not have
        # been read yet) belongs before this START, not inside the invocation.
        self._sandbox.drain_output()
        self._output.start_tail(request.want_log_tail)
        self._platform.start(rid, request.trace_id)
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
                    stream=request.stream,
                )
            )
        )
        exited = self._sandbox.exited()
        try:
            waiters: set[asyncio.Future[Any]] = {call, exited}
            done = await first_done(self._clock, waiters, spec.timeout)
        finally:
            if not call.done():  # timed out, the runtime died, or we are being cancelled
                await cancel_and_wait(call, EndpointError)
        duration = (self._clock.monotonic() - started) * 1000
        self.invocations += 1
        self.last_used = self._clock.monotonic()
        status: str | None = None
        produced = 0
        if call in done and not call.cancelled():
            response = call.result()
            produced = len(response.body)
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
            self._log(reports.end(rid))
            self._output.take_tail()
            raise EnvironmentLostError(describe_exit(exited.result()))
        elif exited in done:
            self._flush_output()
            oom = self._sandbox.out_of_memory()
            result = failures.runtime_exited(rid, exited.result(), oom, spec.version)
            status = "error"
        else:
            # Lambda stops a timed-out environment; its next invoke gets a fresh Init.
            self._sandbox.kill()
            self._flush_output()
            self._platform.timed_out(rid, spec.timeout)
            result = failures.invoke_timed_out(rid, spec.timeout, spec.version)
            status = "timeout"
        error_type = result.error_type if status == "error" else None
        self._platform.end(
            rid, duration_ms=duration, status=status, produced_bytes=produced, error_type=error_type
        )
        self._platform.report(
            rid,
            duration,
            spec.memory_size,
            self._sandbox.max_memory_used_mb(),
            init_duration_ms=cold_init,
            restore_duration_ms=restored,
            status=status,
            error_type=error_type,
            trace_header=request.trace_id,
        )
        tail = self._output.take_tail()
        if self._sandbox.returncode is None and result.error_type != "Sandbox.Timedout":
            self._move(EnvState.IDLE)
            # The client's response goes now; completing the invocation and freezing are
            # the background's (they must not add to the response's latency).
            self._settling = asyncio.create_task(
                self._settle(started + spec.timeout), name=f"settle-{self.id}"
            )
        return dataclasses.replace(
            result,
            log_tail=tail,
            duration_ms=duration,
            init_duration_ms=cold_init,
            restore_duration_ms=restored,
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
                await cancel_and_wait(self._settling)
                self._settling = None
            if self._freezing is not None:
                self._freezing.cancel()
                self._freezing = None
            if self._sandbox is not None:
                self._sandbox.thaw()
                if self._sandbox.returncode is None:
                    reason = "spindown" if self._broken is None else "failure"
                    await self._companions.shut_down(reason)
                await self._sandbox.terminate(self._settings.shutdown_grace)
                self._flush_output()
                await self._sandbox.close()
            if self._prestarted is not None:  # its code and layers' mounts, its slot
                prestarted, self._prestarted = self._prestarted, None
                await prestarted.release()
        finally:
            await self._endpoint.close()
            await self._launch.release()
            self._output.close()
            self._move(EnvState.DEAD)
