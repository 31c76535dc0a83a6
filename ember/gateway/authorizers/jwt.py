"""JWT checks as HTTP APIs' JWT authorizers make them: the signature against the issuer's
published key named by `kid` (RSA, and ES256), then iss, aud or client_id, exp, nbf, iat,
and the route's scopes against `scope` / `scp`.

Signatures are joserfc's work; nothing here touches cryptography. A token that passed is
remembered (bounded) so that the next request with it skips the signature check; its time
claims are checked again on every use.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from joserfc import jws
from joserfc.errors import JoseError

from ember.clock import Clock
from ember.gateway.authorizers.jwks import IssuerKeys, JwksUnavailableError

# AWS documents RSA-based algorithms; ES256 is accepted too (many OIDC providers sign with it).
# "none" and HMAC algorithms are never accepted: a public JWKS cannot check them.
ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "ES256"})
MAX_TOKEN = 16 * 1024  # characters; API Gateway's header limits are of this order
REMEMBERED = 4096  # verified tokens kept; the oldest goes first


class TokenError(Exception):
    """A token that does not authorize the request: 401 invalid_token."""


class ScopeError(Exception):
    """A valid token without any of the route's scopes: 403 insufficient_scope."""


@dataclasses.dataclass(frozen=True, slots=True)
class Verified:
    claims: dict[str, Any]
    scopes: list[str]  # from `scope` (space-separated) or `scp` (list or string)


def bearer(value: str) -> str:
    """The token in an identity source's value: the value itself, or after "Bearer "."""
    if value[:7].lower() == "bearer ":
        return value[7:].strip()
    return value.strip()


def token_scopes(claims: Mapping[str, Any]) -> list[str]:
    for name in ("scope", "scp"):
        value = claims.get(name)
        if isinstance(value, str):
            return value.split()
        if isinstance(value, list):
            return [item for item in value if isinstance(item, str)]
    return []


def _number(claims: Mapping[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise TokenError(f"the {name} claim is not a number")
    return float(value)


def check_times(claims: Mapping[str, Any], now: float) -> None:
    """exp after now, nbf and iat not after now, with no leeway (as documented for HTTP APIs).
    A token without exp is refused: it would never stop granting access."""
    expires = _number(claims, "exp")
    if expires is None:
        raise TokenError("the token has no exp claim")
    if now >= expires:
        raise TokenError("the token has expired")
    not_before = _number(claims, "nbf")
    if not_before is not None and now < not_before:
        raise TokenError("the token is not valid yet")
    issued = _number(claims, "iat")
    if issued is not None and now < issued:
        raise TokenError("the token was issued in the future")


def check_audience(claims: Mapping[str, Any], audiences: Sequence[str]) -> None:
    """`aud` when present (a string or a list), else `client_id`, must be one of the
    authorizer's audiences; AWS evaluates `aud` when both are present."""
    aud = claims.get("aud")
    if aud is not None:
        offered = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    else:
        client_id = claims.get("client_id")
        offered = [client_id] if isinstance(client_id, str) else []
    if not any(isinstance(item, str) and item in audiences for item in offered):
        raise TokenError("the token does not have a valid audience")


def check_scopes(scopes: Sequence[str], route_scopes: Sequence[str]) -> None:
    """At least one of the route's scopes, when it names any."""
    if route_scopes and not set(route_scopes).intersection(scopes):
        raise ScopeError(f"expected scopes: [{' '.join(route_scopes)}]")


class JwtValidator:
    """Verifies tokens for JWT authorizers."""

    def __init__(self, keys: IssuerKeys, clock: Clock) -> None:
        self._keys = keys
        self._clock = clock
        # (token, issuer, audiences) -> its verified claims and scopes
        self._verified: dict[tuple[str, str, tuple[str, ...]], Verified] = {}

    async def verify(
        self, token: str, issuer: str, audiences: Sequence[str], route_scopes: Sequence[str]
    ) -> Verified:
        """The token's claims and scopes; raises TokenError (401) or ScopeError (403)."""
        remembered = (token, issuer, tuple(audiences))
        verified = self._verified.get(remembered)
        if verified is None:
            verified = await self._verify(token, issuer, audiences)
            if len(self._verified) >= REMEMBERED:
                del self._verified[next(iter(self._verified))]
            self._verified[remembered] = verified
        else:
            try:
                check_times(verified.claims, self._clock.wall())
            except TokenError:
                del self._verified[remembered]
                raise
        check_scopes(verified.scopes, route_scopes)
        return verified

    async def _verify(self, token: str, issuer: str, audiences: Sequence[str]) -> Verified:
        if not token or len(token) > MAX_TOKEN:
            raise TokenError("the token is empty or too long")
        try:
            signed = jws.extract_compact(token.encode())
            header = signed.headers()
        except (JoseError, ValueError, TypeError) as exc:
            raise TokenError("the token is not a signed JWT") from exc
        alg = header.get("alg")
        if alg not in ALGORITHMS:
            raise TokenError(f"signing method {alg} is invalid")
        if "crit" in header or header.get("b64", True) is not True:
            raise TokenError("the token uses JWS extensions a JWT does not")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise TokenError("the token has no kid")
        try:
            key = await self._keys.key(issuer, kid)
        except JwksUnavailableError as exc:
            raise TokenError("the issuer's signing keys are unavailable") from exc
        if key is None:
            raise TokenError("the issuer publishes no key with the token's kid")
        try:
            valid = jws.validate_compact(signed, key, algorithms=[alg])
        except (JoseError, ValueError, TypeError) as exc:
            raise TokenError(f"the key {kid} cannot check {alg}") from exc
        if not valid:
            raise TokenError("the token's signature is invalid")
        try:
            claims = orjson.loads(signed.payload)
        except orjson.JSONDecodeError as exc:
            raise TokenError("the token's claims are not JSON") from exc
        if not isinstance(claims, dict):
            raise TokenError("the token's claims are not a JSON object")
        if claims.get("iss") != issuer:
            raise TokenError("the token does not have a valid issuer")
        check_audience(claims, audiences)
        check_times(claims, self._clock.wall())
        return Verified(claims, token_scopes(claims))


def claims_context(claims: Mapping[str, Any]) -> dict[str, str]:
    """Claims as HTTP APIs pass them to integrations: every value a string; numbers as
    written, booleans lower-case, lists as "[a b]", objects as JSON."""
    return {name: _flat(value) for name, value in claims.items()}


def _flat(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        return "[" + " ".join(_flat(item) for item in value) + "]"
    return orjson.dumps(value).decode()
