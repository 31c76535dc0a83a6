"""Lambda's rules for a function's configuration, beyond what the API model checks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from ember.control import snapstart
from ember.control.model import FunctionConfig, UpdateStatus
from ember.control.names import validation_message
from ember.errors import (
    InvalidParameterValueError,
    PreconditionFailedError,
    ResourceConflictError,
    ValidationError,
)
from ember.runtimes import RuntimeCatalog

# The runtimes AWS accepts for new functions today, in the order its error quotes them.
AWS_RUNTIMES = (
    "nodejs20.x, python3.14, provided.al2023, python3.12, python3.13, nodejs24.x, nodejs22.x, "
    "java25, python3.10, python3.11, java21, ruby3.3, ruby3.4, ruby3.2, python3.8, python3.9, "
    "java17, nodejs16.x, dotnet10, dotnet8, java11, dotnet6, nodejs18.x, provided.al2, java8.al2"
)
_AWS_RUNTIME_SET = frozenset(AWS_RUNTIMES.split(", "))
# Values in the API model that AWS now refuses for create/update.
DEPRECATED_RUNTIMES = frozenset(
    {
        "nodejs", "nodejs4.3", "nodejs6.10", "nodejs8.10", "nodejs10.x", "nodejs12.x",
        "nodejs14.x", "java8", "python2.7", "python3.6", "python3.7", "dotnetcore1.0",
        "dotnetcore2.0", "dotnetcore2.1", "dotnetcore3.1", "nodejs4.3-edge", "go1.x",
        "ruby2.5", "ruby2.7", "provided",
    }
)  # fmt: skip

# Lambda sets these itself; a function may not (AWS's "reserved keys").
RESERVED_ENV = frozenset(
    {
        "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION",
        "AWS_EXECUTION_ENV", "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
        "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
    }
)  # fmt: skip
ENV_LIMIT = 4096
TAG_LIMIT = 50  # Lambda: at most 50 tags on one function
# Fields UpdateFunctionConfiguration may change (snake_case, as `api` hands them over).
CONFIG_FIELDS = frozenset(
    {
        "runtime", "handler", "role", "description", "timeout", "memory_size",
        "environment", "environment_given", "ephemeral_storage", "tracing_mode",
        "dead_letter_arn", "layers", "image_config", "logging_config", "snap_start",
    }
)  # fmt: skip
# Lambda's own ranges, tighter than the API model's.
MEMORY_RANGE = (128, 10240)
TIMEOUT_RANGE = (1, 900)
REVISION_MISMATCH = (
    "The Revision Id provided does not match the latest Revision Id. "
    "Call the GetFunction/GetAlias API to retrieve the latest Revision Id"
)


def check_config(fields: Mapping[str, Any], catalog: RuntimeCatalog, *, creating: bool) -> None:
    """A function's configuration (a create's fields, or an update merged over the old)."""
    runtime = fields.get("runtime")
    handler = fields.get("handler")
    if creating and (not runtime or not handler):
        raise InvalidParameterValueError(
            "Runtime and Handler are mandatory parameters for functions created with "
            "deployment packages."
        )
    if runtime is not None:
        check_runtime(runtime, catalog)
    if "memory_size" in fields:
        check_range(fields["memory_size"], "memorySize", *MEMORY_RANGE)
    if "timeout" in fields:
        check_range(fields["timeout"], "timeout", *TIMEOUT_RANGE)
    if "environment" in fields:
        check_environment(fields["environment"])
    snapstart.check(fields)


def check_revision(config: FunctionConfig, revision_id: str | None) -> None:
    """A write that names a RevisionId applies only to that revision."""
    if revision_id is not None and revision_id != config.revision_id:
        raise PreconditionFailedError(REVISION_MISMATCH)


def check_not_updating(config: FunctionConfig) -> None:
    if config.last_update_status is UpdateStatus.IN_PROGRESS:
        raise ResourceConflictError(
            "The operation cannot be performed at this time. An update is in progress "
            f"for resource: {config.arn}"
        )


def check_runtime(runtime: str, catalog: RuntimeCatalog) -> None:
    if runtime in DEPRECATED_RUNTIMES:
        raise InvalidParameterValueError(
            f"The runtime parameter of {runtime} is no longer supported for creating or "
            "updating AWS Lambda functions. We recommend you use a supported runtime while "
            "creating or updating functions."
        )
    if runtime not in _AWS_RUNTIME_SET:
        raise InvalidParameterValueError(
            f"Value {runtime} at 'runtime' failed to satisfy constraint: Member must satisfy "
            f"enum value set: [{AWS_RUNTIMES}] or be a valid ARN"
        )
    if catalog.get(runtime) is None and runtime.startswith("nodejs"):
        nodes = ", ".join(f"node {v} ({p})" for v, p in sorted(catalog.nodes().items()))
        wanted = runtime.removeprefix("nodejs").removesuffix(".x")
        raise InvalidParameterValueError(
            f"Runtime {runtime} is not available on this Ember server. It runs: "
            f"{', '.join(catalog.names())}. Node.js found: {nodes or 'none'}. "
            f"Install Node.js {wanted} (or pass `ember serve --node {wanted}=PATH`) to use it."
        )
    if catalog.get(runtime) is None and runtime.startswith("java"):
        raise InvalidParameterValueError(catalog.java_unavailable(runtime))
    if catalog.get(runtime) is None and not runtime.startswith("python"):
        raise InvalidParameterValueError(
            f"Runtime {runtime} is not available on this Ember server. It runs: "
            f"{', '.join(catalog.names())}. Ember has no runtime for {runtime}: package the "
            "function for provided.al2023 with its own runtime client, or as a container image."
        )
    if catalog.get(runtime) is None:
        have = ", ".join(f"python{v} ({p})" for v, p in sorted(catalog.interpreters().items()))
        raise InvalidParameterValueError(
            f"Runtime {runtime} is not available on this Ember server. It runs: "
            f"{', '.join(catalog.names())}. Interpreters found: {have or 'none'}. "
            "Install the interpreter (or pass `ember serve --python VERSION=PATH`) to use it."
        )


def check_range(value: int, field: str, low: int, high: int) -> None:
    if value < low:
        raise ValidationError(
            validation_message(
                str(value), field, f"Member must have value greater than or equal to {low}"
            )
        )
    if value > high:
        raise ValidationError(
            validation_message(
                str(value), field, f"Member must have value less than or equal to {high}"
            )
        )


def check_environment(variables: Mapping[str, str]) -> None:
    reserved = [k for k in variables if k in RESERVED_ENV]
    if reserved:
        raise InvalidParameterValueError(
            "Lambda was unable to configure your environment variables because the environment "
            "variables you have provided contains reserved keys that are currently not "
            f"supported for modification. Reserved keys used in this request: {','.join(reserved)}"
        )
    measured = orjson.dumps(dict(variables)).decode()
    if len(measured.encode()) > ENV_LIMIT:
        raise InvalidParameterValueError(
            "Lambda was unable to configure your environment variables because the environment "
            "variables you have provided exceeded the 4KB limit. String measured: " + measured
        )


def check_tags(tags: Mapping[str, str]) -> None:
    if len(tags) > TAG_LIMIT:
        raise InvalidParameterValueError("Number of tags exceeds resource tag limit.")
    check_reserved_tag_keys(tags)


def check_reserved_tag_keys(tags: Mapping[str, str]) -> None:
    """Keys starting with `aws:` (any case) are AWS's own (CloudFormation's, …)."""
    reserved = sorted(k for k in tags if k.lower().startswith("aws:"))
    if reserved:
        raise InvalidParameterValueError(
            f"Tag keys starting with 'aws:' are reserved for AWS use: {', '.join(reserved)}"
        )
