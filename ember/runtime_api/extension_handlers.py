"""One handler per Extensions API 2020-01-01 endpoint (the RIE's `agent*.go` handlers): read
the request, make one Extensions call, answer in AWS's shape."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping

from ember.runtime_api.errors import ExtensionRejectedError
from ember.runtime_api.extensions import Extension, ExtensionEvent, Extensions
from ember.runtime_api.messages import ACCEPTED, JSON_CONTENT_TYPE, Reply, Request
from ember.runtime_api.routing import Router

PREFIX = "/2020-01-01/extension"
NAME_HEADER = b"lambda-extension-name"
ID_HEADER = b"lambda-extension-identifier"
ERROR_TYPE_HEADER = b"lambda-extension-function-error-type"


class ExtensionHandlers:
    """The handlers of the Extensions API for one environment."""

    def __init__(self, extensions: Extensions) -> None:
        self._extensions = extensions

    def register(self, router: Router) -> None:
        router.add("POST", f"{PREFIX}/register", self.register_extension)
        router.add("GET", f"{PREFIX}/event/next", self.event_next)
        router.add("POST", f"{PREFIX}/init/error", self.init_error)
        router.add("POST", f"{PREFIX}/exit/error", self.exit_error)

    def register_extension(self, request: Request, params: Mapping[str, str]) -> Reply:
        """POST /register: 200 with Lambda-Extension-Identifier and the function's metadata."""
        name = request.header(NAME_HEADER)
        if not name:
            raise ExtensionRejectedError("Extension.InvalidExtensionName", "Empty extension name")
        extension = self._extensions.register(name, _events(request.body))
        headers = b"Lambda-Extension-Identifier: %s\r\n%s" % (
            extension.id.encode(),
            JSON_CONTENT_TYPE,
        )
        return Reply(200, self._extensions.register_body, headers)

    def event_next(self, request: Request, params: Mapping[str, str]) -> Reply | None:
        """GET /event/next: long poll for the next INVOKE or SHUTDOWN event."""
        extension = self._identify(request, unknown="Unknown extension {id}")
        return self._extensions.next(extension, request)

    def init_error(self, request: Request, params: Mapping[str, str]) -> Reply:
        """POST /init/error: 202; Init fails with Extension.InitError."""
        return self._error(request, ExtensionEvent.INIT_ERROR)

    def exit_error(self, request: Request, params: Mapping[str, str]) -> Reply:
        """POST /exit/error: 202; the environment is reset after the invocation."""
        return self._error(request, ExtensionEvent.EXIT_ERROR)

    def _error(self, request: Request, event: ExtensionEvent) -> Reply:
        extension_id = _identifier(request)
        error_type = request.header(ERROR_TYPE_HEADER)
        if not error_type:
            raise ExtensionRejectedError(
                "Extension.MissingHeader", "Lambda-Extension-Function-Error-Type not found"
            )
        extension = self._extensions.find(extension_id, "Unknown Lambda-Extension-Identifier")
        self._extensions.report_error(extension, event, error_type)
        return ACCEPTED

    def _identify(self, request: Request, unknown: str) -> Extension:
        extension_id = _identifier(request)
        return self._extensions.find(extension_id, unknown.format(id=extension_id))


def _identifier(request: Request) -> str:
    """The Lambda-Extension-Identifier header, checked as the RIE's middleware does."""
    value = request.header(ID_HEADER)
    if not value:
        raise ExtensionRejectedError(
            "Extension.MissingExtensionIdentifier", "Missing Lambda-Extension-Identifier header"
        )
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ExtensionRejectedError(
            "Extension.InvalidExtensionIdentifier", "Invalid Lambda-Extension-Identifier"
        ) from None


def _events(body: bytes) -> list[str]:
    """The `events` of a register body (Go's json.Unmarshal errors, roughly, for bad ones)."""
    if not body.strip():
        raise ExtensionRejectedError("InvalidRequestFormat", "unexpected end of JSON input")
    try:
        document = json.loads(body)
    except ValueError as exc:
        raise ExtensionRejectedError("InvalidRequestFormat", str(exc)) from None
    if not isinstance(document, dict):
        raise ExtensionRejectedError(
            "InvalidRequestFormat", "json: cannot unmarshal into Go value of type RegisterRequest"
        )
    if document.get("configurationKeys"):
        raise ExtensionRejectedError(
            "InvalidRequestFormat",
            "configurationKeys are deprecated; use environment variables instead",
        )
    events = document.get("events") or []
    if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
        raise ExtensionRejectedError(
            "InvalidRequestFormat", "json: cannot unmarshal events into Go struct field"
        )
    return events
