"""Queue names and queue attributes: what CreateQueue and SetQueueAttributes accept, their
ranges and defaults, and AWS's answers when a value is out of them."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

import orjson

from ember.errors import LambdaError
from ember.queues.errors import (
    InvalidAttributeNameError,
    InvalidAttributeValueError,
    QueueInvalidParameterError,
)

FIFO_SUFFIX = ".fifo"
_NAME = re.compile(r"[A-Za-z0-9_-]{1,80}")
_NAME_MESSAGE = (
    "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length"
)
_FIFO_NAME_MESSAGE = (
    "The name of a FIFO queue can only include alphanumeric characters, hyphens, or "
    "underscores, must end with .fifo suffix and be 1 to 80 in length."
)

# name -> (lowest, highest) for the integer attributes (AWS's documented ranges).
RANGES: dict[str, tuple[int, int]] = {
    "DelaySeconds": (0, 900),
    "MaximumMessageSize": (1024, 1_048_576),
    "MessageRetentionPeriod": (60, 1_209_600),
    "ReceiveMessageWaitTimeSeconds": (0, 20),
    "VisibilityTimeout": (0, 43_200),
    "KmsDataKeyReusePeriodSeconds": (60, 86_400),
}
DEFAULTS: dict[str, str] = {
    "VisibilityTimeout": "30",
    "MaximumMessageSize": "1048576",
    "MessageRetentionPeriod": "345600",
    "DelaySeconds": "0",
    "ReceiveMessageWaitTimeSeconds": "0",
    "SqsManagedSseEnabled": "true",
}
FIFO_DEFAULTS: dict[str, str] = {
    "FifoQueue": "true",
    "ContentBasedDeduplication": "false",
    "DeduplicationScope": "queue",
    "FifoThroughputLimit": "perQueue",
}
_CHOICES: dict[str, tuple[str, ...]] = {
    "ContentBasedDeduplication": ("true", "false"),
    "SqsManagedSseEnabled": ("true", "false"),
    "DeduplicationScope": ("messageGroup", "queue"),
    "FifoThroughputLimit": ("perQueue", "perMessageGroupId"),
}
SETTABLE = frozenset(
    {*RANGES, "Policy", "RedrivePolicy", "RedriveAllowPolicy", "KmsMasterKeyId",
     "SqsManagedSseEnabled"}
)  # fmt: skip
FIFO_ONLY = frozenset({"ContentBasedDeduplication", "DeduplicationScope", "FifoThroughputLimit"})
COUNTS = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
)
READ_ONLY = frozenset({*COUNTS, "CreatedTimestamp", "LastModifiedTimestamp", "QueueArn"})
READABLE = SETTABLE | FIFO_ONLY | READ_ONLY | {"FifoQueue"}
MAX_RECEIVE_RANGE = (1, 1000)


@dataclasses.dataclass(frozen=True, slots=True)
class Redrive:
    """A queue's RedrivePolicy: where messages go after `max_receives` receives."""

    dead_letter_arn: str
    max_receives: int


def check_name(name: str, *, fifo: bool) -> None:
    """A queue name AWS accepts for this queue type (the `.fifo` suffix counts in the 80)."""
    if fifo:
        base = name.removesuffix(FIFO_SUFFIX)
        if base == name or not base or not _NAME.fullmatch(base + "_fifo"):
            raise QueueInvalidParameterError(_FIFO_NAME_MESSAGE)
    elif not _NAME.fullmatch(name):
        raise QueueInvalidParameterError(_NAME_MESSAGE)


def is_fifo_request(name: str, attributes: Mapping[str, str]) -> bool:
    """Whether CreateQueue asks for a FIFO queue (FifoQueue=true; a `.fifo` name alone does
    not make one: AWS refuses that name for a standard queue)."""
    value = attributes.get("FifoQueue")
    if value is None:
        return False
    if value.lower() not in ("true", "false"):
        raise InvalidAttributeValueError("Invalid value for the parameter FifoQueue.")
    return value.lower() == "true"


def normalise(given: Mapping[str, Any], *, fifo: bool, creating: bool) -> dict[str, str]:
    """Check `given` attributes and return them in the form GetQueueAttributes shows.
    Raises InvalidAttributeName / InvalidAttributeValue / InvalidParameterValue."""
    result: dict[str, str] = {}
    for name, raw in given.items():
        value = str(raw)
        if name == "FifoQueue":
            if not fifo:  # even "false": AWS knows the attribute only on FIFO queues
                raise InvalidAttributeNameError(f"Unknown Attribute {name}.")
            if creating:
                result[name] = "true"
                continue
            raise InvalidAttributeValueError(
                "Invalid value for the parameter FifoQueue. Reason: Modifying queue type is "
                "not supported."
            )
        if name in FIFO_ONLY and not fifo:
            raise InvalidAttributeNameError(f"Unknown Attribute {name}.")
        if name not in SETTABLE and name not in FIFO_ONLY:
            raise InvalidAttributeNameError(f"Unknown Attribute {name}.")
        result[name] = _value(name, value)
    return result


