"""Expiring signed links to internal routes (such as a function's code download), in the
manner of S3 presigned URLs: an expiry time and an HMAC over path and expiry in the query,
under a secret that lives as long as the server."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import parse_qs, urlencode

from ember.clock import Clock
from ember.errors import AccessDeniedError

LINK_LIFETIME = 600  # seconds: AWS's presigned code location is good for 10 minutes


class LinkSigner:
    def __init__(self, clock: Clock, secret: bytes | None = None) -> None:
        self._clock = clock
        self._secret = secret or secrets.token_bytes(32)

    def _mac(self, path: str, expires: int) -> str:
        message = f"{path}\n{expires}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def sign(self, path: str, lifetime: int = LINK_LIFETIME) -> str:
        """`path` with the query that lets its holder use it for `lifetime` seconds."""
        expires = int(self._clock.wall()) + lifetime
        return f"{path}?{urlencode({'Expires': expires, 'Signature': self._mac(path, expires)})}"

    def check(self, path: str, query: str) -> None:
        """Accept a link this signer made that has not expired, or raise AccessDeniedError
        (S3's answer to a bad or expired presigned URL)."""
        params = parse_qs(query)
        expires = params.get("Expires", [""])[0]
        signature = params.get("Signature", [""])[0]
        if not (expires.isascii() and expires.isdigit()) or not signature:
            raise AccessDeniedError("Query-string authentication requires the Signature and "
                                    "Expires parameters")  # fmt: skip
        if not hmac.compare_digest(self._mac(path, int(expires)), signature):
            raise AccessDeniedError(
                "The request signature we calculated does not match the signature you provided."
            )
        if int(expires) < self._clock.wall():
            raise AccessDeniedError("Request has expired")
