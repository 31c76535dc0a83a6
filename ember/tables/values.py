"""DynamoDB's typed attribute values: checking them as AWS does, numbers in DynamoDB's
precision, sizes, and the order sort keys sort in.

An attribute value is the wire shape itself, a one-member dict: {"S": "x"}, {"N": "1.5"},
{"B": "<base64>"}, {"BOOL": true}, {"NULL": true}, {"L": [...]}, {"M": {...}},
{"SS": [...]}, {"NS": [...]}, {"BS": [...]}. Binary stays base64 text (as JSON carries it);
`raw_binary` decodes it where bytes matter (sizes, ordering).
"""

from __future__ import annotations

import base64
import binascii
import decimal
from typing import Any

from ember.tables.errors import TableValidationError

Value = dict[str, Any]
Item = dict[str, Value]

TYPES = frozenset({"S", "N", "B", "BOOL", "NULL", "L", "M", "SS", "NS", "BS"})
MAX_ITEM_BYTES = 400 * 1024
MAX_DEPTH = 32
_CONTEXT = decimal.Context(prec=38, Emax=125, Emin=-130, traps=[])
_SET_NAMES = {"SS": "string", "NS": "number", "BS": "binary"}
INVALID = "One or more parameter values were invalid: "


def normalize_number(text: object) -> str:
    """The canonical text DynamoDB stores a number as ("1.50" -> "1.5", "1e2" -> "100"),
    refused beyond 38 significant digits or outside 1E-130 .. 9.99…E+125."""
    if not isinstance(text, str):
        raise TableValidationError("NUMBER_VALUE cannot be converted to String")
    try:
        value = decimal.Decimal(text.strip())
    except decimal.InvalidOperation:
        raise TableValidationError(
            f"The parameter cannot be converted to a numeric value: {text}"
        ) from None
    if not value.is_finite() or not text.strip():
        raise TableValidationError(f"The parameter cannot be converted to a numeric value: {text}")
    if value.is_zero():
        return "0"
    digits = value.normalize(decimal.Context(prec=1000))
    _, coefficient, _exponent = digits.as_tuple()
    if len(coefficient) > 38:
        raise TableValidationError(
            "Attempting to store more than 38 significant digits in a Number"
        )
    adjusted = digits.adjusted()
    if adjusted > 125:
        raise TableValidationError(
            "Number overflow. Attempting to store a number with magnitude larger than "
            "supported range"
        )
    if adjusted < -130:
        raise TableValidationError(
            "Number underflow. Attempting to store a number with magnitude smaller than "
            "supported range"
        )
    return _plain(digits)


def _plain(value: decimal.Decimal) -> str:
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def number(value: Value) -> decimal.Decimal:
    return decimal.Decimal(value["N"])


def add_numbers(a: str, b: str, negate: bool = False) -> str:
    left, right = decimal.Decimal(a), decimal.Decimal(b)
    total = _CONTEXT.subtract(left, right) if negate else _CONTEXT.add(left, right)
    return normalize_number(str(total))


def raw_binary(text: object) -> bytes:
    if not isinstance(text, str):
        raise TableValidationError("Invalid binary value")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise TableValidationError("Invalid binary value: not valid base64") from None


def check_value(value: object, depth: int = 0) -> Value:
    """A request's attribute value checked and normalized (numbers canonical)."""
    if not isinstance(value, dict) or len(value) != 1:
        raise TableValidationError(
            "Supplied AttributeValue has more than one datatypes set, must contain exactly "
            "one of the supported datatypes"
            if isinstance(value, dict) and value
            else "Supplied AttributeValue is empty, must contain exactly one of the supported "
            "datatypes"
        )
    if depth > MAX_DEPTH:
        raise TableValidationError("Nesting Levels have exceeded supported limits")
    ((kind, inner),) = value.items()
    if kind not in TYPES:
        raise TableValidationError(
            "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"
        )
    if kind == "S":
        if not isinstance(inner, str):
            raise TableValidationError("Invalid string value")
        return {"S": inner}
    if kind == "N":
        return {"N": normalize_number(inner)}
    if kind == "B":
        raw_binary(inner)
        return {"B": inner}
    if kind in ("BOOL", "NULL"):
        if not isinstance(inner, bool) or (kind == "NULL" and not inner):
            raise TableValidationError(
                INVALID + "Null attribute value types must have the value of true"
                if kind == "NULL"
                else "Invalid BOOL value"
            )
        return {kind: inner}
    if kind == "L":
        if not isinstance(inner, list):
            raise TableValidationError("Invalid list value")
        return {"L": [check_value(v, depth + 1) for v in inner]}
    if kind == "M":
        if not isinstance(inner, dict):
            raise TableValidationError("Invalid map value")
        return {"M": {str(k): check_value(v, depth + 1) for k, v in inner.items()}}
    return _check_set(kind, inner)


