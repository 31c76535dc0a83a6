"""DynamoDB's and DynamoDB Streams' errors, as their JSON 1.0 protocol answers them
(`{"__type": "com.amazonaws.dynamodb.v20120810#<code>", "message"}`, HTTP 400).

    TableError (LambdaError, 400 User)
    ├── TableNotFoundError              ResourceNotFoundException
    ├── TableInUseError                 ResourceInUseException
    ├── TableValidationError            ValidationException
    ├── ConditionalCheckFailedError     ConditionalCheckFailedException (may carry Item)
    ├── TransactionCanceledError        TransactionCanceledException (CancellationReasons)
    ├── ExpiredIteratorError            ExpiredIteratorException (streams)
    ├── TrimmedDataAccessError          TrimmedDataAccessException (streams)
    ├── SerializationError              SerializationException
    └── UnknownOperationError           UnknownOperationException
"""

from __future__ import annotations

from typing import Any

from ember.errors import LambdaError

NOT_FOUND = "Requested resource not found"


class TableError(LambdaError):
    status = 400
    fault = "User"


class TableNotFoundError(TableError):
    code = "ResourceNotFoundException"


class TableInUseError(TableError):
    code = "ResourceInUseException"


class TableValidationError(TableError):
    code = "ValidationException"


class ConditionalCheckFailedError(TableError):
    code = "ConditionalCheckFailedException"

    def __init__(self, item: dict[str, Any] | None = None) -> None:
        super().__init__("The conditional request failed")
        self.item = item  # ReturnValuesOnConditionCheckFailure ALL_OLD


class TransactionCanceledError(TableError):
    code = "TransactionCanceledException"

    def __init__(self, reasons: list[dict[str, Any]]) -> None:
        codes = ", ".join(r["Code"] for r in reasons)
        super().__init__(
            "Transaction cancelled, please refer cancellation reasons for specific reasons "
            f"[{codes}]"
        )
        self.reasons = reasons


class ExpiredIteratorError(TableError):
    code = "ExpiredIteratorException"


class TrimmedDataAccessError(TableError):
    code = "TrimmedDataAccessException"


class SerializationError(TableError):
    code = "SerializationException"


class UnknownOperationError(TableError):
    code = "UnknownOperationException"


def table_not_found(name: str) -> TableNotFoundError:
    return TableNotFoundError(f"{NOT_FOUND}: Table: {name} not found")


def constraint(value: object, member: str, rule: str) -> TableValidationError:
    """AWS's wording for a request member that breaks the model's constraints."""
    return TableValidationError(
        f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy "
        f"constraint: {rule}"
    )
