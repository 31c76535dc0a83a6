"""CORS as function URLs (and HTTP APIs) apply it: a configured door answers a browser's
preflight itself, without invoking, and puts its Access-Control-* headers on every answer to
a cross-origin request, over any the function set (AWS: "the configured CORS headers take
precedence")."""

from __future__ import annotations

from typing import Protocol

Header = tuple[bytes, bytes]


class CorsRules(Protocol):
    """AWS's Cors structure (control.urls.Cors; an HTTP API's CorsConfiguration)."""

    @property
    def allow_credentials(self) -> bool | None: ...
    @property
    def allow_headers(self) -> tuple[str, ...] | None: ...
    @property
    def allow_methods(self) -> tuple[str, ...] | None: ...
    @property
    def allow_origins(self) -> tuple[str, ...] | None: ...
    @property
    def expose_headers(self) -> tuple[str, ...] | None: ...
    @property
    def max_age(self) -> int | None: ...


def is_preflight(method: str, origin: str | None, requested_method: str | None) -> bool:
    """A browser's preflight: OPTIONS from an origin, naming the method it means to use."""
    return method == "OPTIONS" and origin is not None and requested_method is not None


def _allowed_origin(rules: CorsRules, origin: str) -> bytes | None:
    """The Access-Control-Allow-Origin value for `origin`, or None when it is not allowed."""
    origins = rules.allow_origins or ()
    if "*" in origins:
        # A credentialed request may not be answered with "*": name the origin instead.
        return origin.encode("latin-1") if rules.allow_credentials else b"*"
    lowered = origin.lower()
    if any(lowered == allowed.lower().rstrip("/") for allowed in origins):
        return origin.encode("latin-1")
    return None


def _joined(values: tuple[str, ...]) -> bytes:
    return ",".join(values).encode("latin-1")


def preflight_headers(rules: CorsRules, origin: str, requested_headers: str | None) -> list[Header]:
    """The answer to a preflight (status 200, no body): nothing when the origin is not
    allowed, so the browser refuses."""
    allow = _allowed_origin(rules, origin)
    if allow is None:
        return []
    headers: list[Header] = [(b"access-control-allow-origin", allow)]
    if rules.allow_methods:
        headers.append((b"access-control-allow-methods", _joined(rules.allow_methods)))
    if rules.allow_headers:
        if "*" in rules.allow_headers and requested_headers:
            value = requested_headers.encode("latin-1")  # "*": whatever the browser asks
        else:
            value = _joined(rules.allow_headers)
        headers.append((b"access-control-allow-headers", value))
    if rules.expose_headers:
        headers.append((b"access-control-expose-headers", _joined(rules.expose_headers)))
    if rules.allow_credentials:
        headers.append((b"access-control-allow-credentials", b"true"))
    if rules.max_age is not None:
        headers.append((b"access-control-max-age", str(rules.max_age).encode()))
    if allow != b"*":
        headers.append((b"vary", b"Origin"))
    return headers


def response_headers(rules: CorsRules, origin: str | None, headers: list[Header]) -> list[Header]:
    """A function's answer headers with the configured CORS headers in place of its own."""
    kept = [(k, v) for k, v in headers if not k.startswith(b"access-control-")]
    if origin is None:
        return kept
    allow = _allowed_origin(rules, origin)
    if allow is None:
        return kept
    kept.append((b"access-control-allow-origin", allow))
    if rules.expose_headers:
        kept.append((b"access-control-expose-headers", _joined(rules.expose_headers)))
    if rules.allow_credentials:
        kept.append((b"access-control-allow-credentials", b"true"))
    if allow != b"*":
        kept.append((b"vary", b"Origin"))
    return kept
