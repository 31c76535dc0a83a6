"""The Lambda API model botocore ships: the authority for names, types and constraints."""

from __future__ import annotations

import functools
from typing import Any

from botocore.loaders import Loader


@functools.cache
def service_model() -> dict[str, Any]:
    model: dict[str, Any] = Loader().load_service_model("lambda", "service-2")
    return model


def operation(name: str) -> dict[str, Any]:
    op: dict[str, Any] = service_model()["operations"][name]
    return op


def shape(name: str) -> dict[str, Any]:
    found: dict[str, Any] = service_model()["shapes"][name]
    return found


@functools.cache
def function_name_rule(op_name: str) -> tuple[str, int]:
    """The (pattern, max length) the operation's FunctionName member must satisfy: write
    operations take `FunctionName`, reads and Invoke the wider `NamespacedFunctionName`."""
    members = shape(operation(op_name)["input"]["shape"])["members"]
    name_shape = shape(members["FunctionName"]["shape"])
    return name_shape["pattern"], name_shape["max"]
