"""Invoking a function once: RequestResponse and DryRun, and each attempt of an
asynchronous event (the dispatcher calls the same Invoker); and with the response read as
it arrives (`invoke_stream`: InvokeWithResponseStream, streaming function URLs)."""

from __future__ import annotations

import dataclasses
import random
import uuid

from ember.clock import Clock
from ember.config import Settings
from ember.control import FunctionConfig, FunctionService
from ember.control.aliases import AliasService
from ember.control.functions import not_found
from ember.control.model import LATEST, FunctionState
from ember.errors import ResourceConflictError
from ember.invoke.streamed import StreamedInvocation
from ember.scheduler import InvocationResult, InvokeRequest, ResponseStream, Scheduler
from ember.scheduler.spec import IMAGE_RUNTIME, EnvironmentSpec, ImageRun
from ember.telemetry.traces import InvocationSpans, SpanRecorder, trace_header


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
        # Spans of sampled invocations go here (`ember serve --otlp-endpoint`); None: none.
        self.tracer: SpanRecorder | None = None
        # revision id -> spec: built once per function revision, not per invoke.
        self._specs: dict[str, EnvironmentSpec] = {}
        functions.add_listener(self._on_change)
        # Code an update or delete left behind goes once no live environment runs it.
        functions.set_code_users(scheduler.code_in_use)
        scheduler.set_code_released(functions.release_code)

    def _on_change(self, old: FunctionConfig | None, new: FunctionConfig | None) -> None:
        if old is None:
            return
        spec = self._specs.pop(old.revision_id, None)
        if new is None:
            # The function (all its versions) or one published version is gone.
            self._scheduler.forget(old.name, None if old.version == LATEST else old.version)
        elif new.revision_id != old.revision_id:
            if spec is not None and _only_published(old, new):
                # PublishVersion moved $LATEST's RevisionId and nothing else: its warm
                # environments serve on (the spec keeps the revision they were made for).
                self._specs[new.revision_id] = spec
            else:
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
                runtime=config.runtime or IMAGE_RUNTIME,
                handler=config.handler,
                memory_size=config.memory_size,
                timeout=config.timeout,
                environment=dict(config.environment),
                code_path=str(self._functions.code_path(config).resolve()),
                log_group=config.log_group,
                role=config.role,
                ephemeral_storage=config.ephemeral_storage,
                # SnapStart: a published version's environments resume from Init's state.
                initialization_type="snap-start" if config.snap_started else "on-demand",
                log_format=config.logging_config.get("LogFormat", "Text"),
                application_log_level=config.logging_config.get("ApplicationLogLevel", ""),
                system_log_level=config.logging_config.get("SystemLogLevel", ""),
                tracing_mode=config.tracing_mode,
                function_arn=config.arn,
                layer_paths=tuple(
                    str(path.resolve()) for path in self._functions.layer_paths(config)
                ),
                image=ImageRun.of(config.image_meta, config.image_config)
                if config.is_image
                else None,
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
            if config.snap_started and config.state is not FunctionState.ACTIVE:
                # SnapStart's Init has not run yet (Pending) or failed (Failed).
                raise ResourceConflictError(
                    "The operation cannot be performed at this time. The function is "
                    f"currently in the following state: {config.state}"
                )
            return config  # published versions are immutable
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
        trace: str | None = None,
    ) -> InvocationResult:
        """Run the function once. `request_id`: the id the function sees (an asynchronous
        event keeps its own across retries); a fresh one when not given. `trace`: the
        caller's X-Amzn-Trace-Id header, kept as Lambda keeps it."""
        config = await self.resolve(name, qualifier)
        invoked_arn = config.arn if qualifier is None else f"{config.arn}:{qualifier}"
        request_id = request_id or str(uuid.uuid4())
        started = self._clock.wall()
        header = trace_header(request_id, started, trace, config.tracing_mode == "Active")
        request = InvokeRequest(
            request_id=request_id,
            payload=payload,
            invoked_function_arn=invoked_arn,
            client_context=client_context,
            trace_id=header,
            want_log_tail=want_log_tail,
        )
        result = await self._scheduler.invoke(self._spec(config), request)
        if self.tracer is not None:
            self.tracer.record(
                InvocationSpans(
                    config.name, config.version, request_id, header, started,
                    self._clock.wall(), result.init_duration_ms, result.duration_ms,
                    result.error_type, config.tracing_mode == "Active",
                )
            )  # fmt: skip
        return result

    async def invoke_stream(
        self,
        name: str,
        qualifier: str | None,
        payload: bytes,
        *,
        client_context: str | None = None,
        want_log_tail: bool = False,
        request_id: str | None = None,
        trace: str | None = None,
    ) -> StreamedInvocation:
        """Run the function once, its response read as it arrives.

        Returns once the response begins: the runtime started streaming (a custom runtime
        posting its response with `Lambda-Runtime-Function-Response-Mode: streaming`), or
        the invocation is over (a function that does not stream: `chunks()` then yields
        its whole payload at once). Raises as invoke() does before that: unknown function
        or qualifier (ResourceNotFoundError), throttled (TooManyRequestsError). Use it as
        `async with await invoker.invoke_stream(...) as streamed:` so that the invocation
        is stopped if the caller leaves early; read `streamed.chunks()`, then
        `await streamed.result()` (function_error, error_type, log_tail).
        """
        config = await self.resolve(name, qualifier)
        invoked_arn = config.arn if qualifier is None else f"{config.arn}:{qualifier}"
        request_id = request_id or str(uuid.uuid4())
        stream = ResponseStream()
        request = InvokeRequest(
            request_id=request_id,
            payload=payload,
            invoked_function_arn=invoked_arn,
            client_context=client_context,
            trace_id=trace_header(
                request_id, self._clock.wall(), trace, config.tracing_mode == "Active"
            ),
            want_log_tail=want_log_tail,
            stream=stream,
        )
        streamed = StreamedInvocation(
            config.version, stream, self._scheduler.invoke(self._spec(config), request)
        )
        try:
            await streamed.wait_started()
        except BaseException:
            await streamed.aclose()
            raise
        return streamed


def _only_published(old: FunctionConfig, new: FunctionConfig) -> bool:
    """Whether `new` is `old` with only PublishVersion's bookkeeping changed."""
    return new == dataclasses.replace(
        old,
        revision_id=new.revision_id,
        version_counter=new.version_counter,
        published_revision=new.published_revision,
        publish_when_active=new.publish_when_active,
    )
