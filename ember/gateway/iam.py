"""AWS_IAM auth for function URLs: a request must be SigV4-signed for service `lambda` with a
key Ember knows (`ember keys`) or an environment's role credentials; the caller it proves
becomes requestContext.authorizer.iam.

With `--auth none` Ember trusts any signer, as its API does: a request signed with a key
Ember does not issue passes unverified (its caller is named by the key), while known keys
and role credentials are verified. An unsigned request is refused in either mode.
"""

from __future__ import annotations

import hmac
from typing import Any, Protocol

from ember.clock import Clock
from ember.config import Settings
from ember.errors import LambdaError
from ember.gateway.payload import HttpRequest
from ember.protocols import SessionIssuer, SignedRequest, parse_signature, verify
from ember.protocols.sigv4 import check_time

SERVICE = "lambda"  # AWS: function URLs are signed for the Lambda service


class KeyLookup(Protocol):
    """The secrets of `ember keys` (control.keys.AccessKeys)."""

    async def secret(self, key_id: str) -> str | None: ...


class UrlSigner:
    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        keys: KeyLookup | None,
        sessions: SessionIssuer | None,
        *,
        service: str = SERVICE,  # HTTP APIs' AWS_IAM routes: "execute-api"
    ) -> None:
        self._service = service
        self._settings = settings
        self._clock = clock
        self._keys = keys
        self._sessions = sessions
        self._open = settings.auth != "sigv4"

    async def identify(self, request: HttpRequest) -> dict[str, Any] | None:
        """requestContext.authorizer.iam for a request signed by a caller Ember accepts;
        None for any other request (the door answers 403)."""
        headers: dict[str, str] = {}
        for name, value in request.headers:
            headers[name] = f"{headers[name]},{value}" if name in headers else value
        signed = SignedRequest(
            request.method,
            request.raw_path.encode("latin-1"),
            request.raw_query.encode("latin-1"),
            headers,
            body=request.body,
        )
        try:
            signature = parse_signature(signed)
        except LambdaError:
            return None
        if signature is None or signature.service != self._service:
            return None
        now = self._clock.wall()
        account = self._settings.account_id
        session = self._sessions.find(signature.access_key) if self._sessions else None
        if session is not None:
            token = (signature.token or "").encode()
            if not hmac.compare_digest(token, session.token.encode()):
                return None
            if session.expires_at <= now:
                return None
            secret: str | None = session.secret
            user_arn = session.principal
            caller = f"AROAEMBER:{session.function_name}"
        else:
            secret = await self._keys.secret(signature.access_key) if self._keys else None
            if secret is None and not self._open:
                return None
            user_arn = f"arn:aws:iam::{account}:root"
            caller = account
        try:
            check_time(signature, now)
            if secret is not None:
                verify(signed, signature, secret, now, time_checked=True)
        except LambdaError:
            return None
        return {
            "accessKey": signature.access_key,
            "accountId": account,
            "callerId": caller,
            "cognitoIdentity": None,
            "principalOrgId": None,
            "userArn": user_arn,
            "userId": caller,
        }
