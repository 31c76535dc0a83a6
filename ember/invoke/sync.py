"""Invoking a function once: RequestResponse and DryRun, and each attempt of an
asynchronous event (the dispatcher calls the same Invoker)."""

from __future__ import annotations

import random
import uuid

from ember.clock import Clock
from ember.config import Settings
from ember.control import FunctionConfig, FunctionService
from ember.control.aliases import AliasService
from ember.control.functions import not_found
from ember.control.model import LATEST
from ember.scheduler import InvocationResult, InvokeRequest, Scheduler
from ember.scheduler.spec import EnvironmentSpec


class Invoker:
    def __init__(
        self,
        settings: Settings,
        functions: FunctionService,
        scheduler: Scheduler,
        clock: Clock,
        aliases: AliasService | None = None,
    ) -> None:
        self._settings = settings
        self._aliases = aliases
        self._random = random.Random()
        self._clock = clock
        self._functions = functions
        self._scheduler = scheduler
        # revision id -> spec: built once per function revision, not per invoke.
        self._specs: dict[str, EnvironmentSpec] = {}
        functions.add_listener(self._on_change)
        # Code an update or delete left behind goes once no live environment runs it.
        functions.set_code_users(scheduler.code_in_use)
        scheduler.set_code_released(functions.release_code)

    def _on_change(self, old: FunctionConfig | None, new: FunctionConfig | None) -> None:
        if old is None:
            return
        self._specs.pop(old.revision_id, None)
        if new is None:
            # The function (all its versions) or one published version is gone.
            self._scheduler.forget(old.name, None if old.version == LATEST else old.version)
        elif new.revision_id != old.revision_id:
            self._scheduler.retire(old.name, old.version)

    def spec(self, config: FunctionConfig) -> EnvironmentSpec:
        """What environments of this function version are built from."""
        return self._spec(config)

    def _spec(self, config: FunctionConfig) -> EnvironmentSpec:
        spec = self._specs.get(config.revision_id)
        if spec is None:
            spec = self._specs[config.revision_id] = EnvironmentSpec(
                function_name=config.name,
                version=config.version,
                revision_id=config.revision_id,
                runtime=config.runtime,
                handler=config.handler,
                memory_size=config.memory_size,
                timeout=config.timeout,
                environment=dict(config.environment),
                code_path=str(self._functions.code_path(config).resolve()),
                log_group=config.log_group,
                role=config.role,
                ephemeral_storage=config.ephemeral_storage,
                layer_paths=tuple(
                    str(path.resolve()) for path in self._functions.layer_paths(config)
                ),
            )
        return spec

    def select(self, name: str, qualifier: str | None) -> FunctionConfig:
        """The version a qualifier routes this invocation to; through an alias with
        weights, the additional version gets its share of invocations at random."""
        if qualifier is None or qualifier == LATEST or qualifier.isdigit():
            return self._functions.get(name, qualifier)
        self._functions.get(name)
        alias = self._aliases.find(name, qualifier) if self._aliases else None
        if alias is None:
            raise not_found(f"{self._functions.arn(name)}:{qualifier}")
        version = alias.function_version
        for extra, weight in alias.weights.items():
            if self._random.random() < weight:
                version = extra
        return self._functions.get(name, version)

    async def resolve(self, name: str, qualifier: str | None) -> FunctionConfig:
        """The function version an invoke runs, once it is ready to run."""
        config = self.select(name, qualifier)  # unknown name or qualifier: 404 at once
        if config.version != LATEST:
            return config  # published versions are immutable and Active
        return await self._functions.wait_settled(name, limit=self._settings.init_timeout)

    async def invoke(
        self,
        name: str,
        qualifier: str | None,
        payload: bytes,
        *,
        client_context: str | None = None,
        want_log_tail: bool = False,
        request_id: str | None = None,
    ) -> InvocationResult:
        """Run the function once. `request_id`: the id the function sees (an asynchronous
        event keeps its own across retries); a fresh one when not given."""
        config = await self.resolve(name, qualifier)
        invoked_arn = config.arn if qualifier is None else f"{config.arn}:{qualifier}"
        request_id = request_id or str(uuid.uuid4())
        request = InvokeRequest(
            request_id=request_id,
            payload=payload,
            invoked_function_arn=invoked_arn,
            client_context=client_context,
            trace_id=_trace_id(request_id, self._clock.wall()),
            want_log_tail=want_log_tail,
        )
        return await self._scheduler.invoke(self._spec(config), request)


def _trace_id(request_id: str, wall: float) -> str:
    """An X-Ray trace header as Lambda passes it: Root=1-<epoch hex>-<24 hex>."""
    hexed = request_id.replace("-", "")
    return f"Root=1-{int(wall):08x}-{hexed[:24]};Parent={hexed[16:32]};Sampled=0"
