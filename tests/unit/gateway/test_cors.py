"""CORS for function URLs: preflight answers and the headers on every answer."""

from __future__ import annotations

from ember.control.urls import Cors
from ember.gateway import cors


def values(headers: list[tuple[bytes, bytes]]) -> dict[bytes, bytes]:
    return dict(headers)


def test_preflight_is_recognised() -> None:
    assert cors.is_preflight("OPTIONS", "https://a.example", "POST")
    assert not cors.is_preflight("OPTIONS", None, "POST")
    assert not cors.is_preflight("OPTIONS", "https://a.example", None)
    assert not cors.is_preflight("GET", "https://a.example", "POST")


def test_preflight_for_an_allowed_origin() -> None:
    rules = Cors(
        allow_origins=("https://a.example",),
        allow_methods=("GET", "POST"),
        allow_headers=("x-custom",),
        expose_headers=("x-out",),
        allow_credentials=True,
        max_age=300,
    )
    got = values(cors.preflight_headers(rules, "https://a.example", "x-custom"))
    assert got == {
        b"access-control-allow-origin": b"https://a.example",
        b"access-control-allow-methods": b"GET,POST",
        b"access-control-allow-headers": b"x-custom",
        b"access-control-expose-headers": b"x-out",
        b"access-control-allow-credentials": b"true",
        b"access-control-max-age": b"300",
        b"vary": b"Origin",
    }


def test_preflight_for_another_origin_allows_nothing() -> None:
    rules = Cors(allow_origins=("https://a.example",), allow_methods=("GET",))
    assert cors.preflight_headers(rules, "https://evil.example", None) == []


def test_wildcards() -> None:
    rules = Cors(allow_origins=("*",), allow_headers=("*",), allow_methods=("*",))
    got = values(cors.preflight_headers(rules, "https://b.example", "x-a,x-b"))
    assert got[b"access-control-allow-origin"] == b"*"
    assert got[b"access-control-allow-headers"] == b"x-a,x-b"
    assert b"vary" not in got
    credentialed = Cors(allow_origins=("*",), allow_credentials=True)
    got = values(cors.preflight_headers(credentialed, "https://b.example", None))
    assert got[b"access-control-allow-origin"] == b"https://b.example"


def test_configured_headers_replace_the_functions() -> None:
    rules = Cors(allow_origins=("https://a.example",), expose_headers=("x-out",))
    function = [(b"content-type", b"text/plain"), (b"access-control-allow-origin", b"*")]
    got = cors.response_headers(rules, "https://a.example", function)
    assert got == [
        (b"content-type", b"text/plain"),
        (b"access-control-allow-origin", b"https://a.example"),
        (b"access-control-expose-headers", b"x-out"),
        (b"vary", b"Origin"),
    ]
    # Not a cross-origin request: no CORS headers at all.
    assert cors.response_headers(rules, None, function) == [(b"content-type", b"text/plain")]
