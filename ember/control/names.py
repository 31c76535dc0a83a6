"""Every form AWS accepts for a function's name, parsed into (name, qualifier).

`my-fn`, `my-fn:qual`, `123456789012:function:my-fn[:qual]`,
`arn:aws:lambda:us-east-1:123456789012:function:my-fn[:qual]`. Each operation checks the
value against its own model pattern (writes: `FunctionName`, reads and Invoke:
`NamespacedFunctionName`) and AWS quotes that pattern when it refuses one.
"""

from __future__ import annotations

import dataclasses
import re

from ember.errors import (
    AccessDeniedError,
    InvalidParameterValueError,
    ResourceNotFoundError,
    ValidationError,
)

# botocore's FunctionName pattern (the write operations'), as AWS quotes it in errors.
FUNCTION_NAME_PATTERN = (
    r"(arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?"
    r"(\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?"
)
# Splits a value either pattern accepts (the namespaced one also allows `.` in names and
# `$LATEST.PUBLISHED`: such names can never have been created, so they are simply not found).
_FULL = re.compile(
    r"(?:arn:(?:aws[a-zA-Z-]*)?:lambda:)?"
    r"(?:(?P<region>(?:eusc-)?[a-z]{2}(?:(?:-gov)|(?:-iso(?:[a-z]?)))?-[a-z]+-\d{1}):)?"
    r"(?:(?P<account>\d{12}):)?(?P<function>function:)?(?P<name>[a-zA-Z0-9-_.]+)"
    r"(?::(?P<qualifier>\$LATEST(?:\.PUBLISHED)?|[a-zA-Z0-9-_]+))?"
)


def validation_message(value: str, field: str, constraint: str) -> str:
    return (
        f"1 validation error detected: Value '{value}' at '{field}' "
        f"failed to satisfy constraint: {constraint}"
    )


@dataclasses.dataclass(frozen=True, slots=True)
class FunctionRef:
    name: str
    qualifier: str | None


def parse_function_name(
    value: str,
    region: str,
    *,
    qualifier: str | None = None,
    max_length: int = 140,
    pattern: str = FUNCTION_NAME_PATTERN,
    account: str | None = None,
) -> FunctionRef:
    """Parse and check a FunctionName path parameter as AWS does: against the operation's
    `pattern` and `max_length`, then the name's own 64, the region and the `account`."""
    match = _FULL.fullmatch(value) if re.fullmatch(pattern, value) else None
    if match is None:
        raise ValidationError(
            validation_message(
                value, "functionName", f"Member must satisfy regular expression pattern: {pattern}"
            )
        )
    if len(value) > max_length:
        raise ValidationError(
            validation_message(
                value,
                "functionName",
                f"Member must have length less than or equal to {max_length}",
            )
        )
    name = match.group("name")
    if len(name) > 64:
        raise InvalidParameterValueError(
            validation_message(
                value, "functionName", "Member must have length less than or equal to 64"
            )
        )
    arn_region = match.group("region")
    if arn_region and arn_region != region:
        raise ResourceNotFoundError(
            f"Functions from '{arn_region}' are not reachable in this region ('{region}')"
        )
    arn_account = match.group("account")
    if account is not None and arn_account is not None and arn_account != account:
        # AWS: AccessDeniedException (403) for another account's function.
        raise AccessDeniedError(
            f"Function {name} of account {arn_account} is not accessible: this server holds "
            f"the functions of account {account} only"
        )
    derived = match.group("qualifier")
    if derived is not None and qualifier is not None and derived != qualifier:
        raise InvalidParameterValueError(
            "The derived qualifier from the function name does not match the specified qualifier."
        )
    return FunctionRef(name=name, qualifier=derived if derived is not None else qualifier)
