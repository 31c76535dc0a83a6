"""Control-plane routes for functions: parse, call one domain method, render."""

from __future__ import annotations

import dataclasses
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ember.api.paging import page
from ember.api.references import References
from ember.api.requests import read_input
from ember.api.shapes import function_configuration, json_response
from ember.blocking import run_blocking
from ember.config import Settings
from ember.control import FunctionConfig, FunctionService
from ember.control.aliases import AliasService
from ember.control.code_signing import CodeSigningConfigs
from ember.control.codezip import MAX_UNZIPPED, MAX_ZIPPED, inspect_zip
from ember.control.concurrency import ConcurrencyService
from ember.control.images import resolved_uri
from ember.control.model import LATEST, FunctionState
from ember.errors import InvalidParameterValueError
from ember.protocols.links import LinkSigner

# Wire member -> control field, for the configuration members Ember stores.
_CONFIG_MEMBERS = {
    "Runtime": "runtime",
    "Handler": "handler",
    "Role": "role",
    "Description": "description",
    "Timeout": "timeout",
    "MemorySize": "memory_size",
}


def _config_fields(values: dict[str, Any]) -> dict[str, Any]:
    fields = {
        field: values[member] for member, field in _CONFIG_MEMBERS.items() if member in values
    }
    if "Environment" in values:
        fields["environment"] = dict(values["Environment"].get("Variables") or {})
        fields["environment_given"] = True
    if "EphemeralStorage" in values:
        fields["ephemeral_storage"] = values["EphemeralStorage"]["Size"]
    if "SnapStart" in values:
        fields["snap_start"] = (values["SnapStart"] or {}).get("ApplyOn") or "None"
    if "TracingConfig" in values and "Mode" in values["TracingConfig"]:
        fields["tracing_mode"] = values["TracingConfig"]["Mode"]
    if "LoggingConfig" in values:
        fields["logging_config"] = dict(values["LoggingConfig"])
    if "DeadLetterConfig" in values:
        fields["dead_letter_arn"] = values["DeadLetterConfig"].get("TargetArn") or ""
    if "Layers" in values:
        fields["layers"] = list(values["Layers"])
    if "ImageConfig" in values:
        # Replaced whole, as AWS does; an empty ImageConfig removes it.
        given = values["ImageConfig"] or {}
        fields["image_config"] = {k: given[k] for k in _IMAGE_CONFIG if k in given} or None
    return fields


_IMAGE_CONFIG = ("EntryPoint", "Command", "WorkingDirectory")
# AWS's answer to Runtime, Handler or Layers given for a container image function.
_NOT_FOR_IMAGES = (
    "Please don't provide Handler or Runtime or Layer when the intended function PackageType "
    "is Image."
)


def _version_to_be(config: FunctionConfig) -> FunctionConfig:
    """The answer to Publish=True, as AWS gives it at once: the next version, Pending (Ember
    publishes it when the function's create or update has settled)."""
    return dataclasses.replace(
        config,
        version=str(config.version_counter + 1),
        state=FunctionState.PENDING,
        state_reason="The function is being created.",
        state_reason_code="Creating",
    )


def _as_asked(config: FunctionConfig, qualifier: str | None) -> dict[str, Any]:
    """The configuration a qualified read answers with: AWS qualifies FunctionArn with the
    qualifier as given (an alias's name, not the version it points to; `$LATEST` too)."""
    doc = function_configuration(config)
    if qualifier is not None:
        doc["FunctionArn"] = f"{config.arn}:{qualifier}"
    return doc


