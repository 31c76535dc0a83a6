"""Checking and compiling a pattern document into a `Matcher`, with EventBridge's
reasons for refusing one (the event-ruler's words where we know them)."""

from __future__ import annotations

import ipaddress
from typing import Any

import orjson

from ember.patterns.conditions import (
    AnythingBut,
    Cidr,
    Condition,
    EqualsIgnoreCase,
    Exact,
    Leaf,
    Numeric,
    Prefix,
    Suffix,
    Wildcard,
    is_number,
)
from ember.patterns.errors import InvalidEventPatternError
from ember.patterns.matcher import Field, Matcher, Node

_LOWER = {">": False, ">=": True}  # operator -> inclusive
_UPPER = {"<": False, "<=": True}


def compile(pattern: dict[str, Any] | str | bytes) -> Matcher:
    """Check `pattern` (a JSON object, decoded or as text) and compile it. Raises
    InvalidEventPatternError naming the first problem found."""
    if isinstance(pattern, str | bytes):
        try:
            decoded = orjson.loads(pattern)
        except orjson.JSONDecodeError as exc:
            raise InvalidEventPatternError(f"Filter is not valid JSON: {exc}") from None
    else:
        decoded = pattern
    if not isinstance(decoded, dict):
        raise InvalidEventPatternError("Filter is not an object")
    return Matcher(_node(decoded), decoded)


def _node(pattern: dict[str, Any]) -> Node:
    fields: list[Field] = []
    children: list[tuple[str, Node]] = []
    alternatives: list[tuple[Node, ...]] = []
    for key, value in pattern.items():
        if key == "$or":
            alternatives.append(_alternatives(value))
        elif isinstance(value, dict):
            children.append((key, _node(value)))
        elif isinstance(value, list):
            fields.append(_field(key, value))
        else:
            raise InvalidEventPatternError(f'"{key}" must be an object or an array')
    return Node(tuple(fields), tuple(children), tuple(alternatives))


def _alternatives(value: object) -> tuple[Node, ...]:
    if not isinstance(value, list):
        raise InvalidEventPatternError("Value of $or must be an array")
    if len(value) < 2:
        raise InvalidEventPatternError("There must have at least 2 Objects in $or Array.")
    nodes = []
    for item in value:
        if not isinstance(item, dict) or not item:
            raise InvalidEventPatternError("Each member of $or must be a non-empty object")
        nodes.append(_node(item))
    return tuple(nodes)


def _field(key: str, values: list[Any]) -> Field:
    if not values:
        raise InvalidEventPatternError(f'Empty arrays are not allowed (at "{key}")')
    conditions: list[Condition] = []
    if_exists = if_missing = False
    for value in values:
        if isinstance(value, dict):
            if len(value) != 1:
                raise InvalidEventPatternError(
                    f'Only one key allowed in match expression (at "{key}"): {value}'
                )
            ((kind, argument),) = value.items()
            if kind == "exists":
                if not isinstance(argument, bool):
                    raise InvalidEventPatternError(
                        "exists match pattern must be either true or false."
                    )
                if argument:
                    if_exists = True
                else:
                    if_missing = True
            else:
                conditions.append(_operator(kind, argument))
        elif isinstance(value, list):
            raise InvalidEventPatternError(
                "Match value must be String, number, true, false, or null"
            )
        else:
            conditions.append(Exact(value))
    return Field(key, tuple(conditions), if_exists, if_missing)


def _operator(kind: str, argument: object) -> Condition:
    if kind in ("prefix", "suffix"):
        text, ignore_case = _affix(kind, argument)
        return Prefix(text, ignore_case) if kind == "prefix" else Suffix(text, ignore_case)
    if kind == "equals-ignore-case":
        return EqualsIgnoreCase(_string(kind, argument))
    if kind == "wildcard":
        return _wildcard(_string(kind, argument))
    if kind == "numeric":
        return _numeric(argument)
    if kind == "cidr":
        return _cidr(argument)
    if kind == "anything-but":
        return _anything_but(argument)
    raise InvalidEventPatternError(f"Unrecognized match type {kind}")


