"""In-memory stand-ins for environments, so the scheduler's pool logic runs without
processes or sockets."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, cast

from ember.clock import ManualClock
from ember.config import Settings
from ember.runtimes import RuntimeCatalog, RuntimeSpec
from ember.sandbox import Capabilities, Isolation
from ember.scheduler import InvocationResult, InvokeRequest, Reservations, Scheduler
from ember.scheduler.environment import Environment
from ember.scheduler.spec import EnvironmentSpec
from ember.scheduler.states import EnvState
from ember.telemetry import LogStore


class FakeEnvironment:
    """Starts at once; each invoke waits until the test opens `gate` (open by default)."""

    def __init__(self, spec: EnvironmentSpec, clock: ManualClock) -> None:
        self.spec = spec
        self.id = f"env-{id(self):x}"
        self.state = EnvState.STARTING
        self.last_used = clock.monotonic()
        self.dead = False
        self.shut = False
        self.gate = asyncio.Event()
        self.gate.set()
        self.entered = asyncio.Event()
        self.start_error: BaseException | None = None  # raised by start()
        self.shutdown_gate = asyncio.Event()  # shutdown() waits for it (open by default)
        self.shutdown_gate.set()
        self.shutdown_started = asyncio.Event()

    @property
    def alive(self) -> bool:
        return not self.dead and self.state in (EnvState.IDLE, EnvState.BUSY)

    async def start(self) -> InvocationResult | None:
        if self.start_error is not None:
            raise self.start_error
        self.state = EnvState.IDLE
        return None

    async def invoke(self, request: InvokeRequest) -> InvocationResult:
        self.state = EnvState.BUSY
        self.entered.set()
        await self.gate.wait()
        self.state = EnvState.IDLE
        return InvocationResult(payload=b"null", executed_version=self.spec.version)

    async def shutdown(self) -> None:
        self.shutdown_started.set()
        await self.shutdown_gate.wait()
        self.shut = True
        self.state = EnvState.DEAD


class FakeCatalog:
    def get(self, runtime: str) -> RuntimeSpec | None:
        return cast(RuntimeSpec, object())

    def python_bin_dir(self, root: Path) -> Path:
        return root


class FakeScheduler(Scheduler):
    """A Scheduler whose environments are FakeEnvironments; `made` lists them in order."""

    def __init__(self, tmp: Path, max_environments: int | None = None, **settings: Any) -> None:
        self.clock = ManualClock()
        built = Settings(data_dir=tmp, **settings)
        # Control's side of the table: tests write reservations here, as control does.
        self.reservations = Reservations(built.concurrency_limit)
        super().__init__(
            built,
            cast(RuntimeCatalog, FakeCatalog()),
            cast(LogStore, object()),  # fake environments write no logs
            self.clock,
            Capabilities(mode=Isolation.NONE, cores=2),
            self.reservations,
            max_environments=max_environments,
            bin_dir=tmp / "bin",
            opt_dir=tmp / "opt",
        )
        self.made: list[FakeEnvironment] = []
        self.gate_new = False  # new environments start with a closed gate
        self.start_error: BaseException | None = None  # new environments fail to start

    def _new_environment(self, spec: EnvironmentSpec, runtime: RuntimeSpec) -> Environment:
        env = FakeEnvironment(spec, self.clock)
        if self.gate_new:
            env.gate.clear()
        env.start_error = self.start_error
        self.made.append(env)
        return cast(Environment, env)


def spec(name: str = "f", version: str = "$LATEST", revision: str = "r1") -> EnvironmentSpec:
    return EnvironmentSpec(
        function_name=name,
        version=version,
        revision_id=revision,
        runtime="python3.12",
        handler="app.handler",
        memory_size=128,
        timeout=3,
        environment={},
        code_path="/nonexistent",
        log_group=f"/aws/lambda/{name}",
    )


def request(rid: str = "r") -> InvokeRequest:
    return InvokeRequest(request_id=rid, payload=b"{}", invoked_function_arn="arn")
