"""botocore's apigatewayv2 model as the one description of the wire: members travel in
camelCase (`locationName`), Ember keeps documents in the model's PascalCase member names,
the very shape boto3 hands its callers. Input is checked against the member types and
enums here, so every operation refuses malformed JSON the same way."""

from __future__ import annotations

import functools
import gzip
import json
from pathlib import Path
from typing import Any

import botocore

from ember.gateway.apis.errors import BadRequestError

_MODEL = Path(botocore.__file__).parent / "data/apigatewayv2/2018-11-29/service-2.json.gz"


@functools.cache
def model() -> dict[str, Any]:
    with gzip.open(_MODEL) as raw:
        found: dict[str, Any] = json.load(raw)
    return found


def shapes() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = model()["shapes"]
    return found


@functools.cache
def _by_wire_name(shape: str) -> dict[str, tuple[str, str]]:
    """wire name -> (member name, member shape), body members only."""
    members = shapes()[shape].get("members", {})
    return {
        ref.get("locationName", name): (name, ref["shape"])
        for name, ref in members.items()
        if "location" not in ref
    }


def from_wire(shape: str, value: Any, where: str = "") -> Any:
    """A request body (or part of one) as PascalCase, checked against the model's types."""
    spec = shapes()[shape]
    kind = spec["type"]
    if kind == "structure":
        if not isinstance(value, dict):
            raise _invalid(where or "body", "an object")
        members = _by_wire_name(shape)
        out: dict[str, Any] = {}
        for key, item in value.items():
            found = members.get(key)
            if found is None or item is None:
                continue  # AWS ignores members it does not know
            name, member_shape = found
            out[name] = from_wire(member_shape, item, key)
        return out
    if kind == "list":
        if not isinstance(value, list):
            raise _invalid(where, "a list")
        return [from_wire(spec["member"]["shape"], item, where) for item in value]
    if kind == "map":
        if not isinstance(value, dict):
            raise _invalid(where, "a map")
        return {
            str(k): from_wire(spec["value"]["shape"], v, f"{where}.{k}") for k, v in value.items()
        }
    if kind == "string":
        if not isinstance(value, str):
            raise _invalid(where, "a string")
        if "enum" in spec and value not in spec["enum"]:
            raise BadRequestError(
                f"Invalid value for {where}: '{value}'. Valid values: {', '.join(spec['enum'])}"
            )
        return value
    if kind == "boolean":
        if not isinstance(value, bool):
            raise _invalid(where, "a boolean")
        return value
    if kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise _invalid(where, "an integer")
        low, high = spec.get("min"), spec.get("max")
        if (low is not None and value < low) or (high is not None and value > high):
            raise BadRequestError(f"Invalid {where}: {value} must be between {low} and {high}.")
        return value
    if kind == "double":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _invalid(where, "a number")
        return value
    return value  # timestamps and blobs are never sent by these operations


def to_wire(shape: str, value: Any) -> Any:
    """A PascalCase document as the wire shape `shape` names it (unknown members dropped)."""
    spec = shapes()[shape]
    kind = spec["type"]
    if kind == "structure":
        members = spec.get("members", {})
        out: dict[str, Any] = {}
        for name, item in value.items():
            ref = members.get(name)
            if ref is None or item is None or "location" in ref:
                continue
            out[ref.get("locationName", name)] = to_wire(ref["shape"], item)
        return out
    if kind == "list":
        return [to_wire(spec["member"]["shape"], item) for item in value]
    if kind == "map":
        return {k: to_wire(spec["value"]["shape"], v) for k, v in value.items()}
    return value


def _invalid(where: str, what: str) -> BadRequestError:
    return BadRequestError(f"Invalid input: {where} must be {what}.")
