"""SNS's errors, in its codes and statuses (botocore's `sns` model). The query door
renders them all as `<ErrorResponse><Error><Type>Sender</Type><Code>…`."""

from __future__ import annotations

from ember.errors import LambdaError


class NotFoundError(LambdaError):
    code = "NotFound"
    status = 404
    fault = "User"


class InvalidParameterError(LambdaError):
    """SNS words these `Invalid parameter: <what>`."""

    code = "InvalidParameter"
    status = 400
    fault = "User"

    def __init__(self, what: str) -> None:
        super().__init__(f"Invalid parameter: {what}")


class ParameterValueInvalidError(LambdaError):
    code = "ParameterValueInvalid"
    status = 400
    fault = "User"


class InvalidActionError(LambdaError):
    code = "InvalidAction"
    status = 400
    fault = "User"


class MissingParameterError(LambdaError):
    code = "MissingParameter"
    status = 400
    fault = "User"


class BatchEntryIdsNotDistinctError(LambdaError):
    code = "BatchEntryIdsNotDistinct"
    status = 400
    fault = "User"


class EmptyBatchRequestError(LambdaError):
    code = "EmptyBatchRequest"
    status = 400
    fault = "User"


class TooManyEntriesInBatchRequestError(LambdaError):
    code = "TooManyEntriesInBatchRequest"
    status = 400
    fault = "User"


class InvalidBatchEntryIdError(LambdaError):
    code = "InvalidBatchEntryId"
    status = 400
    fault = "User"


class InternalError(LambdaError):
    code = "InternalError"
    status = 500
    fault = "Service"
