"""Leaf conditions: what one element of a pattern's value array tests on one event value.

Event values reaching a condition are JSON leaves: str, int, float, bool or None. Each
condition says False for values of a type it does not apply to (a prefix never matches a
number), as EventBridge does.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from typing import Protocol

Leaf = str | int | float | bool | None


class Condition(Protocol):
    def test(self, value: Leaf) -> bool: ...


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclasses.dataclass(frozen=True, slots=True)
class Exact:
    """A literal: strings, numbers (compared by value: 5 matches 5.0), booleans, null."""

    value: Leaf

    def test(self, value: Leaf) -> bool:
        want = self.value
        if is_number(want):
            return is_number(value) and value == want
        if isinstance(want, bool) or want is None:
            return value is want
        return isinstance(value, str) and value == want


@dataclasses.dataclass(frozen=True, slots=True)
class Prefix:
    prefix: str
    ignore_case: bool = False

    def test(self, value: Leaf) -> bool:
        if not isinstance(value, str):
            return False
        if self.ignore_case:
            return value.casefold().startswith(self.prefix.casefold())
        return value.startswith(self.prefix)


@dataclasses.dataclass(frozen=True, slots=True)
class Suffix:
    suffix: str
    ignore_case: bool = False

    def test(self, value: Leaf) -> bool:
        if not isinstance(value, str):
            return False
        if self.ignore_case:
            return value.casefold().endswith(self.suffix.casefold())
        return value.endswith(self.suffix)


@dataclasses.dataclass(frozen=True, slots=True)
class EqualsIgnoreCase:
    value: str

    def test(self, value: Leaf) -> bool:
        return isinstance(value, str) and value.casefold() == self.value.casefold()


@dataclasses.dataclass(frozen=True, slots=True)
class Wildcard:
    """`*` stands for any run of characters; `\\*` is a literal star, `\\\\` a backslash.

    Matched as a glob, not a regular expression: `.*:.*:.*` backtracks in polynomial time of
    high degree (a 256 KB PutEvents, Publish or SendMessage a function may send against an
    operator's `arn:aws:*:*:*:function:*` would hold the event loop for hours). The literal
    runs between stars are found left to right, each at its first place: always a match
    when there is one, in about linear time."""

    segments: tuple[str, ...]  # the literal runs, one more than the stars

    @classmethod
    def of(cls, text: str) -> Wildcard:
        segments: list[str] = []
        run: list[str] = []
        escaped = False
        for char in text:
            if escaped:
                run.append(char)
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == "*":
                segments.append("".join(run))
                run = []
            else:
                run.append(char)
        segments.append("".join(run))
        return cls(tuple(segments))

    def test(self, value: Leaf) -> bool:
        if not isinstance(value, str):
            return False
        if len(self.segments) == 1:
            return value == self.segments[0]
        first, *middle, last = self.segments
        end = len(value) - len(last)
        if end < len(first) or not value.startswith(first) or not value.endswith(last):
            return False
        position = len(first)
        for segment in middle:
            found = value.find(segment, position, end)
            if found < 0:
                return False
            position = found + len(segment)
        return True


@dataclasses.dataclass(frozen=True, slots=True)
class Numeric:
    """A range; an open side is None. `=` is the range [n, n]."""

    low: float | None
    low_inclusive: bool
    high: float | None
    high_inclusive: bool

    def test(self, value: Leaf) -> bool:
        if not is_number(value):
            return False
        number = float(value)  # type: ignore[arg-type]  # is_number checked it
        if self.low is not None and (
            number < self.low or (number == self.low and not self.low_inclusive)
        ):
            return False
        return self.high is None or not (
            number > self.high or (number == self.high and not self.high_inclusive)
        )


@dataclasses.dataclass(frozen=True, slots=True)
class Cidr:
    network: ipaddress.IPv4Network | ipaddress.IPv6Network

    def test(self, value: Leaf) -> bool:
        if not isinstance(value, str):
            return False
        try:
            address = ipaddress.ip_address(value)
        except ValueError:
            return False
        return address.version == self.network.version and address in self.network


@dataclasses.dataclass(frozen=True, slots=True)
class AnythingBut:
    """Any present value that none of the excluded conditions matches."""

    excluded: tuple[Condition, ...]

    def test(self, value: Leaf) -> bool:
        return not any(condition.test(value) for condition in self.excluded)
