"""Temporary credentials for execution environments, as STS hands Lambda an execution
role's session: an access key, a secret and a session token that expire, issued and
checked by Ember in memory (environments do not outlive the server, nor do these)."""

from __future__ import annotations

import dataclasses
import secrets

from ember.clock import Clock

LIFETIME = 12 * 3600.0  # Lambda's role sessions last up to 12 hours
_KEY_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
SESSION_KEY_PREFIX = "ASIA"  # AWS's prefix for temporary access keys


@dataclasses.dataclass(frozen=True, slots=True)
class Session:
    """One environment's credentials and the identity they stand for."""

    access_key: str
    secret: str
    token: str
    expires_at: float  # wall seconds
    principal: str  # arn:aws:sts::<account>:assumed-role/<role-name>/<function-name>
    function_name: str

    def variables(self) -> dict[str, str]:
        """The variables Lambda sets for the execution role."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret,
            "AWS_SESSION_TOKEN": self.token,
        }


def assumed_role_arn(account: str, role_arn: str, session_name: str) -> str:
    """The caller AWS names in errors for a role session: the role's name (not its path),
    then the session's name (Lambda uses the function's name)."""
    role_name = role_arn.rsplit("/", 1)[-1] or "ember"
    return f"arn:aws:sts::{account}:assumed-role/{role_name}/{session_name}"


class SessionIssuer:
    """Issues, finds and revokes environment sessions. Not thread-safe: the loop's."""

    def __init__(self, clock: Clock, account: str, lifetime: float = LIFETIME) -> None:
        self._clock = clock
        self._account = account
        self._lifetime = lifetime
        self._sessions: dict[str, Session] = {}  # access key -> session

    def issue(self, function_name: str, role_arn: str) -> Session:
        self._forget_expired()
        key = SESSION_KEY_PREFIX + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(16))
        session = Session(
            access_key=key,
            secret=secrets.token_urlsafe(30),
            token=secrets.token_urlsafe(96),
            expires_at=self._clock.wall() + self._lifetime,
            principal=assumed_role_arn(self._account, role_arn, function_name),
            function_name=function_name,
        )
        self._sessions[key] = session
        return session

    def find(self, access_key: str) -> Session | None:
        """The session of `access_key`, expired or not; None once revoked or unknown."""
        return self._sessions.get(access_key)

    def revoke(self, access_key: str) -> None:
        self._sessions.pop(access_key, None)

    def __len__(self) -> int:
        return len(self._sessions)

    def _forget_expired(self) -> None:
        now = self._clock.wall()
        for key in [k for k, s in self._sessions.items() if s.expires_at <= now]:
            del self._sessions[key]
