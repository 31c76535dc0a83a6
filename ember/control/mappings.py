"""Event source mappings: which queue feeds which function, how, and the mapping's state.

The resource model only: its rules (AWS's limits and error words), its state machine and
its documents. The pollers that act on a mapping live in `ember.sources`; they follow
this model through `on_change` and report back with `settle` and `finish_delete`. Control
does not know what a queue is: whether an event source exists, and of which kind, is the
injected `SourceLookup`'s answer (the server wires it to the queues).
"""

from __future__ import annotations

import builtins
import dataclasses
import enum
import uuid as uuids
from collections.abc import Callable
from typing import Any

import orjson

from ember.blocking import run_blocking
from ember.clock import Clock
from ember.control.aliases import AliasService
from ember.control.functions import FunctionService
from ember.control.mapping_streams import DEFAULT_BATCH as STREAM_DEFAULT_BATCH
from ember.control.mapping_streams import (
    NO_RECORDS,
    USER_ACTION,
    StreamConfig,
    StreamOptions,
    stream_config,
)
from ember.control.model import LATEST
from ember.control.names import parse_function_name
from ember.errors import (
    InvalidParameterValueError,
    LambdaError,
    ResourceConflictError,
    ResourceNotFoundError,
    ValidationError,
)
from ember.store import MetadataStore

KIND = "event-source-mapping"
USER_INITIATED = "USER_INITIATED"
NOT_FOUND = "The resource you requested does not exist."
MAX_FILTERS = 5  # Lambda's default quota of filters per mapping
SQS_DEFAULT_BATCH = 10
SQS_MAX_UNWINDOWED_BATCH = 10


class ResourceInUseError(LambdaError):
    """AWS: an update or delete while the mapping is moving between states."""

    code = "ResourceInUseException"
    status = 400
    fault = "User"


class MappingState(enum.StrEnum):
    CREATING = "Creating"
    ENABLING = "Enabling"
    ENABLED = "Enabled"
    DISABLING = "Disabling"
    DISABLED = "Disabled"
    UPDATING = "Updating"
    DELETING = "Deleting"


S = MappingState
# The legal moves. The transient states (Creating, Enabling, Disabling, Updating) settle
# once the pollers have followed (`settle`); Deleting ends with the document's removal.
TRANSITIONS: dict[MappingState, frozenset[MappingState]] = {
    S.CREATING: frozenset({S.ENABLED, S.DISABLED, S.DELETING}),
    S.ENABLING: frozenset({S.ENABLED, S.DELETING}),
    S.DISABLING: frozenset({S.DISABLED, S.DELETING}),
    S.UPDATING: frozenset({S.ENABLED, S.DISABLED, S.DELETING}),
    S.ENABLED: frozenset({S.UPDATING, S.DISABLING, S.DELETING}),
    S.DISABLED: frozenset({S.UPDATING, S.ENABLING, S.DELETING}),
    S.DELETING: frozenset(),
}
SETTLED = frozenset({S.ENABLED, S.DISABLED})


class InvalidStateTransitionError(LambdaError):
    """A move the state machine does not allow (a bug in a caller, never user input)."""


@dataclasses.dataclass(frozen=True, slots=True)
class SourceFacts:
    """What the lookup knows of an event source ARN."""

    kind: str  # "sqs", "kinesis", "dynamodb"
    fifo: bool = False


# EventSourceArn -> its facts, or None when no such source exists.
SourceLookup = Callable[[str], SourceFacts | None]
# Raises InvalidParameterValueError for a pattern the matcher refuses.
PatternCheck = Callable[[str], None]


@dataclasses.dataclass(frozen=True, slots=True)
class Mapping:
    uuid: str
    arn: str  # EventSourceMappingArn
    source_arn: str
    source_kind: str
    fifo: bool
    function_name: str
    qualifier: str | None
    function_arn: str  # as given: qualified when the caller qualified it
    batch_size: int
    batching_window: int  # MaximumBatchingWindowInSeconds
    response_types: tuple[str, ...] = ()  # FunctionResponseTypes
    maximum_concurrency: int | None = None  # ScalingConfig.MaximumConcurrency
    filters: tuple[str, ...] | None = None  # FilterCriteria patterns (JSON text); None: unset
    enabled: bool = True
    state: MappingState = MappingState.CREATING
    state_reason: str = USER_INITIATED
    last_modified: float = 0.0  # epoch seconds
    created: float = 0.0  # epoch seconds: lists keep creation order
    last_processing_result: str | None = None
    stream: StreamConfig | None = None  # a stream source's settings (Kinesis)

    @property
    def reports_item_failures(self) -> bool:
        return "ReportBatchItemFailures" in self.response_types

    def to_doc(self) -> dict[str, Any]:
        doc = dataclasses.asdict(self)
        doc["state"] = str(self.state)
        return doc

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Mapping:
        values = dict(doc)
        values["state"] = MappingState(values["state"])
        values["response_types"] = tuple(values["response_types"])
        if values["filters"] is not None:
            values["filters"] = tuple(values["filters"])
        if values.get("stream") is not None:
            values["stream"] = StreamConfig.from_doc(values["stream"])
        return cls(**values)


