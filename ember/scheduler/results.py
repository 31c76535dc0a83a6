"""What goes into an invocation and what comes out: a function's failure is data."""

from __future__ import annotations

import dataclasses

import orjson

from ember.runtime_api.streaming import ResponseStream


@dataclasses.dataclass(frozen=True, slots=True)
class InvokeRequest:
    request_id: str
    payload: bytes
    invoked_function_arn: str
    client_context: str | None = None  # decoded JSON text
    cognito_identity: str | None = None
    trace_id: str = ""
    want_log_tail: bool = False
    # Where a response the function streams goes as it comes (InvokeWithResponseStream,
    # streaming URLs); None: a streamed response is buffered like any other.
    stream: ResponseStream | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class InvocationResult:
    payload: bytes
    # None on success; else the X-Amz-Function-Error value ("Unhandled").
    function_error: str | None = None
    error_type: str | None = None  # e.g. Runtime.ExitError, Sandbox.Timedout
    executed_version: str = "$LATEST"
    log_tail: bytes = b""  # the invocation's log lines (the API keeps the last 4 KB)
    duration_ms: float = 0.0
    init_duration_ms: float | None = None
    restore_duration_ms: float | None = None  # a SnapStart restore came before this invocation

    @classmethod
    def platform_error(
        cls, error_type: str, message: str, **kwargs: float | str | bytes | None
    ) -> InvocationResult:
        """An error the platform reports for the function (crash, timeout)."""
        body = orjson.dumps({"errorType": error_type, "errorMessage": message})
        return cls(payload=body, function_error="Unhandled", error_type=error_type, **kwargs)  # type: ignore[arg-type]
