"""Parse an operation's input from URI, query, headers and JSON body, and check it against
the botocore model, with AWS's "N validation errors detected" wording."""

from __future__ import annotations

import base64
import binascii
import functools
import re
from collections.abc import Mapping
from typing import Any

from ember.api.model import operation, shape
from ember.control.rules import AWS_RUNTIMES
from ember.errors import InvalidRequestContentError, ValidationError

# Members whose value sets AWS checks with another error than the model's (control
# raises those).
_SKIP = {
    ("CreateFunctionRequest", "Runtime"),
    ("UpdateFunctionConfigurationRequest", "Runtime"),
    # AWS quotes the positions in its own order (ember.control.mappings checks them).
    ("CreateEventSourceMappingRequest", "StartingPosition"),
}
# Members whose model bounds are wider than Lambda enforces: Lambda's own, reported with the
# request's other violations in the one ValidationException (control.functions has the same).
_DOMAIN_RANGES = {"MemorySize": (128, 10240), "Timeout": (1, 900)}
# Maps whose keys and values control checks with AWS's map-level wording ("Map keys must
# satisfy constraint: [...]", the whole map quoted): ember.control.aliases.check_weights.
_CONTROL_CHECKED_MAPS = frozenset({"AdditionalVersionWeights"})
# AWS checks function names in the path with its own rules (ember.control.names).
_PATH_NAMES = {"FunctionName"}
# List shapes whose item constraints AWS quotes without "Member must not be null" (its
# answers for VpcConfig in shared/conformance; Architectures and Layers do carry it).
_NULLABLE_ITEMS = frozenset({"SubnetIds", "SecurityGroupIds"})
# Members AWS checks against its own runtime list, quoting it (its order) instead of the
# model's enum: PublishLayerVersion takes today's runtimes; List* filters take this set.
_LIST_LAYERS_RUNTIMES = (
    "ruby3.5, ruby2.6, dotnetcore1.0, python3.7, nodejs8.10, nasa, ruby2.7, "
    "python2.7-greengrass, dotnetcore2.0, python3.8, java21, dotnet6, dotnetcore2.1, "
    "python3.9, java11, nodejs6.10, provided, dotnetcore3.1, dotnet8, java25, java17, nodejs, "
    "nodejs4.3, java8.al2, go1.x, dotnet10, nodejs20.x, go1.9, byol, nodejs10.x, "
    "provided.al2023, nodejs22.x, python3.10, java8, nodejs12.x, python3.11, nodejs24.x, "
    "nodejs8.x, python3.12, nodejs14.x, nodejs8.9, nodejs26.x, python3.13, python3.14, "
    "nodejs16.x, python3.15, provided.al2, nodejs4.3-edge, nodejs18.x, ruby3.2, python3.4, "
    "ruby3.3, ruby3.4, ruby2.5, python3.6, python2.7"
)
_AWS_ENUMS = {
    ("PublishLayerVersionRequest", "CompatibleRuntimes"): AWS_RUNTIMES,
    ("ListLayersRequest", "CompatibleRuntime"): _LIST_LAYERS_RUNTIMES,
    ("ListLayerVersionsRequest", "CompatibleRuntime"): _LIST_LAYERS_RUNTIMES,
    # AWS quotes InvokeMode's values in its own order (its recorded answer).
    ("CreateFunctionUrlConfigRequest", "InvokeMode"): "RESPONSE_STREAM, BUFFERED",
    ("UpdateFunctionUrlConfigRequest", "InvokeMode"): "RESPONSE_STREAM, BUFFERED",
}
# Model patterns that AWS's messages quote without their outer parentheses.
_UNWRAPPED_PATTERNS = ("LayerVersionArn",)


@functools.cache
def _pattern_text(pattern: str) -> str:
    """A pattern as AWS quotes it in a validation message."""
    for name in _UNWRAPPED_PATTERNS:
        if pattern == shape(name)["pattern"] and pattern.startswith("(") and pattern.endswith(")"):
            return pattern[1:-1]
    return pattern


# Java's Unicode classes, which some model patterns use (TagKey, TagValue) and Python's `re`
# lacks: \p{L} and \p{N} lie within \w, \p{Z} within \s (each a little wider).
_JAVA_CLASSES = {r"\p{L}": r"\w", r"\p{N}": r"\w", r"\p{Z}": r"\s"}


