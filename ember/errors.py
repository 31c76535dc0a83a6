"""The one tree of errors Ember answers with, in AWS Lambda's wire vocabulary.

    LambdaError                              (500, Service)  ServiceException
    ├── InvalidParameterValueError           (400, User)
    ├── ValidationError                      (400, User)     ValidationException
    ├── InvalidRequestContentError           (400, User)
    ├── AccessDeniedError                    (403, User)
    ├── UnrecognizedClientError              (403, User)     unknown key or session token
    ├── InvalidSignatureError                (403, User)     wrong signature, expired date
    ├── IncompleteSignatureError             (403, User)     a malformed signature
    ├── MissingAuthenticationTokenError      (403, User)     no signature at all
    ├── ExpiredTokenError                    (403, User)     expired session credentials
    ├── ResourceNotFoundError                (404, User)
    │   └── CodeSigningConfigMissingError    (404)           no `Type`, as AWS answers
    ├── CodeSigningConfigNotFoundError       (404, User)     a function names a missing config
    ├── CodeVerificationFailedError          (400, User)     Enforce, and no verifiable signature
    ├── ResourceConflictError                (409, User)
    ├── PreconditionFailedError              (412, User)
    ├── PolicyLengthExceededError            (400, User)     a resource policy over 20 KB
    ├── RequestTooLargeError                 (413, User)
    ├── RequestEntityTooLargeError           (413, User)
    ├── TooManyRequestsError                 (429, User)     carries Reason
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
    typed: ClassVar[bool] = True  # False where AWS leaves `Type` out though its model has it

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


class AccessDeniedError(LambdaError):
    code = "AccessDeniedException"
    status = 403
    fault = "User"


class UnrecognizedClientError(LambdaError):
    code = "UnrecognizedClientException"
    status = 403
    fault = "User"


class InvalidSignatureError(LambdaError):
    code = "InvalidSignatureException"
    status = 403
    fault = "User"


class IncompleteSignatureError(LambdaError):
    code = "IncompleteSignatureException"
    status = 403
    fault = "User"


class MissingAuthenticationTokenError(LambdaError):
    code = "MissingAuthenticationTokenException"
    status = 403
    fault = "User"


class ExpiredTokenError(LambdaError):
    code = "ExpiredTokenException"
    status = 403
    fault = "User"


class ResourceNotFoundError(LambdaError):
    code = "ResourceNotFoundException"
    status = 404
    fault = "User"


class CodeSigningConfigMissingError(ResourceNotFoundError):
    """AWS's answer for a code-signing config that does not exist: no `Type` in the body."""

    typed = False


class CodeSigningConfigNotFoundError(LambdaError):
    code = "CodeSigningConfigNotFoundException"
    status = 404
    fault = "User"


class CodeVerificationFailedError(LambdaError):
    code = "CodeVerificationFailedException"
    status = 400
    fault = "User"


class ResourceConflictError(LambdaError):
    code = "ResourceConflictException"
    status = 409
    fault = "User"


class PreconditionFailedError(LambdaError):
    code = "PreconditionFailedException"
    status = 412
    fault = "User"


class PolicyLengthExceededError(LambdaError):
    code = "PolicyLengthExceededException"
    status = 400
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


class UnknownOperationError(LambdaError):
    code = "UnknownOperationException"
    status = 404
    fault = "User"


class ServiceError(LambdaError):
    code = "ServiceException"
    status = 500
    fault = "Service"
