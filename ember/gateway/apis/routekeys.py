"""Route keys (`GET /items/{id}`, `ANY /{proxy+}`, `$default`) and how a request picks one,
with HTTP APIs' precedence: a full match of path and method first (literal segments before
path variables, a method before ANY), then a greedy `{proxy+}` route (the longest prefix
first), then `$default`."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable

DEFAULT = "$default"
METHODS = frozenset({"ANY", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"})
_VARIABLE = re.compile(r"\{([A-Za-z0-9._-]+)(\+?)\}")
_LITERAL = re.compile(r"[A-Za-z0-9._~:@!$&'()*,;=%-]+")


class RouteKeyError(ValueError):
    """A malformed route key; the text says why."""


@dataclasses.dataclass(frozen=True, slots=True)
class RouteKey:
    text: str
    method: str  # "" for $default
    # One per path segment: (literal text, None) or (None, variable name).
    segments: tuple[tuple[str | None, str | None], ...] = ()
    greedy: str | None = None  # the trailing {name+} variable's name

    @property
    def path(self) -> str:
        """The resource path ("/items/{id}"); "" for $default."""
        return self.text.partition(" ")[2]

    @property
    def is_default(self) -> bool:
        return self.text == DEFAULT


def parse(text: str) -> RouteKey:
    """Parse a route key, or raise RouteKeyError saying what is wrong with it."""
    if text == DEFAULT:
        return RouteKey(DEFAULT, "")
    method, space, path = text.partition(" ")
    if not space or method not in METHODS:
        raise RouteKeyError(
            f"Invalid route key: '{text}'. A route key is '$default' or an HTTP method "
            f"({', '.join(sorted(METHODS))}) and a path, separated by a space"
        )
    if not path.startswith("/"):
        raise RouteKeyError(f"Invalid route key: '{text}'. The path must start with '/'")
    if path == "/":
        return RouteKey(text, method)
    parts = path[1:].split("/")
    segments: list[tuple[str | None, str | None]] = []
    greedy: str | None = None
    names: set[str] = set()
    for index, part in enumerate(parts):
        variable = _VARIABLE.fullmatch(part)
        if variable is not None:
            name, plus = variable.groups()
            if name in names:
                raise RouteKeyError(
                    f"Invalid route key: '{text}'. Path variable '{name}' appears twice"
                )
            names.add(name)
            if plus:
                if index != len(parts) - 1:
                    raise RouteKeyError(
                        f"Invalid route key: '{text}'. A greedy path variable must be the "
                        "last segment of the path"
                    )
                greedy = name
            else:
                segments.append((None, name))
        elif _LITERAL.fullmatch(part) is None:
            raise RouteKeyError(
                f"Invalid route key: '{text}'. Path segment '{part}' is not a literal or a "
                "path variable such as {id} or {proxy+}"
            )
        else:
            segments.append((part, None))
    return RouteKey(text, method, tuple(segments), greedy)


@dataclasses.dataclass(frozen=True, slots=True)
class Match:
    route_id: str
    key: RouteKey
    path_parameters: dict[str, str]


class Router:
    """Picks the route for (method, path) among one deployment's routes."""

    def __init__(self, routes: Iterable[tuple[str, RouteKey]]) -> None:
        self._default: tuple[str, RouteKey] | None = None
        # Routes of literal segments only, by (method, path): the common case, one lookup.
        self._exact: dict[tuple[str, str], tuple[str, RouteKey]] = {}
        self._patterns: list[tuple[str, RouteKey]] = []
        for route_id, key in routes:
            if key.is_default:
                self._default = (route_id, key)
            elif key.greedy is None and all(lit is not None for lit, _ in key.segments):
                self._exact[(key.method, key.path)] = (route_id, key)
            else:
                self._patterns.append((route_id, key))

    def match(self, method: str, path: str) -> Match | None:
        found = self._exact.get((method, path))
        if found is not None:
            return Match(found[0], found[1], {})
        parts = [] if path == "/" else path[1:].split("/")
        best: tuple[tuple[int, ...], Match] | None = None
        found = self._exact.get(("ANY", path))
        if found is not None:
            best = (_rank(found[1], len(parts)), Match(found[0], found[1], {}))
        for route_id, key in self._patterns:
            if key.method not in (method, "ANY"):
                continue
            params = _bind(key, parts)
            if params is not None:
                best = _better(best, _rank(key, len(parts)), Match(route_id, key, params))
        if best is not None:
            return best[1]
        if self._default is not None:
            return Match(self._default[0], self._default[1], {})
        return None


def _bind(key: RouteKey, parts: list[str]) -> dict[str, str] | None:
    """The path parameters when `key`'s path matches the request's segments."""
    fixed = len(key.segments)
    if key.greedy is None:
        if len(parts) != fixed:
            return None
    elif len(parts) <= fixed:
        return None  # a greedy variable catches one segment at least
    params: dict[str, str] = {}
    for (literal, name), part in zip(key.segments, parts, strict=False):
        if literal is not None:
            if part != literal:
                return None
        elif not part:
            return None
        else:
            params[name or ""] = part
    if key.greedy is not None:
        rest = "/".join(parts[fixed:])
        if not rest:
            return None
        params[key.greedy] = rest
    return params


def _rank(key: RouteKey, depth: int) -> tuple[int, ...]:
    """Smaller is preferred: full matches before greedy ones, longer greedy prefixes first,
    then literal segments before variables from left to right, then a method before ANY."""
    greedy = key.greedy is not None
    specificity = tuple(0 if literal is not None else 1 for literal, _ in key.segments)
    padding = (2,) * (depth - len(specificity))
    return (int(greedy), -len(key.segments), *specificity, *padding, int(key.method == "ANY"))


def _better(
    best: tuple[tuple[int, ...], Match] | None, rank: tuple[int, ...], match: Match
) -> tuple[tuple[int, ...], Match]:
    return (rank, match) if best is None or rank < best[0] else best
