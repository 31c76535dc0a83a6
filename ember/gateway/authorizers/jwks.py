"""Issuers' signing keys: found through OpenID Connect discovery
(`<issuer>/.well-known/openid-configuration` → `jwks_uri`), cached, refreshed when a token
names a key id the cache does not hold (at most once per `min_refresh` seconds per issuer).

A fetch runs in a thread (urllib, bounded by a timeout) and is the seam tests replace: any
`Fetch` callable that returns parsed JSON or raises `FetchError`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from joserfc.errors import JoseError
from joserfc.jwk import Key, KeySet

from ember.clock import Clock

log = logging.getLogger("ember.gateway")

# API Gateway may keep an issuer's public keys for two hours.
KEYS_TTL = 2 * 3600.0
MIN_REFRESH = 10.0  # seconds between two fetches for one issuer (unknown kids, failures)
FETCH_TIMEOUT = 5.0  # seconds for each of the discovery and JWKS requests
MAX_DOCUMENT = 1 << 20  # bytes: a discovery document or key set larger than this is refused


class FetchError(Exception):
    """A discovery document or key set could not be fetched or read."""


class JwksUnavailableError(Exception):
    """No key set is known for the issuer and fetching one failed."""


Fetch = Callable[[str], Awaitable[Any]]


def _get_json(url: str) -> Any:
    if not url.startswith(("https://", "http://")):
        raise FetchError(f"not an http(s) URL: {url!r}")
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT) as response:
            body = response.read(MAX_DOCUMENT + 1)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise FetchError(f"GET {url}: {exc}") from exc
    if len(body) > MAX_DOCUMENT:
        raise FetchError(f"GET {url}: document larger than {MAX_DOCUMENT} bytes")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise FetchError(f"GET {url}: not JSON") from exc


async def fetch_json(url: str) -> Any:
    """GET a JSON document, off the event loop. Not through ember.blocking: a network wait
    of up to FETCH_TIMEOUT must not hold a thread of that pool of short disk calls."""
    return await asyncio.to_thread(_get_json, url)


def discovery_url(issuer: str) -> str:
    """OpenID Connect Discovery: the issuer with "/.well-known/openid-configuration"."""
    return issuer.rstrip("/") + "/.well-known/openid-configuration"


@dataclasses.dataclass(eq=False)
class _Issuer:
    keys: dict[str, Key] | None = None  # kid -> signing key
    fetched_at: float = 0.0  # monotonic: when `keys` was fetched
    attempted_at: float | None = None  # monotonic: the last fetch, whatever its outcome
    attempts: int = 0
    error: str = ""
    lock: asyncio.Lock = dataclasses.field(default_factory=asyncio.Lock)


class IssuerKeys:
    """The signing keys of every issuer JWT authorizers name, by key id."""

    def __init__(
        self, clock: Clock, fetch: Fetch = fetch_json, *, min_refresh: float = MIN_REFRESH
    ) -> None:
        self._clock = clock
        self._fetch = fetch
        self._min_refresh = min_refresh
        self._issuers: dict[str, _Issuer] = {}

    async def key(self, issuer: str, kid: str) -> Key | None:
        """The issuer's key `kid`; None when the issuer does not publish it (after a
        refresh, if one is allowed now). Raises JwksUnavailableError when no key set
        could be fetched at all."""
        state = self._issuers.get(issuer)
        if state is None:
            state = self._issuers[issuer] = _Issuer()
        now = self._clock.monotonic()
        if state.keys is not None and now - state.fetched_at < KEYS_TTL:
            found = state.keys.get(kid)
            if found is not None:
                return found
        if state.attempted_at is None or now - state.attempted_at >= self._min_refresh:
            seen = state.attempts
            async with state.lock:
                if state.attempts == seen:  # nobody refreshed while this task waited
                    await self._refresh(issuer, state)
        if state.keys is None:
            raise JwksUnavailableError(state.error)
        # Stale keys still serve when a refresh failed: the issuer may be down briefly.
        return state.keys.get(kid)

    def forget(self, issuer: str) -> None:
        self._issuers.pop(issuer, None)

    async def _refresh(self, issuer: str, state: _Issuer) -> None:
        state.attempts += 1
        state.attempted_at = self._clock.monotonic()
        try:
            keys = await self._load(issuer)
        except (FetchError, JoseError, ValueError, KeyError, TypeError) as exc:
            state.error = f"{type(exc).__name__}: {exc}"
            log.warning("JWKS of issuer %s unavailable: %s", issuer, state.error)
            return
        state.keys = keys
        state.fetched_at = self._clock.monotonic()
        state.error = ""

    async def _load(self, issuer: str) -> dict[str, Key]:
        discovery = await self._fetch(discovery_url(issuer))
        if not isinstance(discovery, dict) or not isinstance(discovery.get("jwks_uri"), str):
            raise FetchError(f"{discovery_url(issuer)}: no jwks_uri")
        document = await self._fetch(discovery["jwks_uri"])
        if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
            raise FetchError(f"{discovery['jwks_uri']}: not a JWK Set")
        usable = [
            entry
            for entry in document["keys"]
            if isinstance(entry, dict)
            and isinstance(entry.get("kid"), str)
            and entry.get("use", "sig") == "sig"
        ]
        if not usable:
            return {}
        # Unknown key types are skipped (RFC 7517 §5), as joserfc's import does.
        return {key.kid: key for key in KeySet.import_key_set({"keys": usable}) if key.kid}
