"""Control's snake_case records rendered as Lambda's PascalCase wire documents."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

from ember.control import FunctionConfig, logconfig
from ember.control.model import FunctionState, UpdateStatus


def json_response(doc: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(doc), status_code=status, media_type="application/json")


def function_configuration(config: FunctionConfig, *, listed: bool = False) -> dict[str, Any]:
    """FunctionConfiguration as AWS answers it; `listed` for ListFunctions and
    ListVersionsByFunction, which AWS answers without the state members and
    RuntimeVersionConfig (its docs: use GetFunction for those)."""
    doc: dict[str, Any] = {
        "FunctionName": config.name,
        "FunctionArn": config.wire_arn,
        "Runtime": config.runtime,
        "Role": config.role,
        "Handler": config.handler,
        "CodeSize": config.code_size,
        "Description": config.description,
        "Timeout": config.timeout,
        "MemorySize": config.memory_size,
        "LastModified": config.last_modified,
        "CodeSha256": config.code_sha256,
        "Version": config.version,
        "TracingConfig": {"Mode": config.tracing_mode},
        "RevisionId": config.revision_id,
        "PackageType": config.package_type,
        "Architectures": list(config.architectures),
        "EphemeralStorage": {"Size": config.ephemeral_storage},
        "SnapStart": {
            "ApplyOn": config.snap_start,
            "OptimizationStatus": "On" if config.snap_started else "Off",
        },
        "LoggingConfig": logconfig.shown(config.logging_config, config.name),
    }
    # AWS shows Environment when one was given, `{"Variables": {}}` if it was empty.
    if config.environment or config.environment_given:
        doc["Environment"] = {"Variables": dict(config.environment)}
    if config.layers:
        doc["Layers"] = [
            {"Arn": arn, "CodeSize": size}
            for arn, size in zip(config.layers, config.layer_sizes, strict=True)
        ]
    if config.dead_letter_arn:
        doc["DeadLetterConfig"] = {"TargetArn": config.dead_letter_arn}
    if config.is_image:
        # An image brings its own runtime: AWS shows no Runtime, Handler nor runtime version.
        del doc["Runtime"], doc["Handler"]
        if config.image_config:
            doc["ImageConfigResponse"] = {"ImageConfig": dict(config.image_config)}
    elif not listed:
        doc["RuntimeVersionConfig"] = {"RuntimeVersionArn": _runtime_version_arn(config)}
    if not listed:
        doc.update(_state_members(config))
    return doc


def _state_members(config: FunctionConfig) -> dict[str, str]:
    """State and LastUpdateStatus with their reasons, as AWS shows them: a Pending function
    has no LastUpdateStatus yet (CreateFunction's answer), an update in progress says why."""
    doc = {"State": str(config.state)}
    if config.state_reason:
        doc["StateReason"] = config.state_reason
    if config.state_reason_code:
        doc["StateReasonCode"] = config.state_reason_code
    if config.state is FunctionState.PENDING:
        return doc
    doc["LastUpdateStatus"] = str(config.last_update_status)
    if config.last_update_status_reason:
        doc["LastUpdateStatusReason"] = config.last_update_status_reason
    if config.last_update_status is UpdateStatus.IN_PROGRESS:
        doc["LastUpdateStatusReasonCode"] = "Creating"
    elif config.last_update_status is UpdateStatus.FAILED:
        doc["LastUpdateStatusReasonCode"] = config.failure_code or "InternalError"
    return doc


def _runtime_version_arn(config: FunctionConfig) -> str:
    if config.runtime_version_arn:  # control sets it from the interpreter that runs it
        return config.runtime_version_arn
    region = config.arn.split(":")[3]
    return f"arn:aws:lambda:{region}::runtime:ember-{config.runtime}"
