"""Wildcard patterns (EventBridge, SNS filter policies, ESM filters) match as globs: the same
answers as the regular expression they once compiled to, without its backtracking, which
a function could drive with one crafted event against an operator's multi-star pattern."""

from __future__ import annotations

import random
import re

import pytest

from ember import patterns
from ember.patterns.conditions import Wildcard


def _reference(pattern: str, value: str) -> bool:
    out, escaped = [], False
    for char in pattern:
        if escaped:
            out.append(re.escape(char))
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "*":
            out.append(".*")
        else:
            out.append(re.escape(char))
    return re.fullmatch("".join(out), value, re.DOTALL) is not None


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("*", "", True),
        ("*", "anything\nat all", True),
        ("a*", "a", True),
        ("*a", "ba", True),
        ("a*a", "a", False),  # the first and last runs may not overlap
        ("a*a", "aa", True),
        ("ab*ba", "aba", False),
        ("*.png", "photo.png", True),
        ("*.png", "photo.jpg", False),
        ("a*b*c", "aXbYbZc", True),
        ("a*b*c", "acb", False),
        ("x\\*y", "x*y", True),
        ("x\\*y", "xzy", False),
        ("x\\\\*", "x\\abc", True),
        ("exact", "exact", True),
        ("exact", "exactly", False),
    ],
)
def test_wildcard_matches_as_the_expression_did(pattern: str, value: str, expected: bool) -> None:
    assert Wildcard.of(pattern).test(value) is expected
    assert _reference(pattern, value) is expected


def test_wildcard_agrees_with_the_expression_on_random_cases() -> None:
    rng = random.Random(7)
    for _ in range(3000):
        pattern = "".join(rng.choice("ab*") for _ in range(rng.randint(0, 7)))
        if "**" in pattern:
            continue  # refused by the compiler
        value = "".join(rng.choice("ab") for _ in range(rng.randint(0, 9)))
        assert Wildcard.of(pattern).test(value) is _reference(pattern, value), (pattern, value)


@pytest.mark.timeout(30)
def test_an_event_crafted_against_a_multi_star_pattern_is_cheap() -> None:
    """`arn:aws:*:*:*:function:*` against 256 KB of colons: the regular expression took
    about a second at 800 characters and grows with the fourth power of the length."""
    matcher = patterns.compile('{"detail": {"arn": [{"wildcard": "arn:aws:*:*:*:function:*"}]}}')
    assert not matcher.matches({"detail": {"arn": "arn:aws:" + ":" * 256_000}})
    assert matcher.matches({"detail": {"arn": "arn:aws:lambda:us-east-1:1:function:f"}})