@functools.cache
def _compiled(pattern: str) -> re.Pattern[str] | None:
    """A model pattern as a Python regex; None if it uses a construct Python lacks (such a
    value goes unchecked rather than failing the request)."""
    translated = pattern
    for java, python in _JAVA_CLASSES.items():
        translated = translated.replace(java, python)
    try:
        return re.compile(translated)
    except re.error:
        return None


def _camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def _render(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_render(v) for v in value) + "]"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def parse_input(
    op_name: str,
    path: Mapping[str, str],
    query: Mapping[str, str],
    headers: Mapping[str, str],
    body: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The operation's input members by their model names, converted to model types."""
    op = operation(op_name)
    input_shape = shape(op["input"]["shape"])
    values: dict[str, Any] = {}
    for member, ref in input_shape["members"].items():
        location = ref.get("location")
        wire = ref.get("locationName", member)
        member_shape = shape(ref["shape"])
        if location == "uri":
            raw: Any = path.get(wire)
        elif location == "querystring":
            raw = query.get(wire)
        elif location == "header":
            raw = headers.get(wire.lower())
        else:
            if body is None or member not in body:
                continue
            values[member] = _decode_blobs(body[member], ref["shape"], member)
            continue
        if raw is None:
            continue
        values[member] = _from_text(raw, member_shape["type"], member)
    return values


def _decode_blobs(raw: Any, shape_name: str, member: str) -> Any:
    """`raw` with every blob member decoded from base64, at any depth (Code.ZipFile sits
    inside a structure); values of the wrong JSON type are left for `validate` to report."""
    spec = shape(shape_name)
    kind = spec["type"]
    if kind == "blob" and isinstance(raw, str):
        try:
            return base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidRequestContentError(
                f"Could not parse request body into json: {member} is not valid base64"
            ) from None
    if kind == "structure" and isinstance(raw, Mapping):
        members = spec["members"]
        return {
            key: _decode_blobs(value, members[key]["shape"], key) if key in members else value
            for key, value in raw.items()
        }
    return raw


def _from_text(raw: str, kind: str, member: str) -> Any:
    if kind in ("integer", "long"):
        try:
            return int(raw)
        except ValueError:
            raise ValidationError(
                "1 validation error detected: "
                + _msg(raw, _camel(member), "Member must be a number")
            ) from None
    if kind == "boolean":
        return raw.lower() == "true"
    return raw


def validate(op_name: str, values: Mapping[str, Any]) -> None:
    """Raise one ValidationError listing every constraint the input breaks."""
    op = operation(op_name)
    shape_name = op["input"]["shape"]
    errors: list[str] = []
    _check_structure(shape_name, values, "", errors, top=True)
    if errors:
        count = len(errors)
        noun = "error" if count == 1 else "errors"
        raise ValidationError(f"{count} validation {noun} detected: " + "; ".join(errors))


@functools.cache
def _accepted_runtimes(owner: str, member: str, aws_enum: str) -> frozenset[str]:
    """What AWS accepts where it quotes its own runtime list: that list and the model's
    whole enum (deprecated runtimes still publish layers: its recorded answers)."""
    spec = shape(shape(owner)["members"][member]["shape"])
    if spec["type"] == "list":
        spec = shape(spec["member"]["shape"])
    return frozenset(aws_enum.split(", ")) | frozenset(spec.get("enum", ()))


def _check_structure(
    shape_name: str, values: Any, prefix: str, errors: list[str], *, top: bool = False
) -> None:
    struct = shape(shape_name)
    if not isinstance(values, Mapping):
        errors.append(_msg(values, prefix.rstrip("."), "Member must be a structure"))
        return
    for member in struct.get("required", []):
        if values.get(member) is None:
            errors.append(_msg(None, prefix + _camel(member), "Member must not be null"))
    # AWS lists failures of its own runtime lists before the model's.
    for (owner, member), aws_enum in _AWS_ENUMS.items():
        value = values.get(member) if owner == shape_name else None
        given = value if isinstance(value, list) else [value]
        accepted = _accepted_runtimes(owner, member, aws_enum)
        if value is not None and any(item not in accepted for item in given):
            errors.append(
                _msg(
                    value,
                    prefix + _camel(member),
                    f"Member must satisfy enum value set: [{aws_enum}]",
                )
            )
    for member, ref in struct["members"].items():
        if member not in values or values[member] is None:
            continue
        if (shape_name, member) in _SKIP or (top and member in _PATH_NAMES):
            continue
        if (shape_name, member) in _AWS_ENUMS:
            continue
        _check_value(ref["shape"], values[member], prefix + _camel(member), errors, member)


def _check_value(shape_name: str, value: Any, path: str, errors: list[str], member: str) -> None:
    spec = shape(shape_name)
    kind = spec["type"]
    if kind == "structure":
        _check_structure(shape_name, value, path + ".", errors)
        return
    if kind == "list":
        if not isinstance(value, list):
            errors.append(_msg(value, path, "Member must be a list"))
            return
        _check_length(spec, value, path, errors)
        item_shape = spec["member"]["shape"]
        inner: list[str] = []
        for item in value:
            _check_value(item_shape, item, path, inner, member)
        if inner:
            # AWS folds item failures into one line naming every constraint on an item.
            not_null = shape_name not in _NULLABLE_ITEMS
            reasons = ", ".join(_item_constraints(shape(item_shape), not_null=not_null))
            errors.append(_msg(value, path, f"Member must satisfy constraint: [{reasons}]"))
        return
    if kind == "map":
        if not isinstance(value, Mapping):
            errors.append(_msg(value, path, "Member must be a map"))
            return
        if shape_name in _CONTROL_CHECKED_MAPS:
            return
        key_shape = spec["key"]["shape"]
        for key, item in value.items():
            _check_value(key_shape, key, path, errors, member)
            _check_value(spec["value"]["shape"], item, path, errors, member)
        return
    if kind == "string":
        if not isinstance(value, str):
            errors.append(_msg(value, path, "Member must be a string"))
            return
        if "enum" in spec and value not in spec["enum"]:
            allowed = ", ".join(spec["enum"])
            errors.append(_msg(value, path, f"Member must satisfy enum value set: [{allowed}]"))
            return
        _check_length(spec, value, path, errors)
        pattern = spec.get("pattern")
        compiled = _compiled(pattern) if pattern else None
        if compiled is not None and compiled.fullmatch(value) is None:
            errors.append(
                _msg(
                    value,
                    path,
                    "Member must satisfy regular expression pattern: " + _pattern_text(pattern),
                )
            )
        return
    if kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            errors.append(_msg(value, path, f"Member must be of type {kind}"))
            return
        low, high = _DOMAIN_RANGES.get(member, (spec.get("min"), spec.get("max")))
        if low is not None and value < low:
            errors.append(
                _msg(value, path, f"Member must have value greater than or equal to {low}")
            )
        if high is not None and value > high:
            errors.append(_msg(value, path, f"Member must have value less than or equal to {high}"))
        return
    if kind == "boolean" and not isinstance(value, bool):
        errors.append(_msg(value, path, "Member must be of type boolean"))
    if kind == "blob" and not isinstance(value, bytes | str):
        errors.append(_msg(value, path, "Member must be a blob"))


def _check_length(
    spec: Mapping[str, Any], value: str | list[Any], path: str, errors: list[str]
) -> None:
    if "min" in spec and len(value) < spec["min"]:
        errors.append(
            _msg(value, path, f"Member must have length greater than or equal to {spec['min']}")
        )
    if "max" in spec and len(value) > spec["max"]:
        errors.append(
            _msg(value, path, f"Member must have length less than or equal to {spec['max']}")
        )


def _item_constraints(spec: Mapping[str, Any], *, not_null: bool = True) -> list[str]:
    found = []
    if "enum" in spec:
        found.append(f"Member must satisfy enum value set: [{', '.join(spec['enum'])}]")
    if "max" in spec:
        found.append(f"Member must have length less than or equal to {spec['max']}")
    if "min" in spec:
        found.append(f"Member must have length greater than or equal to {spec['min']}")
    if "pattern" in spec:
        text = _pattern_text(spec["pattern"])
        found.append(f"Member must satisfy regular expression pattern: {text}")
    if not_null:
        found.append("Member must not be null")
    return found


def _msg(value: Any, path: str, constraint: str) -> str:
    shown = "null" if value is None else f"'{_render(value)}'"
    return f"Value {shown} at '{path}' failed to satisfy constraint: {constraint}"
