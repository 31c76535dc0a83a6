"""Where an asynchronous invocation's results may go: destination and dead-letter ARNs.

Ember delivers to its own functions, queues and topics. As on AWS, a queue or topic is not
looked up when the config is set (AWS checks only the execution role's permission, and
Ember has no IAM): one that does not exist fails at delivery, which Ember logs and counts.
ARNs of services Ember does not run (EventBridge, S3) are refused with a clear error rather
than accepted and ignored.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ember.control.names import FunctionRef
from ember.errors import InvalidParameterValueError

# Services Lambda delivers to that have no Ember counterpart yet: service -> what it is.
_NOT_HERE = {
    "events": "EventBridge event buses",
    "s3": "S3 buckets",
}
# Services whose messages Ember's queues and topics take (ember/invoke/sinks.py).
MESSAGE_SERVICES = frozenset({"sqs", "sns"})
_ARN = re.compile(r"arn:[^:]+:(?P<service>[^:]+):(?P<region>[^:]*):(?P<account>[^:]*):(?P<rest>.*)")
# A queue or topic ARN: arn:aws:sqs:REGION:ACCOUNT:NAME (names as SQS and SNS allow them).
_MESSAGE_ARN = re.compile(r"arn:aws[a-zA-Z-]*:(sqs|sns):[a-z0-9-]+:\d{12}:[a-zA-Z0-9_.-]{1,256}")
_FUNCTION = re.compile(
    r"function:(?P<name>[a-zA-Z0-9-_]+)(?::(?P<qualifier>\$LATEST|[a-zA-Z0-9-_]+))?"
)

# (name, qualifier) -> does that function (version, alias) exist?
Exists = Callable[[str, str | None], bool]


def function_target(arn: str, region: str, account: str) -> FunctionRef | None:
    """The function an ARN names, if it is a Lambda function ARN of this region and account."""
    match = _ARN.fullmatch(arn)
    if match is None or match["service"] != "lambda":
        return None
    if match["region"] != region or match["account"] != account:
        return None
    function = _FUNCTION.fullmatch(match["rest"])
    if function is None:
        return None
    return FunctionRef(function["name"], function["qualifier"])


def _service(arn: str) -> str | None:
    match = _ARN.fullmatch(arn)
    return match["service"] if match else None


def message_service(arn: str) -> str | None:
    """ "sqs" or "sns" for a well-formed queue or topic ARN, else None."""
    match = _MESSAGE_ARN.fullmatch(arn)
    return match.group(1) if match else None


def _not_here(arn: str, service: str, use: str) -> InvalidParameterValueError:
    return InvalidParameterValueError(
        f"Ember cannot deliver {use} to {_NOT_HERE[service]} yet ({arn}): use the ARN of an "
        "Ember function (arn:aws:lambda:REGION:ACCOUNT:function:NAME)"
    )


def _config_text(on_success: str | None, on_failure: str | None) -> str:
    """DestinationConfig as AWS quotes it in errors (Java's toString of the request)."""

    def part(kind: str, arn: str | None) -> str:
        if arn is None:
            return "null"
        return f"{kind}(destination={arn or 'null'})"

    return (
        f"DestinationConfig(onSuccess={part('OnSuccess', on_success)}, "
        f"onFailure={part('OnFailure', on_failure)})"
    )


def check_destinations(
    on_success: str | None,
    on_failure: str | None,
    *,
    own_name: str,
    region: str,
    account: str,
    exists: Exists,
) -> None:
    """Refuse a DestinationConfig Ember cannot honour, with AWS's messages where AWS has
    one. None: that member was not given; "": given without a Destination (allowed)."""
    for arn in (on_success, on_failure):
        if not arn:
            continue
        service = _service(arn)
        if service == "lambda":
            target = function_target(arn, region, account)
            if target is not None and target.name == own_name:
                raise InvalidParameterValueError(
                    "You can't specify the function as a destination for itself."
                )
            if target is None or not exists(target.name, target.qualifier):
                raise InvalidParameterValueError(f"The destination ARN {arn} is invalid.")
        elif service in MESSAGE_SERVICES:
            if message_service(arn) is None:
                raise InvalidParameterValueError(f"The destination ARN {arn} is invalid.")
        elif service in _NOT_HERE:
            raise _not_here(arn, service, "asynchronous invocation records")
        else:
            raise InvalidParameterValueError(
                f"The provided destination config {_config_text(on_success, on_failure)} "
                "is invalid."
            )


def check_dead_letter(
    arn: str, *, own_name: str, region: str, account: str, exists: Exists
) -> None:
    """Refuse a DeadLetterConfig.TargetArn Ember cannot honour ("" clears it)."""
    if not arn:
        return
    service = _service(arn)
    if service in MESSAGE_SERVICES:
        if message_service(arn) is None:
            raise InvalidParameterValueError(
                f"The dead-letter target {arn} is invalid: a queue or topic ARN is "
                "arn:aws:sqs:REGION:ACCOUNT:NAME (sns for a topic)"
            )
        return
    target = function_target(arn, region, account)
    if target is None:
        raise InvalidParameterValueError(
            f"The dead-letter target {arn} is invalid: Ember delivers dead letters to its "
            "functions, queues and topics (arn:aws:lambda:REGION:ACCOUNT:function:NAME, "
            "arn:aws:sqs:REGION:ACCOUNT:NAME, arn:aws:sns:REGION:ACCOUNT:NAME)"
        )
    if target.name == own_name:
        raise InvalidParameterValueError(
            "You can't specify the function as its own dead-letter target."
        )
    if not exists(target.name, target.qualifier):
        raise InvalidParameterValueError(
            f"The dead-letter target {arn} is invalid: no such function exists"
        )
