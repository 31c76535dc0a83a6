"""Expression trees applied to items: conditions evaluated, update actions carried out,
projections taken. Pure functions on the wire-shaped values of ember.tables.values.
"""

from __future__ import annotations

import copy
import decimal
from typing import Any

from ember.tables.errors import TableValidationError
from ember.tables.expressions import (
    Action,
    Arithmetic,
    Between,
    Compare,
    Condition,
    Const,
    Function,
    IfNotExists,
    In,
    ListAppend,
    Logic,
    Not,
    Operand,
    Path,
    SetValue,
    Size,
)
from ember.tables.values import Item, Value, add_numbers, equal, raw_binary

_TYPE_NAMES = {"S": "STRING", "N": "NUMBER", "B": "BINARY", "BOOL": "BOOLEAN", "NULL": "NULL",
               "L": "LIST", "M": "MAP", "SS": "SET", "NS": "SET", "BS": "SET"}  # fmt: skip


def resolve(item: Item, path: Path) -> Value | None:
    """The value at a document path, None where nothing is."""
    current: Value | None = None
    for index, element in enumerate(path.elements):
        if index == 0:
            assert isinstance(element, str)
            current = item.get(element)
        elif current is None:
            return None
        elif isinstance(element, int):
            inner = current.get("L")
            current = inner[element] if inner is not None and element < len(inner) else None
        else:
            inner_map = current.get("M")
            current = inner_map.get(element) if inner_map is not None else None
        if current is None:
            return None
    return current


def _operand(item: Item, operand: Operand) -> Value | None:
    if isinstance(operand, Const):
        return operand.value
    if isinstance(operand, Size):
        value = resolve(item, operand.path)
        if value is None:
            return None
        ((kind, inner),) = value.items()
        if kind == "S":
            length = len(inner)
        elif kind == "B":
            length = len(raw_binary(inner))
        elif kind in ("L", "M", "SS", "NS", "BS"):
            length = len(inner)
        else:
            return None
        return {"N": str(length)}
    return resolve(item, operand)


def _ordered(a: Value, b: Value) -> tuple[Any, Any] | None:
    """Both values as comparable Python values when they are of one scalar type."""
    ((ka, va),) = a.items()
    ((kb, vb),) = b.items()
    if ka != kb or ka not in ("S", "N", "B"):
        return None
    if ka == "N":
        return decimal.Decimal(va), decimal.Decimal(vb)
    if ka == "S":
        return va.encode(), vb.encode()
    return raw_binary(va), raw_binary(vb)


