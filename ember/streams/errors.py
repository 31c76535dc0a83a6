"""Kinesis's errors, as its JSON 1.1 protocol answers them (`{"__type": <code>, "message"}`).

StreamError (LambdaError, 400 User)
├── StreamNotFoundError                 ResourceNotFoundException
├── StreamInUseError                    ResourceInUseException
├── InvalidArgumentError                InvalidArgumentException
├── StreamValidationError               ValidationException (the model's constraints)
├── ExpiredIteratorError                ExpiredIteratorException
├── ThroughputExceededError             ProvisionedThroughputExceededException
├── LimitExceededError                  LimitExceededException
├── SerializationError                  SerializationException
└── UnknownOperationError               UnknownOperationException
"""

from __future__ import annotations

from ember.errors import LambdaError


class StreamError(LambdaError):
    status = 400
    fault = "User"


class StreamNotFoundError(StreamError):
    code = "ResourceNotFoundException"


class StreamInUseError(StreamError):
    code = "ResourceInUseException"


class InvalidArgumentError(StreamError):
    code = "InvalidArgumentException"


class StreamValidationError(StreamError):
    code = "ValidationException"


class ExpiredIteratorError(StreamError):
    code = "ExpiredIteratorException"


class ThroughputExceededError(StreamError):
    code = "ProvisionedThroughputExceededException"


class LimitExceededError(StreamError):
    code = "LimitExceededException"


class SerializationError(StreamError):
    code = "SerializationException"


class UnknownOperationError(StreamError):
    code = "UnknownOperationException"


def constraint(value: object, member: str, rule: str) -> StreamValidationError:
    """AWS's wording for a request member that breaks the model's constraints."""
    return StreamValidationError(
        f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy "
        f"constraint: {rule}"
    )


def stream_not_found(name: str, account: str) -> StreamNotFoundError:
    return StreamNotFoundError(f"Stream {name} under account {account} not found.")
