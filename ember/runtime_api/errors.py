"""The errors of the Runtime API, for the runtime on one side and the platform on the other.

    RuntimeAPIError                       base of everything this package raises
    ├── RequestRejectedError              a runtime's request refused; rendered to it as
    │   │                                 {"errorMessage": ..., "errorType": ...}
    │   ├── InvalidStateTransitionError   403 InvalidStateTransition
    │   ├── InvalidRequestIDError         400 InvalidRequestID
    │   └── ExtensionRejectedError        403 Extension.* (the Extensions API's refusals)
    └── EndpointError                     raised to the platform by RuntimeEndpoint's calls
        ├── EndpointClosedError           closed, or abandoned after a cancelled invoke
        ├── InitFailedError               the runtime reported /init/error (carries InitError)
        └── EndpointBusyError             invoke() while another invocation is in flight

Status codes, error types and messages are those of AWS's Runtime Interface Emulator
(`lambda/rapi/rendering`, `lambda/core/states.go`). These are not `ember.errors`: that
tree answers API callers; this one answers the code running inside an environment.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ember.runtime_api.invocation import InitError
    from ember.runtime_api.states import RuntimeEvent, RuntimeState


class RuntimeAPIError(Exception):
    """Base of every error this package raises."""


class RequestRejectedError(RuntimeAPIError):
    """A runtime's request that the Runtime API refuses; the HTTP layer renders it."""

    # Per class, except ExtensionRejectedError, whose type varies with the refusal.
    status: int = 400
    error_type: str = "InvalidRequest"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidStateTransitionError(RequestRejectedError):
    """The runtime asked for a transition its current state does not allow."""

    status = 403
    error_type = "InvalidStateTransition"

    def __init__(self, state: RuntimeState, event: RuntimeEvent) -> None:
        # The RIE's StateTransitionFailedForRuntimeMessageFormat with core.ErrNotAllowed.
        super().__init__(
            f"State transition from {state} to {event} failed for runtime. "
            "Error: State transition is not allowed"
        )
        self.state = state
        self.event = event


class InvalidRequestIDError(RequestRejectedError):
    """The request id in the path is not the invocation currently handed out."""

    status = 400
    error_type = "InvalidRequestID"

    def __init__(self) -> None:
        super().__init__("Invalid request ID")


class ExtensionRejectedError(RequestRejectedError):
    """An Extensions API request refused, with the RIE's error type (always a 403)."""

    status = 403

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


class EndpointError(RuntimeAPIError):
    """A platform-side call on a RuntimeEndpoint that cannot be served."""


class EndpointClosedError(EndpointError):
    """The endpoint is closed, or was abandoned: its environment must be destroyed."""


class InitFailedError(EndpointError):
    """The runtime reported an Init failure; the environment can never take work."""

    def __init__(self, init_error: InitError) -> None:
        super().__init__(f"the runtime failed to initialise: {init_error.error_type}")
        self.init_error = init_error


class EndpointBusyError(EndpointError):
    """An environment runs one invocation at a time; another is already in flight."""
