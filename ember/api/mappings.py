"""Routes for event source mappings (2015-03-31): Create, Get, Update, Delete and List."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ember.api.paging import page
from ember.api.requests import read_input
from ember.api.shapes import json_response
from ember.control.mapping_streams import StreamOptions
from ember.control.mappings import Mapping, MappingService, MappingSettings
from ember.control.tags import TagService, check_tag_map
from ember.errors import InvalidParameterValueError

PATH = "/2015-03-31/event-source-mappings"


def mapping_configuration(mapping: Mapping) -> dict[str, Any]:
    """EventSourceMappingConfiguration as AWS answers it for an SQS source (no stream
    members, no LastProcessingResult; FilterCriteria and ScalingConfig only when set); a
    stream source (Kinesis) adds its own members."""
    doc: dict[str, Any] = {
        "UUID": mapping.uuid,
        "BatchSize": mapping.batch_size,
        "MaximumBatchingWindowInSeconds": mapping.batching_window,
        "EventSourceArn": mapping.source_arn,
    }
    if mapping.filters is not None:
        doc["FilterCriteria"] = {"Filters": [{"Pattern": p} for p in mapping.filters]}
    doc["FunctionArn"] = mapping.function_arn
    doc["LastModified"] = mapping.last_modified  # a timestamp: epoch seconds on this protocol
    if mapping.maximum_concurrency is not None:
        doc["ScalingConfig"] = {"MaximumConcurrency": mapping.maximum_concurrency}
    doc["State"] = str(mapping.state)
    doc["StateTransitionReason"] = mapping.state_reason
    doc["FunctionResponseTypes"] = list(mapping.response_types)
    doc["EventSourceMappingArn"] = mapping.arn
    if mapping.stream is not None:
        doc.update(_stream_members(mapping))
    return doc


def _stream_members(mapping: Mapping) -> dict[str, Any]:
    """What AWS adds for a stream source (Kinesis)."""
    stream = mapping.stream
    assert stream is not None
    doc: dict[str, Any] = {"StartingPosition": stream.starting_position}
    if stream.starting_timestamp is not None:
        doc["StartingPositionTimestamp"] = stream.starting_timestamp
    on_failure = {"Destination": stream.on_failure} if stream.on_failure else {}
    doc.update({
        "ParallelizationFactor": stream.parallelization,
        "LastProcessingResult": mapping.last_processing_result,
        "DestinationConfig": {"OnFailure": on_failure},
        "MaximumRecordAgeInSeconds": stream.maximum_record_age,
        "BisectBatchOnFunctionError": stream.bisect,
        "MaximumRetryAttempts": stream.maximum_retries,
        "TumblingWindowInSeconds": stream.tumbling_window,
    })  # fmt: skip
    return doc


def _stream_options(values: dict[str, Any]) -> StreamOptions | None:
    on_failure = (values.get("DestinationConfig") or {}).get("OnFailure") or None
    members = (
        "StartingPositionTimestamp",
        "ParallelizationFactor",
        "BisectBatchOnFunctionError",
        "MaximumRetryAttempts",
        "MaximumRecordAgeInSeconds",
        "TumblingWindowInSeconds",
    )
    if on_failure is None and not any(m in values for m in members):
        return None
    timestamp = values.get("StartingPositionTimestamp")
    return StreamOptions(
        starting_timestamp=float(timestamp) if isinstance(timestamp, int | float) else None,
        parallelization=values.get("ParallelizationFactor"),
        bisect=values.get("BisectBatchOnFunctionError"),
        maximum_retries=values.get("MaximumRetryAttempts"),
        maximum_record_age=values.get("MaximumRecordAgeInSeconds"),
        on_failure=None if on_failure is None else str(on_failure.get("Destination") or ""),
        tumbling_window=values.get("TumblingWindowInSeconds"),
    )


def _settings(values: dict[str, Any]) -> MappingSettings:
    filters: tuple[str, ...] | None = None
    if "FilterCriteria" in values:
        wire = values["FilterCriteria"].get("Filters") or []
        patterns = []
        for item in wire:
            pattern = item.get("Pattern")
            if not isinstance(pattern, str) or not pattern:
                raise InvalidParameterValueError("Invalid filter pattern definition.")
            patterns.append(pattern)
        filters = tuple(patterns)
    scaling = values.get("ScalingConfig")
    return MappingSettings(
        batch_size=values.get("BatchSize"),
        batching_window=values.get("MaximumBatchingWindowInSeconds"),
        response_types=(
            tuple(values["FunctionResponseTypes"]) if "FunctionResponseTypes" in values else None
        ),
        maximum_concurrency=scaling.get("MaximumConcurrency") if scaling is not None else None,
        scaling_given=scaling is not None,
        filters=filters,
        filters_given="FilterCriteria" in values,
        enabled=values.get("Enabled"),
        stream=_stream_options(values),
    )


class MappingRoutes:
    def __init__(self, mappings: MappingService, tags: TagService | None = None) -> None:
        self._mappings = mappings
        self._tags = tags  # mappings are taggable by their EventSourceMappingArn

    def routes(self) -> list[Route]:
        one = PATH + "/{UUID}"
        return [
            Route(PATH, self.create, methods=["POST"]),
            Route(PATH, self.list, methods=["GET"]),
            Route(PATH + "/", self.list, methods=["GET"]),
            Route(one, self.get, methods=["GET"]),
            Route(one, self.update, methods=["PUT"]),
            Route(one, self.delete, methods=["DELETE"]),
        ]

    async def create(self, request: Request) -> Response:
        values = await read_input(request, "CreateEventSourceMapping")
        destinations = values.get("DestinationConfig") or {}
        tags = values.get("Tags") or {}
        check_tag_map(tags)
        mapping = await self._mappings.create(
            values["FunctionName"],
            values.get("EventSourceArn"),
            _settings(values),
            starting_position=values.get("StartingPosition"),
            on_success_destination="OnSuccess" in destinations,
        )
        if self._tags is not None:
            await self._tags.put_initial(mapping.arn, tags)
        return json_response(mapping_configuration(mapping), status=202)

    async def get(self, request: Request) -> Response:
        values = await read_input(request, "GetEventSourceMapping")
        return json_response(mapping_configuration(self._mappings.get(values["UUID"])))

    async def update(self, request: Request) -> Response:
        values = await read_input(request, "UpdateEventSourceMapping")
        mapping = await self._mappings.update(
            values["UUID"], values.get("FunctionName"), _settings(values)
        )
        return json_response(mapping_configuration(mapping), status=202)

    async def delete(self, request: Request) -> Response:
        values = await read_input(request, "DeleteEventSourceMapping")
        mapping = await self._mappings.delete(values["UUID"])
        if self._tags is not None:
            await self._tags.forget(mapping.arn)
        return json_response(mapping_configuration(mapping), status=202)

    async def list(self, request: Request) -> Response:
        values = await read_input(request, "ListEventSourceMappings")
        found = self._mappings.list(values.get("FunctionName"), values.get("EventSourceArn"))
        chunk, marker = page(found, values)
        doc: dict[str, Any] = {"EventSourceMappings": [mapping_configuration(m) for m in chunk]}
        if marker:
            doc["NextMarker"] = marker
        return json_response(doc)
