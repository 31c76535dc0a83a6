"""Route keys and HTTP APIs' route precedence (pure)."""

from __future__ import annotations

import pytest

from ember.gateway.apis.routekeys import RouteKeyError, Router, parse


@pytest.mark.parametrize(
    ("text", "method", "path", "greedy"),
    [
        ("$default", "", "", None),
        ("GET /", "GET", "/", None),
        ("GET /items/{id}", "GET", "/items/{id}", None),
        ("ANY /{proxy+}", "ANY", "/{proxy+}", "proxy"),
        ("POST /a/b-c/{x.y}/{rest+}", "POST", "/a/b-c/{x.y}/{rest+}", "rest"),
    ],
)
def test_parse_accepts(text: str, method: str, path: str, greedy: str | None) -> None:
    key = parse(text)
    assert (key.method, key.path, key.greedy) == (method, path, greedy)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "GET",
        "GET ",
        "get /a",
        "FETCH /a",
        "GET a",
        "GET /a//b",
        "GET /a/",
        "GET /{proxy+}/b",
        "GET /{a}/{a}",
        "GET /a{b}",
        "GET /{}",
        "GET  /a",
        "$DEFAULT",
        "GET /a b",
    ],
)
def test_parse_refuses(text: str) -> None:
    with pytest.raises(RouteKeyError, match="Invalid route key"):
        parse(text)


def _router(*keys: str) -> Router:
    return Router((key, parse(key)) for key in keys)


PETS = _router(
    "GET /pets/dog/1",
    "GET /pets/dog/{id}",
    "GET /pets/{proxy+}",
    "ANY /pets/{proxy+}",
    "ANY /{proxy+}",
    "$default",
    "ANY /pets/dog/{id}",
    "GET /{a}/{b}/{c}",
)


@pytest.mark.parametrize(
    ("method", "path", "route", "params"),
    [
        ("GET", "/pets/dog/1", "GET /pets/dog/1", {}),
        ("GET", "/pets/dog/2", "GET /pets/dog/{id}", {"id": "2"}),
        ("PUT", "/pets/dog/2", "ANY /pets/dog/{id}", {"id": "2"}),  # method before ANY
        ("GET", "/toys/dog/2", "GET /{a}/{b}/{c}", {"a": "toys", "b": "dog", "c": "2"}),
        ("GET", "/pets/cat/1/2", "GET /pets/{proxy+}", {"proxy": "cat/1/2"}),
        ("POST", "/pets/cat", "ANY /pets/{proxy+}", {"proxy": "cat"}),  # longest prefix
        ("POST", "/toys", "ANY /{proxy+}", {"proxy": "toys"}),
        ("GET", "/", "$default", {}),  # a greedy variable needs one segment
        ("GET", "/pets/dog/", "GET /pets/{proxy+}", {"proxy": "dog/"}),
    ],
)
def test_precedence(method: str, path: str, route: str, params: dict[str, str]) -> None:
    match = PETS.match(method, path)
    assert match is not None
    assert (match.route_id, match.path_parameters) == (route, params)


def test_literal_before_variable_left_to_right() -> None:
    router = _router("GET /{a}/x", "GET /a/{x}")
    match = router.match("GET", "/a/x")
    assert match is not None
    assert match.route_id == "GET /a/{x}"


def test_nothing_matches_without_default() -> None:
    router = _router("GET /a", "ANY /b/{id}")
    assert router.match("GET", "/b") is None
    assert router.match("GET", "/b/") is None  # an empty segment binds no variable
    assert router.match("POST", "/a") is None
    match = router.match("HEAD", "/b/1")
    assert match is not None
    assert match.path_parameters == {"id": "1"}
