"""What the platform hands a runtime, and what the runtime reports back."""

from __future__ import annotations

from dataclasses import dataclass

from ember.runtime_api.streaming import ResponseStream


@dataclass(frozen=True, slots=True)
class Invocation:
    """One invocation as GET /next delivers it (payload as body, the rest as headers)."""

    request_id: str
    payload: bytes
    deadline_ms: int  # epoch milliseconds
    invoked_function_arn: str
    trace_id: str
    client_context: str | None = None  # JSON text, sent as Lambda-Runtime-Client-Context
    cognito_identity: str | None = None  # JSON text, sent as Lambda-Runtime-Cognito-Identity
    # Where a streamed response goes as it arrives; None: the invoker wants it whole (a
    # streamed response is then buffered, within the buffered limit).
    stream: ResponseStream | None = None


@dataclass(frozen=True, slots=True)
class RuntimeResponse:
    """What the runtime reported for an invocation."""

    request_id: str
    body: bytes
    # None: POST /response. Otherwise POST /error's Lambda-Runtime-Function-Error-Type
    # ("Unhandled" when absent), a streamed response's trailer of that name, or
    # Function.ResponseSizeTooLarge for an oversize body.
    error_type: str | None


@dataclass(frozen=True, slots=True)
class InitError:
    """What the runtime reported with POST /init/error."""

    error_type: str  # the header, else the body's errorType, else "Runtime.Unknown"
    body: bytes
