"""One handler per Runtime API 2018-06-01 endpoint: read the HTTP request, make one Lifecycle
call, answer in AWS's shape (the RIE's `lambda/rapi/handler` package)."""

from __future__ import annotations

import json
from collections.abc import Mapping

from ember.runtime_api.invocation import InitError, RuntimeResponse
from ember.runtime_api.lifecycle import Lifecycle
from ember.runtime_api.messages import (
    ACCEPTED,
    RESPONSE_SIZE_TOO_LARGE,
    Reply,
    Request,
    entity_too_large_reply,
    response_too_large_body,
    trailer_error,
)
from ember.runtime_api.routing import Router
from ember.runtime_api.states import RuntimeEvent
from ember.runtime_api.streaming import (
    MAX_STREAMED_RESPONSE_BYTES,
    RESPONSE_MODE_HEADER,
    STREAMING,
    ResponseStream,
)

PREFIX = "/2018-06-01/runtime"
ERROR_TYPE_HEADER = b"lambda-runtime-function-error-type"
# What AWS reports for an invocation error whose runtime named no type.
UNHANDLED = "Unhandled"
# What Ember reports for an Init failure whose runtime named no type.
RUNTIME_UNKNOWN = "Runtime.Unknown"


class RuntimeHandlers:
    """The handlers of the Runtime API for one environment."""

    def __init__(self, lifecycle: Lifecycle, max_response_bytes: int) -> None:
        self._lifecycle = lifecycle
        self._limit = max_response_bytes

    def register(self, router: Router) -> None:
        router.add("GET", f"{PREFIX}/invocation/next", self.invocation_next)
        # A function's response or error may be as large as the response limit, but only
        # for the invocation handed out, while it awaits its result (or Init its failure).
        lifecycle = self._lifecycle
        router.add(
            "POST",
            f"{PREFIX}/invocation/{{request_id}}/response",
            self.invocation_response,
            large_body=lambda p: lifecycle.check_complete(p["request_id"], RuntimeEvent.RESPONSE),
            stream=self._open_stream,
        )
        router.add(
            "POST",
            f"{PREFIX}/invocation/{{request_id}}/error",
            self.invocation_error,
            large_body=lambda p: lifecycle.check_complete(p["request_id"], RuntimeEvent.ERROR),
        )
        router.add(
            "POST",
            f"{PREFIX}/init/error",
            self.init_error,
            large_body=lambda _: lifecycle.check_init_error(),
        )

    def invocation_next(self, request: Request, params: Mapping[str, str]) -> Reply | None:
        """GET /invocation/next: long poll; None when parked until an invocation comes."""
        return self._lifecycle.next(request)

    def invocation_response(self, request: Request, params: Mapping[str, str]) -> Reply:
        """POST /invocation/{id}/response: 202."""
        return self._complete(request, params["request_id"], RuntimeEvent.RESPONSE, None)

    def _open_stream(
        self, params: Mapping[str, str], headers: Mapping[bytes, bytes]
    ) -> ResponseStream | None:
        """The head of a streamed POST /response: its body goes to the invocation's stream."""
        content_type = headers.get(b"content-type")
        return self._lifecycle.open_stream(
            params["request_id"], content_type.decode("latin-1") if content_type else None
        )

    def invocation_error(self, request: Request, params: Mapping[str, str]) -> Reply:
        """POST /invocation/{id}/error: 202."""
        error_type = request.header(ERROR_TYPE_HEADER) or UNHANDLED
        return self._complete(request, params["request_id"], RuntimeEvent.ERROR, error_type)

    def init_error(self, request: Request, params: Mapping[str, str]) -> Reply:
        """POST /init/error: 202 (403 once Init is over)."""
        if request.oversize:
            self._lifecycle.init_error(
                InitError(RESPONSE_SIZE_TOO_LARGE, response_too_large_body(self._limit))
            )
            return entity_too_large_reply(self._limit)
        error_type = (
            request.header(ERROR_TYPE_HEADER) or _body_error_type(request.body) or RUNTIME_UNKNOWN
        )
        self._lifecycle.init_error(InitError(error_type, request.body))
        return ACCEPTED

    def _complete(
        self, request: Request, request_id: str, event: RuntimeEvent, error_type: str | None
    ) -> Reply:
        if request.oversize:
            # AWS: the invocation fails with Function.ResponseSizeTooLarge, the runtime gets 413.
            limit = MAX_STREAMED_RESPONSE_BYTES if request.streamed else self._limit
            too_large = response_too_large_body(limit)
            response = RuntimeResponse(request_id, too_large, RESPONSE_SIZE_TOO_LARGE)
            self._lifecycle.complete(request_id, event, response)
            return entity_too_large_reply(limit)
        body = request.body
        mode = request.headers.get(RESPONSE_MODE_HEADER)
        if event is RuntimeEvent.RESPONSE and (
            request.streamed or (mode is not None and mode.lower() == STREAMING)
        ):
            # A streamed response may end with an error in its trailers: still a response
            # (the state machine's), but the invocation reports that error.
            reported = trailer_error(request.headers)
            if reported is not None:
                error_type, body = reported
        self._lifecycle.complete(request_id, event, RuntimeResponse(request_id, body, error_type))
        return ACCEPTED


def _body_error_type(body: bytes) -> str | None:
    """The errorType field of a JSON error body, if it has a usable one."""
    try:
        document = json.loads(body)
    except ValueError:
        return None
    error_type = document.get("errorType") if isinstance(document, dict) else None
    return error_type if isinstance(error_type, str) and error_type else None