def _value(name: str, value: str) -> str:
    invalid = InvalidAttributeValueError(f"Invalid value for the parameter {name}.")
    if name in RANGES:
        low, high = RANGES[name]
        if not re.fullmatch(r"-?[0-9]{1,12}", value.strip()):
            raise invalid
        number = int(value)
        if not low <= number <= high:
            raise invalid
        return str(number)
    if name in _CHOICES:
        if value not in _CHOICES[name]:
            raise invalid
        return value
    if name == "RedrivePolicy":
        return "" if value == "" else _redrive_json(value)
    if name == "RedriveAllowPolicy":
        return _redrive_allow_json(value)
    if name == "Policy" and value:
        try:
            orjson.loads(value)
        except orjson.JSONDecodeError:
            raise invalid from None
    return value


def _redrive_json(value: str) -> str:
    redrive = parse_redrive(value)
    return orjson.dumps(
        {"deadLetterTargetArn": redrive.dead_letter_arn, "maxReceiveCount": redrive.max_receives}
    ).decode()


def parse_redrive(value: str) -> Redrive:
    """A RedrivePolicy's JSON, checked as AWS checks it (before looking the queue up)."""

    def bad(reason: str) -> LambdaError:
        return QueueInvalidParameterError(
            f"Value {value} for parameter RedrivePolicy is invalid. Reason: {reason}"
        )

    try:
        doc = orjson.loads(value)
    except orjson.JSONDecodeError:
        raise bad("Redrive policy is not a valid JSON map.") from None
    if not isinstance(doc, dict):
        raise bad("Redrive policy is not a valid JSON map.")
    arn = doc.get("deadLetterTargetArn")
    if not isinstance(arn, str) or not arn.startswith("arn:") or arn.count(":") != 5:
        raise bad("Invalid value for deadLetterTargetArn.")
    count = doc.get("maxReceiveCount")
    try:
        receives = int(count)  # type: ignore[arg-type]  # AWS takes "5" as well as 5
    except (TypeError, ValueError):
        raise bad("Redrive policy does not contain mandatory attribute: maxReceiveCount.") from None
    low, high = MAX_RECEIVE_RANGE
    if not low <= receives <= high:
        raise bad(
            f"Invalid value for maxReceiveCount: {receives}, valid values are from {low} to "
            f"{high} both inclusive."
        )
    return Redrive(arn, receives)


def _redrive_allow_json(value: str) -> str:
    def bad(reason: str) -> LambdaError:
        return QueueInvalidParameterError(
            f"Value {value} for parameter RedriveAllowPolicy is invalid. Reason: {reason}"
        )

    try:
        doc = orjson.loads(value)
    except orjson.JSONDecodeError:
        raise bad("Amazon SQS can't create the redrive allow policy, as it's in an unsupported "
                  "format.") from None  # fmt: skip
    if not isinstance(doc, dict) or doc.get("redrivePermission") not in (
        "allowAll", "denyAll", "byQueue"
    ):  # fmt: skip
        raise bad("Amazon SQS can't create the redrive allow policy, as it's in an unsupported "
                  "format.")  # fmt: skip
    sources = doc.get("sourceQueueArns")
    if doc["redrivePermission"] == "byQueue":
        if not isinstance(sources, list) or not 1 <= len(sources) <= 10:
            raise bad("To specify a source queue, you must set redrivePermission to byQueue "
                      "and list 1 to 10 source queue ARNs.")  # fmt: skip
    elif sources is not None:
        raise bad("Only byQueue redrivePermission allows sourceQueueArns.")
    return orjson.dumps(doc).decode()


def redrive_allows(allow_policy: str | None, source_arn: str) -> bool:
    """Whether a dead-letter queue with this RedriveAllowPolicy takes `source_arn`."""
    if not allow_policy:
        return True
    doc = orjson.loads(allow_policy)
    permission = doc.get("redrivePermission")
    if permission == "denyAll":
        return False
    if permission == "byQueue":
        return source_arn in doc.get("sourceQueueArns", [])
    return True
