"""Routes for code-signing configurations (2020-04-22) and functions' use of them
(2020-06-30): parse, call one method of CodeSigningConfigs, render."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ember.api.paging import page
from ember.api.references import References
from ember.api.requests import read_input
from ember.api.shapes import json_response
from ember.control.code_signing import CodeSigningConfig, CodeSigningConfigs, Policy


def code_signing_config(config: CodeSigningConfig) -> dict[str, Any]:
    return {
        "CodeSigningConfigId": config.config_id,
        "CodeSigningConfigArn": config.arn,
        "Description": config.description,
        "AllowedPublishers": {"SigningProfileVersionArns": list(config.profile_arns)},
        "CodeSigningPolicies": {"UntrustedArtifactOnDeployment": str(config.policy)},
        "LastModified": config.last_modified,
    }


def _policy(values: dict[str, Any]) -> Policy | None:
    wire = values.get("CodeSigningPolicies") or {}
    given = wire.get("UntrustedArtifactOnDeployment")
    return Policy(given) if given is not None else None


def _profiles(values: dict[str, Any]) -> list[str] | None:
    publishers = values.get("AllowedPublishers")
    return None if publishers is None else list(publishers["SigningProfileVersionArns"])


class CodeSigningRoutes:
    def __init__(self, references: References, configs: CodeSigningConfigs) -> None:
        self._refs = references
        self._configs = configs

    def routes(self) -> list[Route]:
        base = "/2020-04-22/code-signing-configs"
        one = base + "/{CodeSigningConfigArn}"
        function = "/2020-06-30/functions/{FunctionName}/code-signing-config"
        return [
            Route(base, self.create, methods=["POST"]),
            Route(base + "/", self.create, methods=["POST"]),
            Route(base, self.list, methods=["GET"]),
            Route(base + "/", self.list, methods=["GET"]),
            Route(one, self.get, methods=["GET"]),
            Route(one, self.update, methods=["PUT"]),
            Route(one, self.delete, methods=["DELETE"]),
            Route(one + "/functions", self.list_functions, methods=["GET"]),
            Route(function, self.put_function, methods=["PUT"]),
            Route(function, self.get_function, methods=["GET"]),
            Route(function, self.delete_function, methods=["DELETE"]),
        ]

    async def create(self, request: Request) -> Response:
        values = await read_input(request, "CreateCodeSigningConfig")
        config = await self._configs.create(
            _profiles(values) or [],
            policy=_policy(values) or Policy.WARN,
            description=values.get("Description", ""),
            tags=values.get("Tags"),
        )
        return json_response({"CodeSigningConfig": code_signing_config(config)}, status=201)

    async def get(self, request: Request) -> Response:
        values = await read_input(request, "GetCodeSigningConfig")
        config = self._configs.get(values["CodeSigningConfigArn"])
        return json_response({"CodeSigningConfig": code_signing_config(config)})

    async def update(self, request: Request) -> Response:
        values = await read_input(request, "UpdateCodeSigningConfig")
        config = await self._configs.update(
            values["CodeSigningConfigArn"],
            profile_arns=_profiles(values),
            policy=_policy(values),
            description=values.get("Description"),
        )
        return json_response({"CodeSigningConfig": code_signing_config(config)})

    async def delete(self, request: Request) -> Response:
        values = await read_input(request, "DeleteCodeSigningConfig")
        await self._configs.delete(values["CodeSigningConfigArn"])
        return Response(status_code=204)

    async def list(self, request: Request) -> Response:
        values = await read_input(request, "ListCodeSigningConfigs")
        chunk, marker = page(self._configs.list(), values)
        doc: dict[str, Any] = {"CodeSigningConfigs": [code_signing_config(c) for c in chunk]}
        if marker:
            doc["NextMarker"] = marker
        return json_response(doc)

    async def list_functions(self, request: Request) -> Response:
        values = await read_input(request, "ListFunctionsByCodeSigningConfig")
        arn = values["CodeSigningConfigArn"]
        self._configs.get(arn)
        chunk, marker = page(self._configs.functions_using(arn), values)
        doc: dict[str, Any] = {"FunctionArns": chunk}
        if marker:
            doc["NextMarker"] = marker
        return json_response(doc)

    async def put_function(self, request: Request) -> Response:
        values = await read_input(request, "PutFunctionCodeSigningConfig")
        arn = values["CodeSigningConfigArn"]
        self._configs.require(arn)  # AWS names a missing config before a missing function
        name, _ = self._refs.parse(values, "PutFunctionCodeSigningConfig")
        await self._configs.attach(name, arn)
        return json_response({"CodeSigningConfigArn": arn, "FunctionName": name})

    async def get_function(self, request: Request) -> Response:
        values = await read_input(request, "GetFunctionCodeSigningConfig")
        name, _ = self._refs.parse(values, "GetFunctionCodeSigningConfig")
        arn = self._configs.of_function(name)
        # AWS answers `{}` for a function without one.
        return json_response(
            {} if arn is None else {"CodeSigningConfigArn": arn, "FunctionName": name}
        )

    async def delete_function(self, request: Request) -> Response:
        values = await read_input(request, "DeleteFunctionCodeSigningConfig")
        name, _ = self._refs.parse(values, "DeleteFunctionCodeSigningConfig")
        await self._configs.detach(name)
        return Response(status_code=204)
