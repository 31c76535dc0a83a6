"""SQS's errors, as the JSON protocol with `awsQueryCompatible` answers them
(`__type` shape name; `x-amzn-query-error` code, `AWS.SimpleQueueService.` shortened to `…`).

    QueueError (LambdaError)
    ├── QueueDoesNotExistError              QueueDoesNotExist; ….NonExistentQueue
    ├── QueueNameExistsError                QueueNameExists; QueueAlreadyExists
    ├── QueueInvalidParameterError          InvalidParameterValueException; InvalidParameterValue
    │   └── BatchRefusedError               an entry's fault that refuses the whole batch
    ├── MissingParameterError               MissingRequiredParameterException; MissingParameter
    ├── InvalidAttributeNameError           InvalidAttributeName
    ├── InvalidAttributeValueError          InvalidAttributeValue
    ├── InvalidMessageContentsError         InvalidMessageContents
    ├── BatchEntryIdsNotDistinctError       ….BatchEntryIdsNotDistinct
    ├── EmptyBatchRequestError              ….EmptyBatchRequest
    ├── TooManyEntriesInBatchRequestError   ….TooManyEntriesInBatchRequest
    ├── BatchRequestTooLongError            ….BatchRequestTooLong
    ├── InvalidBatchEntryIdError            ….InvalidBatchEntryId
    ├── ReceiptHandleIsInvalidError         ReceiptHandleIsInvalid
    ├── MessageNotInflightError             ….MessageNotInflight
    ├── PurgeQueueInProgressError (403)     ….PurgeQueueInProgress
    └── UnsupportedOperationError           ….UnsupportedOperation

`code` is the shape name botocore reads from `__type` (it picks the exception class);
`query_code` goes in the `x-amzn-query-error` header and becomes `Error.Code`, as on AWS.
"""

from __future__ import annotations

from typing import ClassVar

from ember.errors import LambdaError


class QueueError(LambdaError):
    status = 400
    fault = "User"
    query_code: ClassVar[str] = ""


def _q(name: str) -> str:
    return f"AWS.SimpleQueueService.{name}"


class QueueDoesNotExistError(QueueError):
    code = "QueueDoesNotExist"
    query_code = _q("NonExistentQueue")

    def __init__(self, message: str = "The specified queue does not exist.") -> None:
        super().__init__(message)


class QueueNameExistsError(QueueError):
    code = "QueueNameExists"
    query_code = "QueueAlreadyExists"


class QueueInvalidParameterError(QueueError):
    code = "InvalidParameterValueException"
    query_code = "InvalidParameterValue"


class BatchRefusedError(QueueInvalidParameterError):
    """An entry's fault for which AWS refuses the whole batch (FIFO without a group id or
    a deduplication id)."""


class MissingParameterError(QueueError):
    code = "MissingRequiredParameterException"
    query_code = "MissingParameter"

    @classmethod
    def named(cls, parameter: str) -> MissingParameterError:
        return cls(f"The request must contain the parameter {parameter}.")


class InvalidAttributeNameError(QueueError):
    code = "InvalidAttributeName"
    query_code = "InvalidAttributeName"


class InvalidAttributeValueError(QueueError):
    code = "InvalidAttributeValue"
    query_code = "InvalidAttributeValue"


class InvalidMessageContentsError(QueueError):
    code = "InvalidMessageContents"
    query_code = "InvalidMessageContents"


class BatchEntryIdsNotDistinctError(QueueError):
    code = "BatchEntryIdsNotDistinct"
    query_code = _q("BatchEntryIdsNotDistinct")


class EmptyBatchRequestError(QueueError):
    code = "EmptyBatchRequest"
    query_code = _q("EmptyBatchRequest")


class TooManyEntriesInBatchRequestError(QueueError):
    code = "TooManyEntriesInBatchRequest"
    query_code = _q("TooManyEntriesInBatchRequest")


class BatchRequestTooLongError(QueueError):
    code = "BatchRequestTooLong"
    query_code = _q("BatchRequestTooLong")


class InvalidBatchEntryIdError(QueueError):
    code = "InvalidBatchEntryId"
    query_code = _q("InvalidBatchEntryId")


class ReceiptHandleIsInvalidError(QueueError):
    code = "ReceiptHandleIsInvalid"
    query_code = "ReceiptHandleIsInvalid"


class MessageNotInflightError(QueueError):
    code = "MessageNotInflight"
    query_code = _q("MessageNotInflight")


class PurgeQueueInProgressError(QueueError):
    status = 403
    code = "PurgeQueueInProgress"
    query_code = _q("PurgeQueueInProgress")


class UnsupportedOperationError(QueueError):
    code = "UnsupportedOperation"
    query_code = _q("UnsupportedOperation")


def invalid_value(parameter: str, value: object, reason: str) -> QueueInvalidParameterError:
    """AWS's usual wording for a parameter out of its range."""
    return QueueInvalidParameterError(
        f"Value {value} for parameter {parameter} is invalid. Reason: {reason}"
    )
