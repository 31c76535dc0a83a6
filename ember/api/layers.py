"""Routes for layers (Lambda API 2018-10-31): parse, call one LayerService method, render."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ember.api.paging import page
from ember.api.requests import read_input
from ember.api.shapes import json_response
from ember.config import Settings
from ember.control.layers import LayerService, LayerVersion
from ember.errors import InvalidParameterValueError
from ember.protocols.links import LinkSigner

BASE = "/2018-10-31/layers"


def _list_item(layer: LayerVersion) -> dict[str, Any]:
    """LayerVersionsListItem: what List* show of a version."""
    doc: dict[str, Any] = {
        "LayerVersionArn": layer.arn,
        "Version": layer.version,
        "Description": layer.description,
        "CreatedDate": layer.created,
    }
    if layer.compatible_runtimes or layer.runtimes_given:
        doc["CompatibleRuntimes"] = list(layer.compatible_runtimes)
    if layer.license_info is not None:
        doc["LicenseInfo"] = layer.license_info
    if layer.compatible_architectures or layer.architectures_given:
        doc["CompatibleArchitectures"] = list(layer.compatible_architectures)
    return doc


class LayerRoutes:
    def __init__(self, settings: Settings, layers: LayerService, links: LinkSigner) -> None:
        self._settings = settings
        self._links = links  # content locations are signed links, good for 10 minutes
        self._layers = layers

    def routes(self) -> list[Route]:
        versions = BASE + "/{LayerName}/versions"
        version = versions + "/{VersionNumber}"
        return [
            Route(BASE, self.list_or_find, methods=["GET"]),
            Route(versions, self.publish, methods=["POST"]),
            Route(versions, self.list_versions, methods=["GET"]),
            Route(version, self.get_version, methods=["GET"]),
            Route(version, self.delete_version, methods=["DELETE"]),
            Route(version + "/policy", self.add_permission, methods=["POST"]),
            Route(version + "/policy", self.get_policy, methods=["GET"]),
            Route(version + "/policy/{StatementId}", self.remove_permission, methods=["DELETE"]),
        ]

    def _version(self, layer: LayerVersion) -> dict[str, Any]:
        """GetLayerVersionResponse (and PublishLayerVersion's)."""
        doc: dict[str, Any] = {
            "Content": {
                "Location": self._settings.public_url
                + self._links.sign(f"/_ember/layer-code/{layer.code_digest}"),
                "CodeSha256": layer.code_sha256,
                "CodeSize": layer.code_size,
            },
            "LayerArn": layer.layer_arn,
            **_list_item(layer),
        }
        return doc

    async def publish(self, request: Request) -> Response:
        values = await read_input(request, "PublishLayerVersion")
        content = values["Content"]
        if "ZipFile" not in content:
            raise InvalidParameterValueError(
                "Ember accepts layer content as Content.ZipFile only (no S3 locations yet)"
            )
        layer = await self._layers.publish(
            values["LayerName"],
            content["ZipFile"],
            description=values.get("Description", ""),
            license_info=values.get("LicenseInfo"),
            compatible_runtimes=values.get("CompatibleRuntimes"),
            compatible_architectures=values.get("CompatibleArchitectures"),
        )
        return json_response(self._version(layer), status=201)

    async def get_version(self, request: Request) -> Response:
        values = await read_input(request, "GetLayerVersion")
        return json_response(
            self._version(self._layers.get(values["LayerName"], values["VersionNumber"]))
        )

    async def list_or_find(self, request: Request) -> Response:
        # GetLayerVersionByArn and ListLayers share the path; `find` tells them apart.
        if request.query_params.get("find") == "LayerVersion":
            values = await read_input(request, "GetLayerVersionByArn")
            return json_response(self._version(self._layers.get_by_arn(values["Arn"])))
        values = await read_input(request, "ListLayers")
        latest = self._layers.layers(
            values.get("CompatibleRuntime"), values.get("CompatibleArchitecture")
        )
        chunk, marker = page(latest, values)
        doc: dict[str, Any] = {
            "Layers": [
                {
                    "LayerName": layer.name,
                    "LayerArn": layer.layer_arn,
                    "LatestMatchingVersion": _list_item(layer),
                }
                for layer in chunk
            ]
        }
        if marker is not None:
            doc["NextMarker"] = marker
        return json_response(doc)

    async def list_versions(self, request: Request) -> Response:
        values = await read_input(request, "ListLayerVersions")
        found = self._layers.versions(
            values["LayerName"],
            values.get("CompatibleRuntime"),
            values.get("CompatibleArchitecture"),
        )
        chunk, marker = page(found, values)
        doc: dict[str, Any] = {"LayerVersions": [_list_item(v) for v in chunk]}
        if marker is not None:
            doc["NextMarker"] = marker
        return json_response(doc)

    async def delete_version(self, request: Request) -> Response:
        values = await read_input(request, "DeleteLayerVersion")
        await self._layers.delete(values["LayerName"], values["VersionNumber"])
        return Response(status_code=204)

    async def add_permission(self, request: Request) -> Response:
        values = await read_input(request, "AddLayerVersionPermission")
        statement, revision = await self._layers.add_permission(
            values["LayerName"],
            values["VersionNumber"],
            statement_id=values["StatementId"],
            action=values["Action"],
            principal=values["Principal"],
            organization_id=values.get("OrganizationId"),
            revision_id=values.get("RevisionId"),
        )
        return json_response(
            {"Statement": json.dumps(statement, separators=(",", ":")), "RevisionId": revision},
            status=201,
        )

    async def get_policy(self, request: Request) -> Response:
        values = await read_input(request, "GetLayerVersionPolicy")
        policy, revision = self._layers.policy(values["LayerName"], values["VersionNumber"])
        return json_response({"Policy": policy, "RevisionId": revision})

    async def remove_permission(self, request: Request) -> Response:
        values = await read_input(request, "RemoveLayerVersionPermission")
        await self._layers.remove_permission(
            values["LayerName"],
            values["VersionNumber"],
            values["StatementId"],
            revision_id=values.get("RevisionId"),
        )
        return Response(status_code=204)
