"""What the doors (function URLs, HTTP APIs) need of the rest of the server: the invoker
and the functions' resource policies, as Protocols a test can stand in for."""

from __future__ import annotations

from typing import Protocol


class Result(Protocol):
    """What a door reads of an invocation (scheduler's InvocationResult)."""

    @property
    def payload(self) -> bytes: ...
    @property
    def function_error(self) -> str | None: ...


class Invoking(Protocol):
    """invoke.Invoker, as a door calls it."""

    async def invoke(
        self, name: str, qualifier: str | None, payload: bytes, *, request_id: str | None = None
    ) -> Result: ...


class Permissions(Protocol):
    """A function's resource policy (control.policies.PolicyService)."""

    def allows(
        self,
        function: str,
        qualifier: str | None,
        action: str,
        principal: str,
        *,
        source_arn: str | None = None,
        source_account: str | None = None,
        url_auth_type: str | None = None,
    ) -> bool: ...