@dataclasses.dataclass(frozen=True, slots=True)
class MappingSettings:
    """What Create and Update may set; None: not given (Update keeps the old value)."""

    batch_size: int | None = None
    batching_window: int | None = None
    response_types: tuple[str, ...] | None = None
    maximum_concurrency: int | None = None
    scaling_given: bool = False  # ScalingConfig present (`{}` clears MaximumConcurrency)
    filters: tuple[str, ...] | None = None
    filters_given: bool = False  # FilterCriteria present (`{}` clears it)
    enabled: bool | None = None
    stream: StreamOptions | None = None  # the stream members given (ParallelizationFactor…)


# Called with the mapping after each change (a state to act on, or its removal: None).
Listener = Callable[[Mapping, Mapping | None], None]


class MappingService:
    def __init__(
        self,
        metadata: MetadataStore,
        functions: FunctionService,
        aliases: AliasService,
        clock: Clock,
        *,
        region: str,
        account: str,
        sources: SourceLookup,
        check_pattern: PatternCheck | None = None,
    ) -> None:
        self._metadata = metadata
        self._functions = functions
        self._aliases = aliases
        self._clock = clock
        self._region = region
        self._account = account
        self._sources = sources
        self._check_pattern = check_pattern
        self._mappings: dict[str, Mapping] = {}  # uuid -> mapping
        self._listeners: list[Listener] = []

    def on_change(self, listener: Listener) -> None:
        """`listener(mapping, None)` once its document is gone; else `(old, new)`."""
        self._listeners.append(listener)

    async def load(self) -> None:
        for doc in (await run_blocking(self._metadata.load, KIND)).values():
            mapping = Mapping.from_doc(doc)
            self._mappings[mapping.uuid] = mapping

    # -- reads ----------------------------------------------------------------------

    def all(self) -> builtins.list[Mapping]:
        return list(self._mappings.values())

    def find(self, uuid: str) -> Mapping | None:
        return self._mappings.get(uuid)

    def get(self, uuid: str) -> Mapping:
        mapping = self._mappings.get(uuid)
        if mapping is None:
            raise ResourceNotFoundError(NOT_FOUND)
        return mapping

    def list(
        self, function: str | None = None, source_arn: str | None = None
    ) -> builtins.list[Mapping]:
        """By function (name or ARN, a qualifier narrows it) and/or source, oldest first."""
        found = sorted(self._mappings.values(), key=lambda m: (m.created, m.uuid))
        if function is not None:
            ref = parse_function_name(function, self._region, account=self._account)
            found = [
                m
                for m in found
                if m.function_name == ref.name
                and (ref.qualifier is None or m.qualifier == ref.qualifier)
            ]
        if source_arn is not None:
            found = [m for m in found if m.source_arn == source_arn]
        return found

    # -- writes ---------------------------------------------------------------------

    async def create(
        self,
        function: str,
        source_arn: str | None,
        settings: MappingSettings,
        *,
        starting_position: str | None = None,
        on_success_destination: bool = False,
    ) -> Mapping:
        """CreateEventSourceMapping, checked in AWS's order."""
        if on_success_destination:
            raise InvalidParameterValueError(
                "Unsupported DestinationConfig parameter for given event source mapping type."
            )
        if not source_arn:
            raise InvalidParameterValueError("Unrecognized event source.")
        service = _service_of(source_arn)
        if service in ("dynamodb", "kinesis"):
            _check_starting_position(service, source_arn, starting_position)
        stream: StreamConfig | None = None
        if service in ("kinesis", "dynamodb"):
            stream = stream_config(settings.stream or StreamOptions(), None, starting_position)
        elif service != "sqs":
            raise InvalidParameterValueError(
                f"Unsupported event source: {source_arn}. Ember serves SQS queues and Kinesis "
                "streams as event sources."
            )
        elif starting_position is not None:
            raise InvalidParameterValueError("StartingPosition is not valid for SQS event sources.")
        elif settings.stream is not None and settings.stream.on_failure:
            raise InvalidParameterValueError(
                "Unsupported DestinationConfig parameter for given event source mapping type."
            )
        default_batch = SQS_DEFAULT_BATCH if stream is None else STREAM_DEFAULT_BATCH
        batch_size = settings.batch_size or default_batch
        window = settings.batching_window or 0
        if stream is None:
            _check_window(batch_size, window)
        filters = self._checked_filters(settings.filters) if settings.filters_given else None
        name, qualifier, function_arn = self._function_of(function)
        facts = self._sources(source_arn)
        if facts is None and stream is not None:
            raise InvalidParameterValueError(f"Stream not found: {source_arn}")
        if facts is None:
            raise InvalidParameterValueError(
                "Error occurred while ReceiveMessage. SQS Error Code: "
                "AWS.SimpleQueueService.NonExistentQueue. SQS Error Message: The specified "
                "queue does not exist for this wsdl version."
            )
        _check_fifo(facts, batch_size, window)
        for other in self._mappings.values():
            if other.source_arn == source_arn and other.function_arn == function_arn:
                if stream is not None:
                    raise ResourceConflictError(
                        f'The event source arn (" {source_arn} ") and function (" {name} ") '
                        "provided mapping already exists. Please update or delete the "
                        f"existing mapping with UUID {other.uuid}"
                    )
                raise ResourceConflictError(
                    f'An event source mapping with SQS arn (" {source_arn} ") and function '
                    f'(" {name} ") already exists. Please update or delete the existing '
                    f"mapping with UUID {other.uuid}"
                )
        uuid = str(uuids.uuid4())
        now = self._clock.wall()
        mapping = Mapping(
            uuid=uuid,
            arn=f"arn:aws:lambda:{self._region}:{self._account}:event-source-mapping:{uuid}",
            source_arn=source_arn,
            source_kind=facts.kind,
            fifo=facts.fifo,
            function_name=name,
            qualifier=qualifier,
            function_arn=function_arn,
            batch_size=batch_size,
            batching_window=window,
            response_types=settings.response_types or (),
            maximum_concurrency=settings.maximum_concurrency,
            filters=filters,
            enabled=settings.enabled is not False,
            # AWS answers an SQS mapping created disabled as Disabled at once (nothing to
            # start); stream mappings go through Creating either way.
            state=(
                MappingState.DISABLED
                if settings.enabled is False and stream is None
                else MappingState.CREATING
            ),
            state_reason=USER_INITIATED if stream is None else USER_ACTION,
            last_modified=now,
            created=now,
            last_processing_result=None if stream is None else NO_RECORDS,
            stream=stream,
        )
        await self._save(None, mapping)
        return mapping

    async def update(self, uuid: str, function: str | None, settings: MappingSettings) -> Mapping:
        old = self.get(uuid)
        if old.state not in SETTLED:
            raise ResourceInUseError(
                f"Cannot update the event source mapping because it is in use (state {old.state})."
            )
        name, qualifier, function_arn = (
            self._function_of(function)
            if function is not None
            else (old.function_name, old.qualifier, old.function_arn)
        )
        batch_size = settings.batch_size if settings.batch_size is not None else old.batch_size
        window = (
            settings.batching_window
            if settings.batching_window is not None
            else old.batching_window
        )
        if old.stream is None:
            _check_window(batch_size, window)
        _check_fifo(SourceFacts(old.source_kind, old.fifo), batch_size, window)
        stream = old.stream
        if stream is not None and settings.stream is not None:
            stream = stream_config(settings.stream, stream, None)
        filters = old.filters
        if settings.filters_given:
            filters = self._checked_filters(settings.filters)
        enabled = settings.enabled if settings.enabled is not None else old.enabled
        if enabled != old.enabled:
            state = MappingState.ENABLING if enabled else MappingState.DISABLING
        else:
            state = MappingState.UPDATING
        new = dataclasses.replace(
            old,
            function_name=name,
            qualifier=qualifier,
            function_arn=function_arn,
            batch_size=batch_size,
            batching_window=window,
            response_types=(
                settings.response_types
                if settings.response_types is not None
                else old.response_types
            ),
            maximum_concurrency=(
                settings.maximum_concurrency if settings.scaling_given else old.maximum_concurrency
            ),
            filters=filters,
            enabled=enabled,
            state=_moved(old.state, state),
            state_reason=USER_INITIATED if old.stream is None else USER_ACTION,
            last_modified=self._clock.wall(),
            stream=stream,
        )
        await self._save(old, new)
        return new

    async def delete(self, uuid: str) -> Mapping:
        """Marks the mapping Deleting; its pollers stop, then `finish_delete` removes it."""
        old = self.get(uuid)
        if old.state is MappingState.DELETING:
            return old
        reason = USER_INITIATED if old.stream is None else USER_ACTION
        new = dataclasses.replace(
            old, state=_moved(old.state, MappingState.DELETING), state_reason=reason
        )
        await self._save(old, new)
        return new

    async def settle(self, uuid: str) -> Mapping | None:
        """The pollers follow the mapping now: Creating/Enabling/Updating/Disabling end."""
        old = self._mappings.get(uuid)
        if old is None or old.state in SETTLED or old.state is MappingState.DELETING:
            return old
        target = MappingState.ENABLED if old.enabled else MappingState.DISABLED
        # AWS: LastModified is when the mapping was last updated or changed state.
        new = dataclasses.replace(
            old, state=_moved(old.state, target), last_modified=self._clock.wall()
        )
        await self._save(old, new)
        return new

    async def finish_delete(self, uuid: str) -> None:
        old = self._mappings.get(uuid)
        if old is None or old.state is not MappingState.DELETING:
            return
        await run_blocking(self._metadata.write, deletes=[(KIND, uuid)])
        del self._mappings[uuid]
        for listener in self._listeners:
            listener(old, None)

    def record_result(self, uuid: str, result: str) -> None:
        """LastProcessingResult, kept in memory (it is an observation, not configuration)."""
        old = self._mappings.get(uuid)
        if old is not None and old.last_processing_result != result:
            self._mappings[uuid] = dataclasses.replace(old, last_processing_result=result)

    # -- helpers --------------------------------------------------------------------

    def _function_of(self, function: str) -> tuple[str, str | None, str]:
        """(name, qualifier, FunctionArn as shown) for a FunctionName that must exist."""
        ref = parse_function_name(function, self._region, account=self._account)
        missing = InvalidParameterValueError("Function does not exist")
        try:
            self._functions.get(ref.name)
        except ResourceNotFoundError:
            raise missing from None
        qualifier = ref.qualifier
        if qualifier is not None and qualifier != LATEST:
            if qualifier.isdigit():
                try:
                    self._functions.get(ref.name, qualifier)
                except ResourceNotFoundError:
                    raise missing from None
            elif self._aliases.find(ref.name, qualifier) is None:
                raise missing
        arn = self._functions.arn(ref.name)
        return ref.name, qualifier, arn if qualifier is None else f"{arn}:{qualifier}"

    def _checked_filters(self, filters: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if not filters:
            return None
        if len(filters) > MAX_FILTERS:
            raise InvalidParameterValueError(
                f"The number of filters ({len(filters)}) exceeds the limit of {MAX_FILTERS} "
                "filters per event source mapping."
            )
        for pattern in filters:
            try:
                parsed = orjson.loads(pattern)
            except orjson.JSONDecodeError:
                parsed = None
            if not isinstance(parsed, dict):
                raise InvalidParameterValueError("Invalid filter pattern definition.")
            if self._check_pattern is not None:
                self._check_pattern(pattern)
        return filters

    async def _save(self, old: Mapping | None, new: Mapping) -> None:
        await run_blocking(self._metadata.write, puts=[(KIND, new.uuid, new.to_doc())])
        self._mappings[new.uuid] = new
        for listener in self._listeners:
            listener(old or new, new)


def _moved(old: MappingState, new: MappingState) -> MappingState:
    if new not in TRANSITIONS[old]:
        raise InvalidStateTransitionError(f"event source mapping: {old} -> {new}")
    return new


def _service_of(arn: str) -> str:
    parts = arn.split(":")
    return parts[2] if len(parts) > 2 and parts[0] == "arn" else ""


def _check_starting_position(service: str, arn: str, position: str | None) -> None:
    """AWS's checks on a stream source's StartingPosition."""
    if not position:
        raise InvalidParameterValueError(
            "1 validation error detected: Value null at 'startingPosition' failed to satisfy "
            "constraint: Member must not be null."
        )
    if position not in ("LATEST", "AT_TIMESTAMP", "TRIM_HORIZON"):
        raise ValidationError(
            f"1 validation error detected: Value '{position}' at 'startingPosition' failed to "
            "satisfy constraint: Member must satisfy enum value set: [LATEST, AT_TIMESTAMP, "
            "TRIM_HORIZON]"
        )
    if service == "dynamodb" and position == "AT_TIMESTAMP":
        raise InvalidParameterValueError(f"Unsupported starting position for arn type: {arn}")


def _check_window(batch_size: int, window: int) -> None:
    # Lambda: for SQS, a BatchSize over 10 needs a batching window of at least 1 s.
    if batch_size > SQS_MAX_UNWINDOWED_BATCH and window == 0:
        raise InvalidParameterValueError(
            "Maximum batch window in seconds must be greater than 0 if maximum batch size is "
            "greater than 10"
        )


def _check_fifo(facts: SourceFacts, batch_size: int, window: int) -> None:
    # Lambda: FIFO queues take batches of at most 10 and no batching window.
    if facts.fifo and window > 0:
        raise InvalidParameterValueError("Batching window is not supported for FIFO queues")
    if facts.fifo and batch_size > SQS_MAX_UNWINDOWED_BATCH:
        raise InvalidParameterValueError("Batch size must not exceed 10 for FIFO queues")
