"""One execution environment: a sandboxed runtime process and its Runtime API endpoint,
through Init, any number of Invokes, and Shutdown."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import math
import uuid
from pathlib import Path
from typing import Any

from ember.clock import Clock
from ember.config import Settings
from ember.runtime_api import Invocation, RuntimeEndpoint
from ember.runtimes import RuntimeSpec
from ember.sandbox import LaunchError, ProcessSandbox, SandboxSpec
from ember.sandbox.process import describe_exit
from ember.scheduler.results import InvocationResult, InvokeRequest
from ember.scheduler.spec import EnvironmentSpec
from ember.scheduler.states import EnvState, check_transition
from ember.telemetry import LogStore, LogStream

TAIL_BYTES = 4096


class EnvironmentLostError(Exception):
    """The environment died before its runtime took the invocation: nothing of the
    invocation ran, so the scheduler may give it to another environment."""


def _iso_now(wall: float) -> str:
    moment = datetime.datetime.fromtimestamp(wall, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


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
    ) -> None:
        self.id = uuid.uuid4().hex
        self.spec = spec
        self._runtime = runtime
        self._settings = settings
        self._logs = logs
        self._clock = clock
        self._bin_dir = bin_dir
        self.state = EnvState.STARTING
        self.last_used = clock.monotonic()
        self.invocations = 0
        self._endpoint = RuntimeEndpoint()
        self._sandbox: ProcessSandbox | None = None
        self._stream: LogStream | None = None
        self._partial = b""
        self._tail: list[bytes] | None = None
        self._init_duration_ms: float | None = None

    # -- state ------------------------------------------------------------------------

    def _move(self, target: EnvState) -> None:
        check_transition(self.state, target)
        self.state = target

    @property
    def alive(self) -> bool:
        return self.state in (EnvState.IDLE, EnvState.BUSY, EnvState.STARTING) and (
            self._sandbox is not None and self._sandbox.returncode is None
        )

    @property
    def log_stream_name(self) -> str:
        day = datetime.datetime.fromtimestamp(self._clock.wall(), tz=datetime.UTC)
        return f"{day:%Y/%m/%d}/[{self.spec.version}]{self.id}"

    # -- logs -------------------------------------------------------------------------

    def _log(self, line: str) -> None:
        data = line if line.endswith("\n") else line + "\n"
        if self._stream is not None:
            self._stream.write(data)
        if self._tail is not None:
            self._tail.append(data.encode())

    def _on_output(self, chunk: bytes) -> None:
        lines = (self._partial + chunk).split(b"\n")
        self._partial = lines.pop()
        for line in lines:
            self._log(line.decode("utf-8", "replace") + "\n")

    def _flush_output(self) -> None:
        if self._sandbox is not None:
            self._sandbox.drain_output()
        if self._partial:
            partial, self._partial = self._partial, b""
            self._log(partial.decode("utf-8", "replace"))

    # -- Init -------------------------------------------------------------------------

    def _process_env(self, address: str, stream: str) -> dict[str, str]:
        spec = self.spec
        env = {
            "PATH": f"{self._bin_dir}:/usr/local/bin:/usr/bin:/bin",
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "LD_LIBRARY_PATH": "/usr/local/lib:/usr/lib:/lib",
        }
        env.update(spec.environment)
        env.update(
            {
                "AWS_LAMBDA_FUNCTION_NAME": spec.function_name,
                "AWS_LAMBDA_FUNCTION_VERSION": spec.version,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_size),
                "AWS_LAMBDA_LOG_GROUP_NAME": spec.log_group,
                "AWS_LAMBDA_LOG_STREAM_NAME": stream,
                "AWS_REGION": self._settings.region,
                "AWS_DEFAULT_REGION": self._settings.region,
                "_HANDLER": spec.handler,
                "LAMBDA_TASK_ROOT": spec.code_path,
                "LAMBDA_RUNTIME_DIR": str(Path(self._runtime.argv(spec.code_path)[-1]).parent),
                "AWS_LAMBDA_RUNTIME_API": address,
                "AWS_LAMBDA_INITIALIZATION_TYPE": spec.initialization_type,
            }
        )
        if self._runtime.is_python:
            # Lambda sets this for its managed runtimes only, not for `provided`.
            env["AWS_EXECUTION_ENV"] = f"AWS_Lambda_{spec.runtime}"
        return env

    async def start(self) -> InvocationResult | None:
        """Run Init. None when the runtime is ready; else the failure, as a result."""
        started = self._clock.monotonic()
        stream_name = self.log_stream_name
        self._stream = self._logs.open_stream(self.spec.log_group, stream_name)
        address = await self._endpoint.start()
        argv = self._runtime.argv(self.spec.code_path)
        try:
            self._sandbox = ProcessSandbox.launch(
                SandboxSpec(
                    argv=argv,
                    env=self._process_env(address, stream_name),
                    cwd=self.spec.code_path,
                    memory_mb=self.spec.memory_size,
                )
            )
        except LaunchError as exc:
            self._log(f"INIT_REPORT Init Duration: 0.00 ms\tPhase: init\tStatus: error\t{exc}")
            # Lambda's words when a custom runtime has no usable bootstrap.
            return InvocationResult.platform_error(
                "Runtime.InvalidEntrypoint",
                f"RequestId: {uuid.uuid4()} Error: Couldn't find valid bootstrap(s): [{argv[0]}]",
                init_duration_ms=0.0,
            )
        self._sandbox.on_output(self._on_output)
        ready = asyncio.ensure_future(self._endpoint.wait_ready())
        exited = self._sandbox.exited()
        waiters: set[asyncio.Future[Any]] = {ready, exited}
        done, _ = await asyncio.wait(
            waiters,
            timeout=self._settings.init_timeout,
            return_when=asyncio.FIRST_COMPLETED,
        )
        self._init_duration_ms = (self._clock.monotonic() - started) * 1000
        if ready in done:
            init_error = ready.result()
            if init_error is None:
                self._move(EnvState.IDLE)
                return None
            self._flush_output()
            self._log(
                f"INIT_REPORT Init Duration: {self._init_duration_ms:.2f} ms\tPhase: init\t"
                f"Status: error\tError Type: {init_error.error_type}"
            )
            return InvocationResult(
                payload=init_error.body,
                function_error="Unhandled",
                error_type=init_error.error_type,
                init_duration_ms=self._init_duration_ms,
            )
        ready.cancel()
        self._flush_output()
        if exited in done:
            reason = describe_exit(exited.result())
            self._log(
                f"INIT_REPORT Init Duration: {self._init_duration_ms:.2f} ms\tPhase: init\t"
                "Status: error\tError Type: Runtime.ExitError"
            )
            return InvocationResult.platform_error(
                "Runtime.ExitError",
                f"RequestId: {uuid.uuid4()} Error: {reason}",
                init_duration_ms=self._init_duration_ms,
            )
        self._log(
            f"INIT_REPORT Init Duration: {self._init_duration_ms:.2f} ms\tPhase: init\t"
            "Status: timeout"
        )
        return InvocationResult.platform_error(
            "Sandbox.Timedout",
            f"RequestId: {uuid.uuid4()} Error: Init timed out after "
            f"{self._settings.init_timeout:.2f} seconds",
            init_duration_ms=self._init_duration_ms,
        )

    # -- Invoke -----------------------------------------------------------------------

    async def invoke(self, request: InvokeRequest) -> InvocationResult:
        assert self._sandbox is not None
        self._move(EnvState.BUSY)
        spec = self.spec
        rid = request.request_id
        cold_init, self._init_duration_ms = self._init_duration_ms, None
        self._tail = [] if request.want_log_tail else None
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
            self._tail = None
            raise EnvironmentLostError(describe_exit(exited.result()))
        elif exited in done:
            self._flush_output()
            reason = describe_exit(exited.result())
            result = InvocationResult.platform_error(
                "Runtime.ExitError",
                f"RequestId: {rid} Error: {reason}",
                executed_version=spec.version,
            )
            status = "\tStatus: error\tError Type: Runtime.ExitError"
        else:
            # Lambda stops a timed-out environment; its next invoke gets a fresh Init.
            self._sandbox.kill()
            self._flush_output()
            self._log(
                f"{_iso_now(self._clock.wall())} {rid} Task timed out after "
                f"{spec.timeout:.2f} seconds"
            )
            result = InvocationResult.platform_error(
                "Sandbox.Timedout",
                f"RequestId: {rid} Error: Task timed out after {spec.timeout:.2f} seconds",
                executed_version=spec.version,
            )
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
        tail = b"".join(self._tail)[-TAIL_BYTES:] if self._tail is not None else b""
        self._tail = None
        if self._sandbox.returncode is None and result.error_type != "Sandbox.Timedout":
            self._move(EnvState.IDLE)
        return dataclasses.replace(
            result, log_tail=tail, duration_ms=duration, init_duration_ms=cold_init
        )

    # -- Shutdown ---------------------------------------------------------------------

    async def shutdown(self) -> None:
        """SIGTERM, a grace period, SIGKILL; then release the endpoint and the stream."""
        if self.state in (EnvState.STOPPING, EnvState.DEAD):
            return
        self._move(EnvState.STOPPING)
        try:
            if self._sandbox is not None:
                await self._sandbox.terminate(self._settings.shutdown_grace)
                self._flush_output()
        finally:
            await self._endpoint.close()
            if self._stream is not None:
                self._stream.close()
            self._move(EnvState.DEAD)
