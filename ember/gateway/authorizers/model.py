"""What an authorizer reads from a request (`AuthRequest`) and what it answers (`Decision`)."""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Mapping
from typing import Any

import orjson


@dataclasses.dataclass(frozen=True, slots=True)
class AuthRequest:
    """One request to an HTTP API route, as authorizers see it. The HTTP API door builds it
    once it has matched the route (path parameters and route ARN are known then)."""

    method: str  # "GET"
    raw_path: str  # as in payload 2.0 rawPath (the stage name included for a named stage)
    raw_query: str  # rawQueryString, without "?"
    headers: Mapping[str, str]  # lower-cased names, repeated values comma-joined
    query: Mapping[str, str] = dataclasses.field(
        default_factory=dict
    )  # queryStringParameters: repeated values comma-joined
    cookies: tuple[str, ...] = ()
    path_params: Mapping[str, str] = dataclasses.field(default_factory=dict)
    stage: str = "$default"
    stage_variables: Mapping[str, str] = dataclasses.field(default_factory=dict)
    route_key: str = "$default"  # "GET /items/{id}" or "$default"
    route_id: str = ""  # RouteId (payload 1.0's requestContext.resourceId)
    # arn:aws:execute-api:{region}:{account}:{api-id}/{stage}/{METHOD}/{path without "/"}
    route_arn: str = ""
    source_ip: str = ""
    user_agent: str = ""
    api_id: str = ""
    account_id: str = ""
    domain_name: str = ""  # the Host the client used, without the port
    request_id: str = ""
    time_epoch_ms: int = 0  # when the request arrived (wall clock, milliseconds)
    protocol: str = "HTTP/1.1"

    @property
    def domain_prefix(self) -> str:
        return self.domain_name.split(".", 1)[0]

    @property
    def time(self) -> str:
        """`requestContext.time` as AWS writes it: 12/Mar/2020:19:03:58 +0000."""
        moment = datetime.datetime.fromtimestamp(self.time_epoch_ms / 1000, datetime.UTC)
        return moment.strftime("%d/%b/%Y:%H:%M:%S +0000")

    @property
    def resource_path(self) -> str:
        """The route's path ("/items/{id}"); the raw path for `$default`."""
        _, _, path = self.route_key.partition(" ")
        return path or self.raw_path


def _message(text: str) -> bytes:
    return orjson.dumps({"message": text})


@dataclasses.dataclass(frozen=True, slots=True)
class Decision:
    """An authorizer's answer for one request.

    Allowed: `context_for(version)` is `requestContext.authorizer` for the integration's
    payload format version. Refused: answer `status` with `headers` and `body` (JSON,
    `application/json`) without running the integration; `reason` says why, for the log.
    """

    allowed: bool
    status: int = 200
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    reason: str = ""
    context_v2: Mapping[str, Any] | None = None  # {"jwt": {...}} or {"lambda": {...}}
    context_v1: Mapping[str, Any] | None = None  # {"claims", "scopes"} or context+principalId

    def context_for(self, payload_version: str) -> dict[str, Any] | None:
        """requestContext.authorizer for a payload format "1.0" or "2.0" integration."""
        chosen = self.context_v1 if payload_version == "1.0" else self.context_v2
        return None if chosen is None else dict(chosen)

    @classmethod
    def allow(cls, context_v2: Mapping[str, Any], context_v1: Mapping[str, Any]) -> Decision:
        return cls(True, context_v2=context_v2, context_v1=context_v1)

    @classmethod
    def unauthorized(cls, reason: str, headers: tuple[tuple[str, str], ...] = ()) -> Decision:
        return cls(False, 401, _UNAUTHORIZED, headers, reason)

    @classmethod
    def forbidden(cls, reason: str, headers: tuple[tuple[str, str], ...] = ()) -> Decision:
        return cls(False, 403, _FORBIDDEN, headers, reason)

    @classmethod
    def server_error(cls, reason: str) -> Decision:
        return cls(False, 500, _SERVER_ERROR, (), reason)


_UNAUTHORIZED = _message("Unauthorized")
_FORBIDDEN = _message("Forbidden")
_SERVER_ERROR = _message("Internal Server Error")
