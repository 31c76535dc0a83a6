"""Routes for versions (PublishVersion, ListVersionsByFunction) and aliases."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ember.api.paging import page
from ember.api.references import References
from ember.api.requests import read_input
from ember.api.shapes import function_configuration, json_response
from ember.control import FunctionConfig, FunctionService
from ember.control.aliases import AliasConfig, AliasService


def alias_configuration(alias: AliasConfig) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "AliasArn": alias.arn,
        "Name": alias.name,
        "FunctionVersion": alias.function_version,
        "Description": alias.description,
        "RevisionId": alias.revision_id,
    }
    if alias.weights:
        doc["RoutingConfig"] = {"AdditionalVersionWeights": dict(alias.weights)}
    return doc


def _listed_version(config: FunctionConfig) -> dict[str, Any]:
    """A version as ListVersionsByFunction shows it: `$LATEST` too with a qualified ARN."""
    doc = function_configuration(config, listed=True)
    doc["FunctionArn"] = config.qualified_arn
    return doc


def _weights(values: dict[str, Any]) -> dict[str, float] | None:
    routing = values.get("RoutingConfig")
    if routing is None:
        return None
    return dict(routing.get("AdditionalVersionWeights") or {})


class VersionRoutes:
    def __init__(
        self, references: References, functions: FunctionService, aliases: AliasService
    ) -> None:
        self._refs = references
        self._functions = functions
        self._aliases = aliases

    def routes(self) -> list[Route]:
        base = "/2015-03-31/functions/{FunctionName}"
        return [
            Route(base + "/versions", self.publish, methods=["POST"]),
            Route(base + "/versions", self.list_versions, methods=["GET"]),
            Route(base + "/aliases", self.create_alias, methods=["POST"]),
            Route(base + "/aliases", self.list_aliases, methods=["GET"]),
            Route(base + "/aliases/{Name}", self.get_alias, methods=["GET"]),
            Route(base + "/aliases/{Name}", self.update_alias, methods=["PUT"]),
            Route(base + "/aliases/{Name}", self.delete_alias, methods=["DELETE"]),
        ]

    async def publish(self, request: Request) -> Response:
        values = await read_input(request, "PublishVersion")
        name, _ = self._refs.parse(values, "PublishVersion")
        version = await self._functions.publish(
            name,
            code_sha256=values.get("CodeSha256"),
            description=values.get("Description"),
            revision_id=values.get("RevisionId"),
        )
        return json_response(function_configuration(version), status=201)

    async def list_versions(self, request: Request) -> Response:
        values = await read_input(request, "ListVersionsByFunction")
        name, _ = self._refs.parse(values, "ListVersionsByFunction")
        chunk, marker = page(self._functions.list_versions(name), values)
        doc: dict[str, Any] = {"Versions": [_listed_version(v) for v in chunk]}
        if marker:
            doc["NextMarker"] = marker
        return json_response(doc)

    async def create_alias(self, request: Request) -> Response:
        values = await read_input(request, "CreateAlias")
        name, _ = self._refs.parse(values, "CreateAlias")
        alias = await self._aliases.create(
            name,
            values["Name"],
            values["FunctionVersion"],
            description=values.get("Description", ""),
            weights=_weights(values),
        )
        return json_response(alias_configuration(alias), status=201)

    async def get_alias(self, request: Request) -> Response:
        values = await read_input(request, "GetAlias")
        name, _ = self._refs.parse(values, "GetAlias")
        return json_response(alias_configuration(self._aliases.get(name, values["Name"])))

    async def update_alias(self, request: Request) -> Response:
        values = await read_input(request, "UpdateAlias")
        name, _ = self._refs.parse(values, "UpdateAlias")
        alias = await self._aliases.update(
            name,
            values["Name"],
            function_version=values.get("FunctionVersion"),
            description=values.get("Description"),
            weights=_weights(values),
            revision_id=values.get("RevisionId"),
        )
        return json_response(alias_configuration(alias))

    async def delete_alias(self, request: Request) -> Response:
        values = await read_input(request, "DeleteAlias")
        name, _ = self._refs.parse(values, "DeleteAlias")
        await self._aliases.delete(name, values["Name"])
        return Response(status_code=204)

    async def list_aliases(self, request: Request) -> Response:
        values = await read_input(request, "ListAliases")
        name, _ = self._refs.parse(values, "ListAliases")
        aliases = self._aliases.list(name, values.get("FunctionVersion"))
        chunk, marker = page(aliases, values)
        doc: dict[str, Any] = {"Aliases": [alias_configuration(a) for a in chunk]}
        if marker:
            doc["NextMarker"] = marker
        return json_response(doc)