class FunctionRoutes:
    def __init__(
        self,
        settings: Settings,
        functions: FunctionService,
        aliases: AliasService,
        concurrency: ConcurrencyService,
        links: LinkSigner,
        signing: CodeSigningConfigs | None = None,
    ) -> None:
        self._settings = settings
        self._signing = signing  # code-signing configs a deployment must satisfy
        self._links = links  # code locations are signed links, good for 10 minutes
        self._functions = functions
        self._concurrency = concurrency
        self._refs = References(settings, functions, aliases)

    def routes(self) -> list[Route]:
        base = "/2015-03-31/functions"
        return [
            Route(base, self.create, methods=["POST"]),
            Route(base + "/", self.create, methods=["POST"]),
            Route(base, self.list, methods=["GET"]),
            Route(base + "/", self.list, methods=["GET"]),
            Route(base + "/{FunctionName}", self.get, methods=["GET"]),
            Route(base + "/{FunctionName}", self.delete, methods=["DELETE"]),
            Route(base + "/{FunctionName}/configuration", self.get_configuration, methods=["GET"]),
            Route(
                base + "/{FunctionName}/configuration",
                self.update_configuration,
                methods=["PUT"],
            ),
            Route(base + "/{FunctionName}/code", self.update_code, methods=["PUT"]),
            Route("/2016-08-19/account-settings", self.account_settings, methods=["GET"]),
            Route("/2016-08-19/account-settings/", self.account_settings, methods=["GET"]),
        ]

    def _ref(self, values: dict[str, Any], op_name: str) -> tuple[str, str | None]:
        return self._refs.parse(values, op_name)

    def _unqualified(self, values: dict[str, Any], op_name: str) -> str:
        """Name of a function whose $LATEST an update changes: versions are immutable."""
        name, qualifier = self._ref(values, op_name)
        if qualifier is not None and qualifier != LATEST:
            # AWS's answer to an update of a version or an alias (`name:1`, `name:live`).
            raise InvalidParameterValueError(
                "Current operation does not support versions other than $LATEST. Please set "
                "the version to $LATEST or do not set a version in your request."
            )
        return name

    async def create(self, request: Request) -> Response:
        values = await read_input(request, "CreateFunction")
        name, qualifier = self._ref(values, "CreateFunction")
        if qualifier is not None:
            raise InvalidParameterValueError(
                "Unsupported function name format: qualifiers cannot be used when creating "
                "a function"
            )
        code = values["Code"]
        if values.get("PackageType") == "Image":
            return await self._create_image(values, name)
        if "ImageUri" in code and "ZipFile" not in code:
            raise InvalidParameterValueError("Please provide a source for function code.")
        if "ImageConfig" in values:
            raise InvalidParameterValueError(
                "ImageConfig is not supported for functions of PackageType Zip."
            )
        if "ZipFile" not in code:
            raise InvalidParameterValueError(
                "Ember accepts code as Code.ZipFile only (no S3 or container images yet)"
            )
        if values.get("PackageType", "Zip") != "Zip":
            raise InvalidParameterValueError("Ember runs PackageType Zip functions only")
        fields = _config_fields(values)
        if "Architectures" in values:
            fields["architectures"] = tuple(values["Architectures"])
        if "Tags" in values:
            fields["tags"] = dict(values["Tags"])
        publish = bool(values.get("Publish"))
        signing = values.get("CodeSigningConfigArn")
        if self._signing is not None:
            self._signing.check_deployment(signing)
        config = await self._functions.create(
            values["Code"]["ZipFile"], name=name, publish=publish, **fields
        )
        if self._signing is not None and signing is not None:
            await self._signing.attach(name, signing)
        if publish:
            config = _version_to_be(config)
        return json_response(function_configuration(config), status=201)

    async def _create_image(self, values: dict[str, Any], name: str) -> Response:
        """CreateFunction with PackageType Image: Code.ImageUri, no Runtime nor Handler."""
        if any(member in values for member in ("Runtime", "Handler", "Layers")):
            raise InvalidParameterValueError(_NOT_FOR_IMAGES)
        code = values["Code"]
        if "ImageUri" not in code or "ZipFile" in code:
            raise InvalidParameterValueError(
                "Please provide ImageUri when creating a function with packageType Image."
            )
        fields = _config_fields(values)
        image_config = fields.pop("image_config", None)
        if "Architectures" in values:
            fields["architectures"] = tuple(values["Architectures"])
        if "Tags" in values:
            fields["tags"] = dict(values["Tags"])
        publish = bool(values.get("Publish"))
        config = await self._functions.create_image(
            code["ImageUri"], name=name, image_config=image_config, publish=publish, **fields
        )
        if publish:
            config = _version_to_be(config)
        return json_response(function_configuration(config), status=201)

    async def list(self, request: Request) -> Response:
        values = await read_input(request, "ListFunctions")
        configs = self._functions.list()
        every = values.get("FunctionVersion") == "ALL"
        if every:
            configs = [v for c in configs for v in self._functions.list_versions(c.name)]
        chunk, marker = page(configs, values)
        doc: dict[str, Any] = {"Functions": [function_configuration(c, listed=True) for c in chunk]}
        if every:
            # With every version listed, AWS qualifies $LATEST's ARN too.
            for listed, config in zip(doc["Functions"], chunk, strict=True):
                listed["FunctionArn"] = config.qualified_arn
        if marker:
            doc["NextMarker"] = marker
        return json_response(doc)

    async def get(self, request: Request) -> Response:
        values = await read_input(request, "GetFunction")
        name, qualifier = self._ref(values, "GetFunction")
        config = self._refs.version(name, qualifier)
        doc: dict[str, Any] = {
            "Configuration": _as_asked(config, qualifier),
            "Code": {
                "RepositoryType": "S3",
                "Location": self._settings.public_url
                + self._links.sign(f"/_ember/code/{config.code_digest}"),
            },
        }
        if config.is_image:
            doc["Code"] = {
                "RepositoryType": "ECR",
                "ImageUri": config.image_uri,
                "ResolvedImageUri": resolved_uri(config.image_uri, config.code_digest),
            }
        if config.tags:
            doc["Tags"] = dict(config.tags)
        reserved = self._concurrency.get_reserved(name)
        if reserved is not None:
            doc["Concurrency"] = {"ReservedConcurrentExecutions": reserved}
        return json_response(doc)

    async def get_configuration(self, request: Request) -> Response:
        values = await read_input(request, "GetFunctionConfiguration")
        name, qualifier = self._ref(values, "GetFunctionConfiguration")
        return json_response(_as_asked(self._refs.version(name, qualifier), qualifier))

    async def update_configuration(self, request: Request) -> Response:
        values = await read_input(request, "UpdateFunctionConfiguration")
        name = self._unqualified(values, "UpdateFunctionConfiguration")
        if self._functions.get(name).is_image:
            if any(member in values for member in ("Runtime", "Handler", "Layers")):
                raise InvalidParameterValueError(_NOT_FOR_IMAGES)
        elif "ImageConfig" in values:
            raise InvalidParameterValueError(
                "ImageConfig is not supported for functions of PackageType Zip."
            )
        config = await self._functions.update_configuration(
            name, revision_id=values.get("RevisionId"), **_config_fields(values)
        )
        return json_response(function_configuration(config))

    async def update_code(self, request: Request) -> Response:
        values = await read_input(request, "UpdateFunctionCode")
        name = self._unqualified(values, "UpdateFunctionCode")
        if self._functions.get(name).is_image:
            return await self._update_image(values, name)
        if "ImageUri" in values:
            raise InvalidParameterValueError(
                "Please don't provide ImageUri when updating a function with packageType Zip."
            )
        if "ZipFile" not in values:
            raise InvalidParameterValueError(
                "Ember accepts code as ZipFile only (no S3 or container images yet)"
            )
        if self._signing is not None:
            self._signing.check_deployment(self._signing.of_function(name))
        if values.get("DryRun"):
            # Validate everything an update would, change nothing.
            self._functions.get(name)
            await run_blocking(inspect_zip, values["ZipFile"])
            return json_response(function_configuration(self._functions.get(name)))
        publish = bool(values.get("Publish"))
        config = await self._functions.update_code(
            name, values["ZipFile"], revision_id=values.get("RevisionId"), publish=publish
        )
        if publish:
            config = _version_to_be(config)
        return json_response(function_configuration(config))

    async def _update_image(self, values: dict[str, Any], name: str) -> Response:
        if "ImageUri" not in values:
            raise InvalidParameterValueError(
                "Please provide ImageUri when updating a function with packageType Image."
            )
        if values.get("DryRun"):
            return json_response(function_configuration(self._functions.get(name)))
        publish = bool(values.get("Publish"))
        config = await self._functions.update_image(
            name, values["ImageUri"], revision_id=values.get("RevisionId"), publish=publish
        )
        if publish:
            config = _version_to_be(config)
        return json_response(function_configuration(config))

    async def delete(self, request: Request) -> Response:
        values = await read_input(request, "DeleteFunction")
        name, qualifier = self._ref(values, "DeleteFunction")
        await self._functions.delete(name, qualifier)
        return Response(status_code=204)

    async def account_settings(self, request: Request) -> Response:
        await read_input(request, "GetAccountSettings")
        configs = self._functions.list()
        return json_response(
            {
                "AccountLimit": {
                    "TotalCodeSize": 80_530_636_800,
                    "CodeSizeUnzipped": MAX_UNZIPPED,
                    "CodeSizeZipped": MAX_ZIPPED,
                    "ConcurrentExecutions": self._concurrency.limit,
                    "UnreservedConcurrentExecutions": self._concurrency.unreserved(),
                },
                "AccountUsage": {
                    "TotalCodeSize": self._functions.total_code_size(),
                    "FunctionCount": len(configs),
                },
            }
        )
