"""Control's snake_case records rendered as Lambda's PascalCase wire documents."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

from ember.control import FunctionConfig


def json_response(doc: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(doc), status_code=status, media_type="application/json")


def function_configuration(config: FunctionConfig) -> dict[str, Any]:
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
        "State": str(config.state),
        "LastUpdateStatus": str(config.last_update_status),
        "PackageType": "Zip",
        "Architectures": list(config.architectures),
        "EphemeralStorage": {"Size": config.ephemeral_storage},
        "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"},
        "RuntimeVersionConfig": {"RuntimeVersionArn": _runtime_version_arn(config)},
        "LoggingConfig": {"LogFormat": "Text", "LogGroup": config.log_group},
    }
    if config.environment:
        doc["Environment"] = {"Variables": dict(config.environment)}
    if config.layers:
        doc["Layers"] = [
            {"Arn": arn, "CodeSize": size}
            for arn, size in zip(config.layers, config.layer_sizes, strict=True)
        ]
    if config.state_reason:
        doc["StateReason"] = config.state_reason
    if config.state_reason_code:
        doc["StateReasonCode"] = config.state_reason_code
    if config.last_update_status_reason:
        doc["LastUpdateStatusReason"] = config.last_update_status_reason
    if config.dead_letter_arn:
        doc["DeadLetterConfig"] = {"TargetArn": config.dead_letter_arn}
    return doc


def _runtime_version_arn(config: FunctionConfig) -> str:
    region = config.arn.split(":")[3]
    return f"arn:aws:lambda:{region}::runtime:ember-{config.runtime}"