def _compare(op: str, a: Value | None, b: Value | None) -> bool:
    if op == "=":
        return a is not None and b is not None and equal(a, b)
    if op == "<>":
        return a is None or b is None or not equal(a, b)
    if a is None or b is None:
        return False
    pair = _ordered(a, b)
    if pair is None:
        return False
    x, y = pair
    return bool({"<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y}[op])


def evaluate(item: Item, condition: Condition) -> bool:
    if isinstance(condition, Logic):
        left = evaluate(item, condition.left)
        if condition.op == "AND":
            return left and evaluate(item, condition.right)
        return left or evaluate(item, condition.right)
    if isinstance(condition, Not):
        return not evaluate(item, condition.inner)
    if isinstance(condition, Compare):
        return _compare(condition.op, _operand(item, condition.left),
                        _operand(item, condition.right))  # fmt: skip
    if isinstance(condition, Between):
        subject = _operand(item, condition.subject)
        low, high = _operand(item, condition.low), _operand(item, condition.high)
        if low is not None and high is not None:
            bounds = _ordered(low, high)
            if bounds is not None and bounds[0] > bounds[1]:
                raise TableValidationError(
                    "Invalid ConditionExpression: The BETWEEN operator requires upper bound to "
                    "be greater than or equal to lower bound; lower bound operand: "
                    f"AttributeValue: "
                    f"{_show(low)}, upper bound operand: AttributeValue: {_show(high)}"
                )
        return _compare(">=", subject, low) and _compare("<=", subject, high)
    if isinstance(condition, In):
        subject = _operand(item, condition.subject)
        return any(_compare("=", subject, _operand(item, o)) for o in condition.options)
    return _function(item, condition)


def _show(value: Value) -> str:
    ((kind, inner),) = value.items()
    return f"{{{kind}:{inner}}}"


def _function(item: Item, call: Function) -> bool:
    assert isinstance(call.args[0], Path)
    target = resolve(item, call.args[0])
    if call.name == "attribute_exists":
        return target is not None
    if call.name == "attribute_not_exists":
        return target is None
    argument = _operand(item, call.args[1])
    if target is None or argument is None:
        return False
    ((kind, inner),) = target.items()
    ((akind, ainner),) = argument.items()
    if call.name == "attribute_type":
        if akind != "S" or ainner not in _TYPE_NAMES:
            raise TableValidationError(
                "Invalid ConditionExpression: Invalid attribute type name found; type: "
                f"{ainner}, valid types: {{B,NULL,SS,BOOL,L,BS,N,NS,S,M}}"
            )
        return bool(kind == ainner)
    if call.name == "begins_with":
        if kind != akind or kind not in ("S", "B"):
            return False
        if kind == "S":
            return str(inner).startswith(str(ainner))
        return raw_binary(inner).startswith(raw_binary(ainner))
    # contains
    if kind == "S" and akind == "S":
        return ainner in inner
    if kind in ("SS", "NS", "BS") and akind == kind[0]:
        return any(equal({akind: m}, argument) for m in inner)
    if kind == "L":
        return any(equal(m, argument) for m in inner)
    return False


# -- updates -------------------------------------------------------------------------


def _set_value(item: Item, value: SetValue) -> Value:
    if isinstance(value, Const):
        return value.value
    if isinstance(value, Path):
        found = resolve(item, value)
        if found is None:
            raise TableValidationError(
                "The provided expression refers to an attribute that does not exist in the item"
            )
        return found
    if isinstance(value, IfNotExists):
        found = resolve(item, value.path)
        return found if found is not None else _set_value(item, value.fallback)
    if isinstance(value, ListAppend):
        left, right = _set_value(item, value.left), _set_value(item, value.right)
        if "L" not in left or "L" not in right:
            raise TableValidationError(
                "Invalid UpdateExpression: Incorrect operand type for operator or function; "
                "operator or function: list_append, operand type: "
                f"{_TYPE_NAMES[next(iter(left if 'L' not in left else right))]}"
            )
        return {"L": left["L"] + right["L"]}
    assert isinstance(value, Arithmetic)
    left, right = _set_value(item, value.left), _set_value(item, value.right)
    if "N" not in left or "N" not in right:
        raise TableValidationError("An operand in the update expression has an incorrect data type")
    return {"N": add_numbers(left["N"], right["N"], negate=value.op == "-")}


def _parent(item: Item, path: Path, create: bool) -> tuple[Any, str | int] | None:
    """The container (a dict of attributes / a map's dict / a list) holding the path's
    last element, and that element; None when the path leads nowhere."""
    container: Any = item
    for element in path.elements[:-1]:
        if isinstance(container, dict) and isinstance(element, str):
            value = container.get(element)
        elif isinstance(container, list) and isinstance(element, int):
            value = container[element] if element < len(container) else None
        else:
            value = None
        if value is None:
            return None
        container = value.get("M") if isinstance(element, str) or "M" in value else None
        if "L" in value:
            container = value["L"]
        elif "M" in value:
            container = value["M"]
        else:
            return None
    return container, path.elements[-1]


_INVALID_PATH = "The document path provided in the update expression is invalid for update"


def _put(item: Item, path: Path, value: Value) -> None:
    found = _parent(item, path, create=True)
    if found is None:
        raise TableValidationError(_INVALID_PATH)
    container, last = found
    if isinstance(container, dict) and isinstance(last, str):
        container[last] = value
    elif isinstance(container, list) and isinstance(last, int):
        if last < len(container):
            container[last] = value
        else:
            container.append(value)  # past the end: DynamoDB appends
    else:
        raise TableValidationError(_INVALID_PATH)


def _remove(item: Item, path: Path) -> None:
    found = _parent(item, path, create=False)
    if found is None:
        return
    container, last = found
    if isinstance(container, dict) and isinstance(last, str):
        container.pop(last, None)
    elif isinstance(container, list) and isinstance(last, int) and last < len(container):
        del container[last]


def apply_actions(item: Item, actions: list[Action]) -> Item:
    """A new item: `item` with the update's actions done (values computed on the old one,
    as DynamoDB does); `item` itself is left as it was."""
    new = copy.deepcopy(item)
    computed: list[tuple[Action, Value | None]] = []
    for action in actions:
        value: Value | None = None
        if action.kind == "SET":
            assert action.value is not None
            value = _set_value(item, action.value)
        elif action.kind in ("ADD", "DELETE"):
            assert isinstance(action.value, Const)
            value = _add_or_delete(action, resolve(item, action.path), action.value.value)
        computed.append((action, value))
    # REMOVEs of list elements go from the highest index down so indexes stay meaningful.
    removes = [a for a, _ in computed if a.kind == "REMOVE" or (a.kind == "DELETE" and _ is None)]
    for action, value in computed:
        if value is not None:
            _put(new, action.path, value)
    for action in sorted(removes, key=lambda a: [str(e) for e in a.path.elements], reverse=True):
        _remove(new, action.path)
    return new


def _add_or_delete(action: Action, current: Value | None, operand: Value) -> Value | None:
    ((okind, ovalue),) = operand.items()
    if action.kind == "ADD":
        if okind not in ("N", "SS", "NS", "BS"):
            raise TableValidationError(
                "Invalid UpdateExpression: Incorrect operand type for operator or function; "
                f"operator: ADD, operand type: {_TYPE_NAMES[okind]}"
            )
        if current is None:
            return operand
        ((ckind, cvalue),) = current.items()
        if ckind != okind:
            raise TableValidationError(
                "An operand in the update expression has an incorrect data type"
            )
        if ckind == "N":
            return {"N": add_numbers(cvalue, ovalue)}
        return {ckind: cvalue + [m for m in ovalue if not _member(ckind, cvalue, m)]}
    if okind not in ("SS", "NS", "BS"):
        raise TableValidationError(
            "Invalid UpdateExpression: Incorrect operand type for operator or function; "
            f"operator: DELETE, operand type: {_TYPE_NAMES[okind]}"
        )
    if current is None:
        return current
    ((ckind, cvalue),) = current.items()
    if ckind != okind:
        raise TableValidationError("An operand in the update expression has an incorrect data type")
    left = [m for m in cvalue if not _member(ckind, ovalue, m)]
    return {ckind: left} if left else None


def _member(kind: str, members: list[str], candidate: str) -> bool:
    return any(equal({kind[0]: m}, {kind[0]: candidate}) for m in members)


def project(item: Item, paths: list[Path]) -> Item:
    """The parts of an item a ProjectionExpression names."""
    out: Item = {}
    for path in paths:
        value = resolve(item, path)
        if value is None:
            continue
        if len(path.elements) == 1:
            out[str(path.elements[0])] = value
            continue
        _merge(out, path.elements, value)
    return out


def _merge(out: dict[str, Any], elements: tuple[str | int, ...], value: Value) -> None:
    head = str(elements[0])
    node: Value = out.setdefault(head, {"M": {}})
    for element in elements[1:-1]:
        key = str(element)
        inner = node.setdefault("M", {})
        node = inner.setdefault(key, {"M": {}})
    node.setdefault("M", {})[str(elements[-1])] = value