def _string(kind: str, argument: object) -> str:
    if not isinstance(argument, str):
        raise InvalidEventPatternError(f'"{kind}" match pattern must be a string')
    return argument


def _affix(kind: str, argument: object) -> tuple[str, bool]:
    """`{"prefix": "a"}` or `{"prefix": {"equals-ignore-case": "a"}}`."""
    if isinstance(argument, dict):
        if list(argument) != ["equals-ignore-case"]:
            raise InvalidEventPatternError(
                f'Unsupported "{kind}" pattern: only "equals-ignore-case" may be nested'
            )
        return _string(kind, argument["equals-ignore-case"]), True
    return _string(kind, argument), False


def _wildcard(text: str) -> Wildcard:
    if "**" in text.replace("\\\\", ""):
        raise InvalidEventPatternError(
            f"Consecutive wildcard characters at pos {text.index('**') + 1}"
        )
    return Wildcard.of(text)


def _numeric(argument: object) -> Numeric:
    if not isinstance(argument, list) or not argument:
        raise InvalidEventPatternError("Value of numeric must be an array.")
    if len(argument) % 2 or len(argument) > 4:
        raise InvalidEventPatternError("Too many terms in numeric range expression")
    low: float | None = None
    high: float | None = None
    low_inclusive = high_inclusive = False
    pairs = [(argument[i], argument[i + 1]) for i in range(0, len(argument), 2)]
    for operator, number in pairs:
        if not isinstance(operator, str) or not is_number(number):
            raise InvalidEventPatternError(f"Invalid member in numeric match: {operator}")
        value = float(number)
        if operator == "=":
            if len(pairs) > 1:
                raise InvalidEventPatternError("= cannot be combined with another comparison")
            return Numeric(value, True, value, True)
        if operator in _LOWER and low is None:
            low, low_inclusive = value, _LOWER[operator]
        elif operator in _UPPER and high is None:
            high, high_inclusive = value, _UPPER[operator]
        else:
            raise InvalidEventPatternError(f"Invalid member in numeric match: {operator}")
    if low is not None and high is not None and low >= high:
        raise InvalidEventPatternError("Bottom must be less than top")
    return Numeric(low, low_inclusive, high, high_inclusive)


def _cidr(argument: object) -> Cidr:
    text = _string("cidr", argument)
    try:
        return Cidr(ipaddress.ip_network(text, strict=False))
    except ValueError:
        raise InvalidEventPatternError(f"Malformed CIDR, one '/' required: {text}") from None


def _anything_but(argument: object) -> AnythingBut:
    if isinstance(argument, dict):
        if len(argument) != 1:
            raise InvalidEventPatternError("Only one key allowed in anything-but expression")
        ((kind, inner),) = argument.items()
        if kind in ("prefix", "suffix"):
            text, ignore_case = _affix(kind, inner)
            if not text:
                raise InvalidEventPatternError(f"Null {kind} not allowed")
            affix: Condition = (
                Prefix(text, ignore_case) if kind == "prefix" else Suffix(text, ignore_case)
            )
            return AnythingBut((affix,))
        if kind in ("equals-ignore-case", "wildcard"):
            texts = inner if isinstance(inner, list) else [inner]
            if not texts or not all(isinstance(t, str) for t in texts):
                raise InvalidEventPatternError(
                    f"Inside anything-but/{kind} list, only strings are allowed."
                )
            if kind == "wildcard":
                return AnythingBut(tuple(_wildcard(t) for t in texts))
            return AnythingBut(tuple(EqualsIgnoreCase(t) for t in texts))
        raise InvalidEventPatternError(f"Unsupported anything-but pattern: {kind}")
    values: list[Leaf] = argument if isinstance(argument, list) else [argument]  # type: ignore[list-item]
    if not values:
        raise InvalidEventPatternError("Empty arrays are not allowed in anything-but")
    strings = all(isinstance(v, str) for v in values)
    numbers = all(is_number(v) for v in values)
    if not (strings or numbers):
        raise InvalidEventPatternError(
            "Inside anything but list, start|null|boolean is not supported."
        )
    return AnythingBut(tuple(Exact(v) for v in values))
