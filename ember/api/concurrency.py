"""Routes for reserved and provisioned concurrency."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ember.api.paging import page
from ember.api.references import References
from ember.api.requests import read_input
from ember.api.shapes import json_response
from ember.control import FunctionService
from ember.control.concurrency import ConcurrencyService, ProvisionedConfig


def provisioned_doc(config: ProvisionedConfig) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "RequestedProvisionedConcurrentExecutions": config.requested,
        "AvailableProvisionedConcurrentExecutions": config.available,
        "AllocatedProvisionedConcurrentExecutions": config.allocated,
        "Status": config.status,
        "LastModified": config.last_modified,
    }
    if config.reason:
        doc["StatusReason"] = config.reason
    return doc


class ConcurrencyRoutes:
    def __init__(
        self, references: References, functions: FunctionService, concurrency: ConcurrencyService
    ) -> None:
        self._refs = references
        self._functions = functions
        self._concurrency = concurrency

    def routes(self) -> list[Route]:
        reserved = "/{date}/functions/{FunctionName}/concurrency"
        provisioned = "/2019-09-30/functions/{FunctionName}/provisioned-concurrency"
        return [
            Route(reserved, self.put_reserved, methods=["PUT"]),
            Route(reserved, self.get_reserved, methods=["GET"]),
            Route(reserved, self.delete_reserved, methods=["DELETE"]),
            Route(provisioned, self.put_provisioned, methods=["PUT"]),
            Route(provisioned, self.get_provisioned, methods=["GET"]),
            Route(provisioned, self.delete_provisioned, methods=["DELETE"]),
        ]

    async def put_reserved(self, request: Request) -> Response:
        values = await read_input(request, "PutFunctionConcurrency")
        name, qualifier = self._refs.parse(values, "PutFunctionConcurrency")
        value = await self._concurrency.put_reserved(
            name, values["ReservedConcurrentExecutions"], qualifier
        )
        return json_response({"ReservedConcurrentExecutions": value})

    async def get_reserved(self, request: Request) -> Response:
        values = await read_input(request, "GetFunctionConcurrency")
        name, qualifier = self._refs.parse(values, "GetFunctionConcurrency")
        value = self._concurrency.get_reserved(name, qualifier)
        return json_response({} if value is None else {"ReservedConcurrentExecutions": value})

    async def delete_reserved(self, request: Request) -> Response:
        values = await read_input(request, "DeleteFunctionConcurrency")
        name, qualifier = self._refs.parse(values, "DeleteFunctionConcurrency")
        await self._concurrency.delete_reserved(name, qualifier)
        return Response(status_code=204)

    async def put_provisioned(self, request: Request) -> Response:
        values = await read_input(request, "PutProvisionedConcurrencyConfig")
        name, qualifier = self._refs.parse(values, "PutProvisionedConcurrencyConfig")
        config = await self._concurrency.put_provisioned(
            name, qualifier or "", values["ProvisionedConcurrentExecutions"]
        )
        return json_response(provisioned_doc(config), status=202)

    async def get_provisioned(self, request: Request) -> Response:
        if request.query_params.get("List") == "ALL":
            return await self._list_provisioned(request)
        values = await read_input(request, "GetProvisionedConcurrencyConfig")
        name, qualifier = self._refs.parse(values, "GetProvisionedConcurrencyConfig")
        return json_response(
            provisioned_doc(self._concurrency.get_provisioned(name, qualifier or ""))
        )

    async def _list_provisioned(self, request: Request) -> Response:
        values = await read_input(request, "ListProvisionedConcurrencyConfigs")
        name, _ = self._refs.parse(values, "ListProvisionedConcurrencyConfigs")
        chunk, marker = page(self._concurrency.list_provisioned(name), values)
        arn = self._functions.arn(name)
        doc: dict[str, Any] = {
            "ProvisionedConcurrencyConfigs": [
                {"FunctionArn": f"{arn}:{c.qualifier}", **provisioned_doc(c)} for c in chunk
            ]
        }
        if marker:
            doc["NextMarker"] = marker
        return json_response(doc)

    async def delete_provisioned(self, request: Request) -> Response:
        values = await read_input(request, "DeleteProvisionedConcurrencyConfig")
        name, qualifier = self._refs.parse(values, "DeleteProvisionedConcurrencyConfig")
        await self._concurrency.delete_provisioned(name, qualifier or "")
        return Response(status_code=204)
