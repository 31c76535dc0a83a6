"""Routes for EventInvokeConfig (2019-09-25): Put, Get, Update, Delete and List."""

from __future__ import annotations

import base64
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ember.api.references import References
from ember.api.requests import read_input
from ember.api.shapes import json_response
from ember.control.event_invoke import Destinations, EventInvokeConfig, EventInvokeConfigs
from ember.errors import InvalidParameterValueError

_PAGE = 50


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
        configs = self._configs.list(name)
        start = 0
        if values.get("Marker"):
            try:
                start = int(base64.urlsafe_b64decode(values["Marker"].encode()).decode())
            except ValueError:
                raise InvalidParameterValueError("Invalid pagination token") from None
        size = min(values.get("MaxItems") or _PAGE, _PAGE)
        doc: dict[str, Any] = {
            "FunctionEventInvokeConfigs": [
                event_invoke_config(c) for c in configs[start : start + size]
            ]
        }
        if start + size < len(configs):
            doc["NextMarker"] = base64.urlsafe_b64encode(str(start + size).encode()).decode()
        return json_response(doc)
