"""Routes for EventInvokeConfig (2019-09-25): Put, Get, Update, Delete and List."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ember.api.paging import page
from ember.api.references import References
from ember.api.requests import read_input
from ember.api.shapes import json_response
from ember.control.event_invoke import Destinations, EventInvokeConfig, EventInvokeConfigs


def event_invoke_config(config: EventInvokeConfig) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "LastModified": config.last_modified,
        "FunctionArn": config.function_arn,
    }
    if config.maximum_retry_attempts is not None:
        doc["MaximumRetryAttempts"] = config.maximum_retry_attempts
    if config.maximum_event_age is not None:
        doc["MaximumEventAgeInSeconds"] = config.maximum_event_age
    # AWS always shows both destinations, `{}` where none is set.
    doc["DestinationConfig"] = {
        "OnSuccess": {"Destination": config.on_success} if config.on_success else {},
        "OnFailure": {"Destination": config.on_failure} if config.on_failure else {},
    }
    return doc


def _destinations(values: dict[str, Any]) -> Destinations | None:
    if "DestinationConfig" not in values:
        return None
    wire = values["DestinationConfig"]

    def member(key: str) -> str | None:
        return (wire[key].get("Destination") or "") if key in wire else None

    return Destinations(on_success=member("OnSuccess"), on_failure=member("OnFailure"))


def _settings_of(values: dict[str, Any]) -> dict[str, Any]:
    return {
        "maximum_retry_attempts": values.get("MaximumRetryAttempts"),
        "maximum_event_age": values.get("MaximumEventAgeInSeconds"),
        "destinations": _destinations(values),
    }


class EventInvokeRoutes:
    def __init__(self, references: References, configs: EventInvokeConfigs) -> None:
        self._refs = references
        self._configs = configs

    def routes(self) -> list[Route]:
        path = "/2019-09-25/functions/{FunctionName}/event-invoke-config"
        return [
            Route(path, self.put, methods=["PUT"]),
            Route(path, self.get, methods=["GET"]),
            Route(path, self.update, methods=["POST"]),
            Route(path, self.delete, methods=["DELETE"]),
            Route(path + "/list", self.list, methods=["GET"]),
        ]

    def _ref(self, values: dict[str, Any], op_name: str) -> tuple[str, str | None]:
        return self._refs.parse(values, op_name)

    async def put(self, request: Request) -> Response:
        values = await read_input(request, "PutFunctionEventInvokeConfig")
        name, qualifier = self._ref(values, "PutFunctionEventInvokeConfig")
        config = await self._configs.put(name, qualifier, **_settings_of(values))
        return json_response(event_invoke_config(config))

    async def get(self, request: Request) -> Response:
        values = await read_input(request, "GetFunctionEventInvokeConfig")
        name, qualifier = self._ref(values, "GetFunctionEventInvokeConfig")
        return json_response(event_invoke_config(self._configs.get(name, qualifier)))

    async def update(self, request: Request) -> Response:
        values = await read_input(request, "UpdateFunctionEventInvokeConfig")
        name, qualifier = self._ref(values, "UpdateFunctionEventInvokeConfig")
        config = await self._configs.update(name, qualifier, **_settings_of(values))
        return json_response(event_invoke_config(config))

    async def delete(self, request: Request) -> Response:
        values = await read_input(request, "DeleteFunctionEventInvokeConfig")
        name, qualifier = self._ref(values, "DeleteFunctionEventInvokeConfig")
        await self._configs.delete(name, qualifier)
        return Response(status_code=204)

    async def list(self, request: Request) -> Response:
        values = await read_input(request, "ListFunctionEventInvokeConfigs")
        name, _ = self._ref(values, "ListFunctionEventInvokeConfigs")
        chunk, marker = page(self._configs.list(name), values)
        doc: dict[str, Any] = {
            "FunctionEventInvokeConfigs": [event_invoke_config(c) for c in chunk]
        }
        if marker:
            doc["NextMarker"] = marker
        return json_response(doc)
