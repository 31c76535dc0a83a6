"""The Lambda Runtime API (2018-06-01) and Extensions API (2020-01-01) served to one
execution environment.

Owns: one small HTTP/1.1 server per environment (`RuntimeEndpoint`) that a runtime —
Ember's own bootstrap or AWS's unmodified `awslambdaric` — polls for invocations and
answers, and that extensions register with and poll for INVOKE and SHUTDOWN events; the
Runtime API state machine (`states`) and each extension's (`extensions`); the Telemetry
API's subscriptions and their deliveries (`telemetry`), on the same server.

Must never import: `ember.scheduler`, `ember.api`, `ember.control`, `ember.invoke`,
`ember.sandbox`. The scheduler drives an endpoint; an endpoint knows nothing above it.

Modules: `endpoint` (lifecycle of the server), `lifecycle` (state, parked poll, in-flight
invocation), `handlers` (one per HTTP endpoint), `extensions` and `extension_handlers`
(registrations, events, one handler per endpoint), `connection` (HTTP/1.1 on httptools),
`routing`, `messages` (requests, replies, AWS's bodies), `states`, `invocation`, `errors`,
`streaming` (a streamed response on its way from the runtime's connection to the invoker),
`restore` (SnapStart's restore/next and restore/error), `telemetry` (PUT /2022-07-01/telemetry,
batches POSTed to each subscriber).
"""

from ember.runtime_api.endpoint import EndpointStatistics, RuntimeEndpoint
from ember.runtime_api.errors import (
    EndpointBusyError,
    EndpointClosedError,
    EndpointError,
    ExtensionRejectedError,
    InitFailedError,
    InvalidRequestIDError,
    InvalidStateTransitionError,
    RequestRejectedError,
    RuntimeAPIError,
)
from ember.runtime_api.extensions import Extension, ExtensionState
from ember.runtime_api.invocation import InitError, Invocation, RuntimeResponse
from ember.runtime_api.messages import MAX_RESPONSE_BYTES, RESPONSE_SIZE_TOO_LARGE
from ember.runtime_api.states import TRANSITIONS, RuntimeEvent, RuntimeState, transition

__all__ = [
    "MAX_RESPONSE_BYTES",
    "RESPONSE_SIZE_TOO_LARGE",
    "TRANSITIONS",
    "EndpointBusyError",
    "EndpointClosedError",
    "EndpointError",
    "EndpointStatistics",
    "Extension",
    "ExtensionRejectedError",
    "ExtensionState",
    "InitError",
    "InitFailedError",
    "InvalidRequestIDError",
    "InvalidStateTransitionError",
    "Invocation",
    "RequestRejectedError",
    "RuntimeAPIError",
    "RuntimeEndpoint",
    "RuntimeEvent",
    "RuntimeResponse",
    "RuntimeState",
    "transition",
]
