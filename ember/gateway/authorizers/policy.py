"""IAM policy documents a Lambda authorizer answers with, evaluated against one route ARN
for `execute-api:Invoke`: an explicit Deny wins, then any Allow, else the request is denied.
"""

from __future__ import annotations

import functools
import re
from typing import Any

ACTION = "execute-api:Invoke"


class PolicyError(ValueError):
    """A policy document that is not one (the authorizer's answer is invalid: 500)."""


@functools.lru_cache(maxsize=1024)
def _pattern(value: str, ignore_case: bool) -> tuple[tuple[re.Pattern[str], int], ...]:
    """IAM wildcards: "*" any run of characters ("/" included), "?" any one character. Kept
    as the runs between stars (each a star-free expression of fixed length), never as one
    expression with `.*`: the route ARN ends with the caller's own path, and `.*/.*/.*`
    against a path of thousands of slashes backtracks for minutes, on the event loop."""
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return tuple(
        (re.compile("".join("." if c == "?" else re.escape(c) for c in run), flags), len(run))
        for run in value.split("*")
    )


def _like(value: str, text: str, ignore_case: bool) -> bool:
    """Whether `text` is matched by the wildcard pattern `value`: the first run at the
    start, the last at the end, each run between at its first place after the previous
    one (the first place is never worse for the runs that follow)."""
    runs = _pattern(value, ignore_case)
    if len(runs) == 1:
        return runs[0][0].fullmatch(text) is not None
    (first, first_length), *middle, (last, last_length) = runs
    end = len(text) - last_length
    if end < first_length or first.match(text, 0, first_length) is None:
        return False
    position = first_length
    for run, _ in middle:
        found = run.search(text, position, end)
        if found is None:
            return False
        position = found.end()
    return last.fullmatch(text, end) is not None


def _strings(statement: dict[str, Any], name: str) -> list[str]:
    value = statement.get(name)
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(item, str) for item in value):
        return value
    raise PolicyError(f"statement {name} must be a string or a list of strings")


def _applies(statement: Any, route_arn: str) -> bool:
    if not isinstance(statement, dict):
        raise PolicyError("a statement must be an object")
    actions = _strings(statement, "Action")
    resources = _strings(statement, "Resource")
    return any(_like(a, ACTION, True) for a in actions) and any(
        _like(r, route_arn, False) for r in resources
    )


def allows(document: Any, route_arn: str) -> bool:
    """Whether the policy lets the caller invoke `route_arn`. Raises PolicyError when the
    document is malformed."""
    if not isinstance(document, dict):
        raise PolicyError("policyDocument must be an object")
    statements = document.get("Statement")
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list):
        raise PolicyError("policyDocument.Statement must be a list")
    allowed = False
    for statement in statements:
        effect = statement.get("Effect") if isinstance(statement, dict) else None
        if effect not in ("Allow", "Deny"):
            raise PolicyError("statement Effect must be Allow or Deny")
        if _applies(statement, route_arn):
            if effect == "Deny":
                return False
            allowed = True
    return allowed
