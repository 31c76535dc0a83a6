"""The one tree of errors Ember answers with, in AWS Lambda's wire vocabulary.

    LambdaError                              (500, Service)  ServiceException
    ├── InvalidParameterValueError           (400, User)
    ├── ValidationError                      (400, User)     ValidationException
    ├── InvalidRequestContentError           (400, User)
    ├── UnsupportedMediaTypeError            (415, User)
    ├── AccessDeniedError                    (403, User)
    ├── ResourceNotFoundError                (404, User)
    ├── ResourceConflictError                (409, User)
    ├── ResourceInUseError                   (400, User)
    ├── PreconditionFailedError              (412, User)
    ├── RequestTooLargeError                 (413, User)
    ├── RequestEntityTooLargeError           (413, User)
    ├── TooManyRequestsError                 (429, User)     carries Reason
    ├── InvalidZipFileError                  (502, User)
    ├── UnknownOperationError                (404, User)     UnknownOperationException
    └── ServiceError                         (500, Service)  ServiceException

Each class names the AWS error code it renders as; `api/` renders them in one place.
A *function's* failure is never one of these: it travels as data (`InvocationResult`).
"""

from __future__ import annotations

from typing import ClassVar


class LambdaError(Exception):
    """Base of every error Ember reports to an API caller."""

    code: ClassVar[str] = "ServiceException"
    status: ClassVar[int] = 500
    fault: ClassVar[str] = "Service"  # the `Type` field AWS puts in the body

    def __init__(self, message: str, **extra: str | int) -> None:
        super().__init__(message)
        self.message = message
        # Extra body fields AWS adds for some errors (e.g. Reason on a throttle).
        self.extra = extra


class InvalidParameterValueError(LambdaError):
    code = "InvalidParameterValueException"
    status = 400
    fault = "User"


class ValidationError(LambdaError):
    code = "ValidationException"
    status = 400
    fault = "User"


class InvalidRequestContentError(LambdaError):
    code = "InvalidRequestContentException"
    status = 400
    fault = "User"


class UnsupportedMediaTypeError(LambdaError):
    code = "UnsupportedMediaTypeException"
    status = 415
    fault = "User"


class AccessDeniedError(LambdaError):
    code = "AccessDeniedException"
    status = 403
    fault = "User"


class ResourceNotFoundError(LambdaError):
    code = "ResourceNotFoundException"
    status = 404
    fault = "User"


class ResourceConflictError(LambdaError):
    code = "ResourceConflictException"
    status = 409
    fault = "User"


class ResourceInUseError(LambdaError):
    code = "ResourceInUseException"
    status = 400
    fault = "User"


class PreconditionFailedError(LambdaError):
    code = "PreconditionFailedException"
    status = 412
    fault = "User"


class RequestTooLargeError(LambdaError):
    code = "RequestTooLargeException"
    status = 413
    fault = "User"


class RequestEntityTooLargeError(LambdaError):
    code = "RequestEntityTooLargeException"
    status = 413
    fault = "User"


class TooManyRequestsError(LambdaError):
    code = "TooManyRequestsException"
    status = 429
    fault = "User"


class InvalidZipFileError(LambdaError):
    code = "InvalidZipFileException"
    status = 502
    fault = "User"


class UnknownOperationError(LambdaError):
    code = "UnknownOperationException"
    status = 404
    fault = "User"


class ServiceError(LambdaError):
    code = "ServiceException"
    status = 500
    fault = "Service"
