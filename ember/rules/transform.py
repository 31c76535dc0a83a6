"""What a target receives: the event itself, a constant (`Input`), a part of the event
(`InputPath`), or a template filled from it (`InputTransformer`), as EventBridge builds
them."""

from __future__ import annotations

import re
from typing import Any

import orjson

from ember.errors import ValidationError
from ember.rules.model import Target

_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_.\-]+)>")
_MISSING = object()


def select(document: Any, path: str) -> Any:
    """A JSONPath of plain members (`$`, `$.detail`, `$.detail.items[0]`), or _MISSING."""
    if path == "$":
        return document
    if not path.startswith("$."):
        return _MISSING
    value = document
    for step in re.findall(r"\.([^.\[\]]+)|\[(\d+)\]", path[1:]) or []:
        member, index = step
        if member:
            if not isinstance(value, dict) or member not in value:
                return _MISSING
            value = value[member]
        else:
            if not isinstance(value, list) or int(index) >= len(value):
                return _MISSING
            value = value[int(index)]
    return value


def check_path(path: str, what: str) -> None:
    if path != "$" and not re.fullmatch(r"\$(\.[^.\[\]]+|\[\d+\])+", path):
        raise ValidationError(f"{what} is not valid: {path}")


def payload(target: Target, event: dict[str, Any], rule_arn: str, rule_name: str) -> bytes:
    """The bytes the target is invoked with."""
    if target.input is not None:
        return target.input.encode()
    if target.input_path is not None:
        value = select(event, target.input_path)
        return b"null" if value is _MISSING else orjson.dumps(value)
    if target.template is not None:
        return _fill(target.template, target.paths_map or {}, event, rule_arn, rule_name)
    return orjson.dumps(event)


def _fill(
    template: str, paths: dict[str, str], event: dict[str, Any], rule_arn: str, rule_name: str
) -> bytes:
    values: dict[str, Any] = {name: select(event, path) for name, path in paths.items()}
    values.update(
        {
            "aws.events.rule-arn": rule_arn,
            "aws.events.rule-name": rule_name,
            "aws.events.event": event,
            "aws.events.event.json": event,
            "aws.events.event.ingestion-time": event.get("time"),
        }
    )
    out: list[str] = []
    last = 0
    for match in _PLACEHOLDER.finditer(template):
        name = match.group(1)
        if name not in values:
            continue  # not a variable: left as written
        out.append(template[last : match.start()])
        value = values[name]
        # Inside a JSON string a string goes in bare; anywhere else as JSON.
        quoted = _inside_string(template, match.start())
        if value is _MISSING:
            out.append("" if quoted else "null")
        elif quoted and isinstance(value, str):
            out.append(orjson.dumps(value).decode()[1:-1])
        elif quoted:
            out.append(orjson.dumps(value).decode().replace('"', '\\"'))
        else:
            out.append(orjson.dumps(value).decode())
        last = match.end()
    out.append(template[last:])
    return "".join(out).encode()


def _inside_string(text: str, position: int) -> bool:
    quotes = 0
    escaped = False
    for char in text[:position]:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            quotes += 1
    return quotes % 2 == 1
