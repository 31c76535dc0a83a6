"""Routes for function URL configs (2021-10-31): Create, Get, Update, Delete and List."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ember.api.paging import page
from ember.api.references import References
from ember.api.requests import read_input
from ember.api.shapes import json_response
from ember.config import Settings
from ember.control.model import LATEST
from ember.control.urls import Cors, FunctionUrls, UrlConfig
from ember.errors import ValidationError

_QUALIFIER_PATTERN = r"((?!^\d+$)^[0-9a-zA-Z-_]+$)"
_CORS_MEMBERS = {
    "AllowCredentials": "allow_credentials",
    "AllowHeaders": "allow_headers",
    "AllowMethods": "allow_methods",
    "AllowOrigins": "allow_origins",
    "ExposeHeaders": "expose_headers",
    "MaxAge": "max_age",
}


def function_url(settings: Settings, url_id: str) -> str:
    """The URL a config answers on: host-routed on Ember's own port (ember/doors.py)."""
    return f"http://{url_id}.lambda-url.{settings.region}.{settings.domain}:{settings.port}/"


def _cors_doc(cors: Cors) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    for wire, attr in _CORS_MEMBERS.items():
        value = getattr(cors, attr)
        if value is not None:
            doc[wire] = list(value) if isinstance(value, tuple) else value
    return doc


def _cors(values: dict[str, Any]) -> Cors | None:
    wire = values.get("Cors")
    if wire is None:
        return None
    given: dict[str, Any] = {
        attr: tuple(wire[key]) if isinstance(wire[key], list) else wire[key]
        for key, attr in _CORS_MEMBERS.items()
        if key in wire
    }
    return Cors(**given)


class UrlRoutes:
    def __init__(self, settings: Settings, references: References, urls: FunctionUrls) -> None:
        self._settings = settings
        self._refs = references
        self._urls = urls

    def routes(self) -> list[Route]:
        path = "/2021-10-31/functions/{FunctionName}/url"
        return [
            Route(path, self.create, methods=["POST"]),
            Route(path, self.get, methods=["GET"]),
            Route(path, self.update, methods=["PUT"]),
            Route(path, self.delete, methods=["DELETE"]),
            Route(path + "s", self.list, methods=["GET"]),
        ]

    def _doc(self, config: UrlConfig, *, full: bool) -> dict[str, Any]:
        """The config as AWS answers it: Get and List (`full`) always name InvokeMode and
        LastModifiedTime; Create leaves out LastModifiedTime, and Create and Update name
        InvokeMode only once one was given (AWS's recorded answers)."""
        doc: dict[str, Any] = {
            "FunctionUrl": function_url(self._settings, config.url_id),
            "FunctionArn": config.function_arn,
            "AuthType": config.auth_type,
        }
        if config.cors is not None:
            doc["Cors"] = _cors_doc(config.cors)
        doc["CreationTime"] = config.creation_time
        if full:
            doc["LastModifiedTime"] = config.last_modified
            doc["InvokeMode"] = config.effective_invoke_mode
        elif config.invoke_mode is not None:
            doc["InvokeMode"] = config.invoke_mode
        return doc

    def _ref(self, values: dict[str, Any], op_name: str) -> tuple[str, str | None]:
        name, qualifier = self._refs.parse(values, op_name)
        if qualifier is not None and (qualifier == LATEST or qualifier.isdigit()):
            # A URL belongs to the function or an alias, never to a version (AWS's model).
            raise ValidationError(
                f"1 validation error detected: Value '{qualifier}' at 'qualifier' failed to "
                "satisfy constraint: Member must satisfy regular expression pattern: "
                f"{_QUALIFIER_PATTERN}"
            )
        return name, qualifier

    async def create(self, request: Request) -> Response:
        values = await read_input(request, "CreateFunctionUrlConfig")
        name, qualifier = self._ref(values, "CreateFunctionUrlConfig")
        config = await self._urls.create(
            name,
            qualifier,
            auth_type=values["AuthType"],
            cors=_cors(values),
            invoke_mode=values.get("InvokeMode"),
        )
        doc = self._doc(config, full=False)
        return json_response(doc, status=201)

    async def get(self, request: Request) -> Response:
        values = await read_input(request, "GetFunctionUrlConfig")
        name, qualifier = self._ref(values, "GetFunctionUrlConfig")
        return json_response(self._doc(self._urls.get(name, qualifier), full=True))

    async def update(self, request: Request) -> Response:
        values = await read_input(request, "UpdateFunctionUrlConfig")
        name, qualifier = self._ref(values, "UpdateFunctionUrlConfig")
        config = await self._urls.update(
            name,
            qualifier,
            auth_type=values.get("AuthType"),
            cors=_cors(values),
            invoke_mode=values.get("InvokeMode"),
        )
        doc = self._doc(config, full=False)
        doc["LastModifiedTime"] = config.last_modified
        return json_response(doc)

    async def delete(self, request: Request) -> Response:
        values = await read_input(request, "DeleteFunctionUrlConfig")
        name, qualifier = self._ref(values, "DeleteFunctionUrlConfig")
        await self._urls.delete(name, qualifier)
        return Response(status_code=204)

    async def list(self, request: Request) -> Response:
        values = await read_input(request, "ListFunctionUrlConfigs")
        name, _ = self._refs.parse(values, "ListFunctionUrlConfigs")
        chunk, marker = page(self._urls.list(name), values)
        doc: dict[str, Any] = {"FunctionUrlConfigs": [self._doc(c, full=True) for c in chunk]}
        if marker:
            doc["NextMarker"] = marker
        return json_response(doc)
