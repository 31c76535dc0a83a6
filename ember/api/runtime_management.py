"""Routes for GetRuntimeManagementConfig and PutRuntimeManagementConfig (2021-07-20)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ember.api.references import References
from ember.api.requests import read_input
from ember.api.shapes import json_response
from ember.control.functions import FunctionService
from ember.control.runtime_management import (
    RuntimeManagementConfig,
    RuntimeManagementConfigs,
    UpdateRuntimeOn,
)


class RuntimeManagementRoutes:
    def __init__(
        self,
        references: References,
        functions: FunctionService,
        configs: RuntimeManagementConfigs,
    ) -> None:
        self._refs = references
        self._functions = functions
        self._configs = configs

    def routes(self) -> list[Route]:
        path = "/2021-07-20/functions/{FunctionName}/runtime-management-config"
        return [
            Route(path, self.get, methods=["GET"]),
            Route(path, self.put, methods=["PUT"]),
        ]

    def _doc(self, config: RuntimeManagementConfig, qualifier: str | None) -> dict[str, Any]:
        """AWS's answer: FunctionArn qualified as asked, RuntimeVersionArn for Manual only."""
        arn = self._functions.arn(config.function_name)
        doc: dict[str, Any] = {
            "UpdateRuntimeOn": str(config.update_runtime_on),
            "FunctionArn": f"{arn}:{qualifier}" if qualifier else arn,
        }
        if config.update_runtime_on is UpdateRuntimeOn.MANUAL:
            doc["RuntimeVersionArn"] = config.runtime_version_arn
        return doc

    async def get(self, request: Request) -> Response:
        values = await read_input(request, "GetRuntimeManagementConfig")
        name, qualifier = self._refs.parse(values, "GetRuntimeManagementConfig")
        return json_response(self._doc(self._configs.get(name, qualifier), qualifier))

    async def put(self, request: Request) -> Response:
        values = await read_input(request, "PutRuntimeManagementConfig")
        name, qualifier = self._refs.parse(values, "PutRuntimeManagementConfig")
        config = await self._configs.put(
            name,
            qualifier,
            UpdateRuntimeOn(values["UpdateRuntimeOn"]),
            values.get("RuntimeVersionArn", ""),
        )
        return json_response(self._doc(config, qualifier))
