"""EventBridge's errors beyond the shared tree (ValidationException and
ResourceNotFoundException come from ember.errors; InvalidEventPatternException from
ember.patterns). The JSON 1.1 door renders them all as `{"__type", "message"}`."""

from __future__ import annotations

from ember.errors import LambdaError, ValidationError


class InvalidScheduleError(ValidationError):
    """A ScheduleExpression EventBridge refuses, in its words."""

    def __init__(self) -> None:
        super().__init__("Parameter ScheduleExpression is not valid.")


class LimitExceededError(LambdaError):
    code = "LimitExceededException"
    status = 400
    fault = "User"


class InternalError(LambdaError):
    code = "InternalException"
    status = 500
    fault = "Service"


class SerializationError(LambdaError):
    """A body that is not a JSON object."""

    code = "SerializationException"
    status = 400
    fault = "User"