def _check_set(kind: str, inner: object) -> Value:
    if not isinstance(inner, list) or not inner:
        raise TableValidationError(f"{INVALID}An {_SET_NAMES[kind]} set  may not be empty")
    if kind == "SS":
        if not all(isinstance(v, str) for v in inner):
            raise TableValidationError("Invalid string set value")
        members = list(inner)
    elif kind == "NS":
        members = [normalize_number(v) for v in inner]
    else:
        for v in inner:
            raw_binary(v)
        members = list(inner)
    if len(set(members)) != len(members):
        raise TableValidationError(
            f"{INVALID}Input collection [{', '.join(str(v) for v in inner)}] contains duplicates."
        )
    return {kind: members}


def check_item(item: object, what: str = "Item") -> Item:
    if not isinstance(item, dict):
        raise TableValidationError(f"{what} must be a map")
    checked = {}
    for name, value in item.items():
        if not name:
            raise TableValidationError(
                f"{INVALID}An AttributeValue may not contain an empty attribute name"
            )
        checked[name] = check_value(value)
    return checked


def value_size(value: Value) -> int:
    """Bytes a value counts for (DynamoDB's item-size rules, close enough for its limit)."""
    ((kind, inner),) = value.items()
    if kind == "S":
        return len(inner.encode())
    if kind == "N":
        return _number_size(inner)
    if kind == "B":
        return len(raw_binary(inner))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(v.encode()) for v in inner)
    if kind == "NS":
        return sum(_number_size(v) for v in inner)
    if kind == "BS":
        return sum(len(raw_binary(v)) for v in inner)
    if kind == "L":
        return 3 + sum(1 + value_size(v) for v in inner)
    return 3 + sum(1 + len(k.encode()) + value_size(v) for k, v in inner.items())


def _number_size(text: str) -> int:
    digits = len(text.lstrip("-").replace(".", "").strip("0")) or 1
    return (digits + 1) // 2 + 1


def item_size(item: Item) -> int:
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def sort_key(value: Value) -> Any:
    """What a key value sorts by: numbers by value, strings and binaries by their bytes."""
    ((kind, inner),) = value.items()
    if kind == "N":
        return decimal.Decimal(inner)
    if kind == "S":
        return inner.encode()
    return raw_binary(inner)


def key_text(value: Value) -> str:
    """A key value as one hashable text (the map key items are stored under)."""
    ((kind, inner),) = value.items()
    return f"{kind}:{inner}"


def equal(a: Value, b: Value) -> bool:
    """DynamoDB's equality: sets compare as sets, numbers by value."""
    ((ka, va),) = a.items()
    ((kb, vb),) = b.items()
    if ka != kb:
        return False
    if ka == "N":
        return bool(decimal.Decimal(va) == decimal.Decimal(vb))
    if ka == "NS":
        return {decimal.Decimal(v) for v in va} == {decimal.Decimal(v) for v in vb}
    if ka in ("SS", "BS"):
        return set(va) == set(vb)
    if ka == "L":
        return len(va) == len(vb) and all(equal(x, y) for x, y in zip(va, vb, strict=True))
    if ka == "M":
        return va.keys() == vb.keys() and all(equal(va[k], vb[k]) for k in va)
    return bool(va == vb)
