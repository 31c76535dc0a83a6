"""A compiled pattern: a tree of object nodes whose leaves are OR-lists of conditions.

Matching follows EventBridge: every field of an object node must match (AND); the
elements of a leaf's array are alternatives (OR); a `$or` array at an object level needs
one of its sub-patterns to match at that level. An event value that is an array matches
when any of its elements does; an array of objects matches a nested pattern when one of
its objects matches all of it.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ember.patterns.conditions import Condition, Leaf


def _leaves(value: object, out: list[Leaf]) -> list[Leaf]:
    """The JSON leaves of an event value (arrays flattened; objects have none here)."""
    if isinstance(value, list):
        for item in value:
            _leaves(item, out)
    elif not isinstance(value, dict):
        out.append(value)  # type: ignore[arg-type]  # a decoded JSON scalar
    return out


@dataclasses.dataclass(frozen=True, slots=True)
class Field:
    """One leaf of the pattern: `key` and the alternatives its array lists."""

    key: str
    conditions: tuple[Condition, ...]
    if_exists: bool = False  # an `{"exists": true}` alternative
    if_missing: bool = False  # an `{"exists": false}` alternative

    def matches(self, document: dict[str, Any]) -> bool:
        values = _leaves(document[self.key], []) if self.key in document else []
        if values and self.if_exists:
            return True
        if not values and self.if_missing:
            return True
        return any(condition.test(value) for value in values for condition in self.conditions)


@dataclasses.dataclass(frozen=True, slots=True)
class Node:
    """An object level of the pattern."""

    fields: tuple[Field, ...] = ()
    children: tuple[tuple[str, Node], ...] = ()  # key -> nested object pattern
    alternatives: tuple[tuple[Node, ...], ...] = ()  # each `$or`: one of these must match

    def matches(self, document: dict[str, Any]) -> bool:
        for field in self.fields:
            if not field.matches(document):
                return False
        for key, child in self.children:
            if not _child_matches(child, document.get(key)):
                return False
        return all(any(node.matches(document) for node in ors) for ors in self.alternatives)


def _child_matches(child: Node, value: object) -> bool:
    if isinstance(value, dict):
        return child.matches(value)
    if isinstance(value, list):
        objects = [item for item in value if isinstance(item, dict)]
        if objects:
            return any(child.matches(item) for item in objects)
    # Missing, a scalar, or no objects: only `exists: false` leaves can still match.
    return child.matches({})


class Matcher:
    """A checked pattern, ready to test decoded JSON documents (see `compile`)."""

    __slots__ = ("_root", "pattern")

    def __init__(self, root: Node, pattern: dict[str, Any]) -> None:
        self._root = root
        self.pattern = pattern  # as given, decoded

    def matches(self, event: dict[str, Any]) -> bool:
        return self._root.matches(event)

    def __repr__(self) -> str:
        return f"Matcher({self.pattern!r})"
