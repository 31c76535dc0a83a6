"""CloudWatch Logs' input rules, with its error codes and wording: name constraints (from
botocore's model), the PutLogEvents batch rules, and the request size bound."""

from __future__ import annotations

import dataclasses
import itertools
import re
from typing import Any

import orjson

MAX_BATCH = 1_048_576  # PutLogEvents: messages in UTF-8 plus 26 bytes per event
MAX_EVENTS = 10_000
EVENT_OVERHEAD = 26
# The most a request may carry: a full batch with its JSON around it (10,000 events add
# ~0.5 MB of keys and timestamps); a body past this is refused before it is read.
MAX_BODY = 2 * MAX_BATCH
_TOO_NEW = 2 * 3600 * 1000  # ms: events more than 2 hours ahead are rejected
_TOO_OLD = 14 * 86400 * 1000  # ms: events older than 14 days are rejected
_SPAN = 24 * 3600 * 1000  # ms: one batch may not span more

_AT_LEAST_0 = "Member must have value greater than or equal to 0"
_NOT_EMPTY = "Member must have length greater than or equal to 1"
_GROUP_PATTERN = r"[\.\-_/#A-Za-z0-9]+"
_STREAM_PATTERN = r"[^:*]*"
_NAME_RULES = {
    "logGroupName": (re.compile(_GROUP_PATTERN), _GROUP_PATTERN),
    "logStreamName": (re.compile(_STREAM_PATTERN), _STREAM_PATTERN),
}


CONTENT_TYPE = "application/x-amz-json-1.1"  # CloudWatch Logs' JSON 1.1 protocol


class LogsError(Exception):
    """An error CloudWatch Logs answers with: `{"__type": code, "message": ...}`, 400."""

    status = 400

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def to_json(self) -> bytes:
        return orjson.dumps({"__type": self.code, "message": self.message})


def not_found(what: str) -> LogsError:
    return LogsError("ResourceNotFoundException", f"The specified {what} does not exist.")


def too_large(size: int) -> LogsError:
    return LogsError(
        "InvalidParameterException", f"Upload too large: {size} bytes exceeds limit of {MAX_BATCH}"
    )


def _invalid(errors: list[str]) -> LogsError:
    count = len(errors)
    plural = "s" if count > 1 else ""
    return LogsError(
        "InvalidParameterException",
        f"{count} validation error{plural} detected: " + "; ".join(errors),
    )


def _violation(value: Any, path: str, constraint: str) -> str:
    shown = "null" if value is None else f"'{value}'"
    return f"Value {shown} at '{path}' failed to satisfy constraint: {constraint}"


def _check_name(params: dict[str, Any], member: str, errors: list[str]) -> None:
    value = params.get(member)
    if value is None:
        errors.append(_violation(None, member, "Member must not be null"))
        return
    if not isinstance(value, str):
        raise LogsError("SerializationException", f"{member} must be a string")
    if len(value) < 1:
        errors.append(
            _violation(value, member, "Member must have length greater than or equal to 1")
        )
    if len(value) > 512:
        errors.append(
            _violation(value, member, "Member must have length less than or equal to 512")
        )
    regex, text = _NAME_RULES[member]
    if not regex.fullmatch(value):
        errors.append(
            _violation(value, member, f"Member must satisfy regular expression pattern: {text}")
        )


def check_names(params: dict[str, Any], *, stream: bool = True) -> str:
    """The log group's name, after checking it (and the stream's name, when wanted)."""
    errors: list[str] = []
    _check_name(params, "logGroupName", errors)
    if stream:
        _check_name(params, "logStreamName", errors)
    if errors:
        raise _invalid(errors)
    return str(params["logGroupName"])


def integer(
    params: dict[str, Any], member: str, minimum: int, maximum: int | None = None
) -> int | None:
    value = params.get(member)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise LogsError("SerializationException", f"{member} must be a number")
    if value < minimum:
        raise _invalid(
            [
                _violation(
                    value, member, f"Member must have value greater than or equal to {minimum}"
                )
            ]
        )
    if maximum is not None and value > maximum:
        raise _invalid(
            [_violation(value, member, f"Member must have value less than or equal to {maximum}")]
        )
    return value


@dataclasses.dataclass(frozen=True, slots=True)
class Batch:
    accepted: list[tuple[int, str]]  # (timestamp, message) to store
    rejected: dict[str, int]  # rejectedLogEventsInfo, empty when every event was taken


def check_events(params: dict[str, Any], now: int) -> Batch:
    """PutLogEvents' rules, in AWS's order: the members, the batch's size, chronological
    order, then too old and too new events, which are rejected while the rest are taken."""
    raw = params.get("logEvents")
    if raw is None:
        raise _invalid([_violation(None, "logEvents", "Member must not be null")])
    if not isinstance(raw, list):
        raise LogsError("SerializationException", "logEvents must be a list")
    if not raw:
        raise _invalid(
            [_violation("[]", "logEvents", "Member must have length greater than or equal to 1")]
        )
    if len(raw) > MAX_EVENTS:
        raise _invalid(
            [_violation(f"[{len(raw)} events]", "logEvents",
                        f"Member must have length less than or equal to {MAX_EVENTS}")]
        )  # fmt: skip
    events: list[tuple[int, str]] = []
    errors: list[str] = []
    for number, item in enumerate(raw, start=1):
        path = f"logEvents.{number}.member"
        if not isinstance(item, dict):
            raise LogsError("SerializationException", f"{path} must be an object")
        stamp, message = item.get("timestamp"), item.get("message")
        if stamp is None:
            errors.append(_violation(None, f"{path}.timestamp", "Member must not be null"))
        elif not isinstance(stamp, int) or isinstance(stamp, bool):
            raise LogsError("SerializationException", f"{path}.timestamp must be a number")
        elif stamp < 0:
            errors.append(_violation(stamp, f"{path}.timestamp", _AT_LEAST_0))
        if message is None:
            errors.append(_violation(None, f"{path}.message", "Member must not be null"))
        elif not isinstance(message, str):
            raise LogsError("SerializationException", f"{path}.message must be a string")
        elif not message:
            errors.append(_violation(message, f"{path}.message", _NOT_EMPTY))
        if not errors and isinstance(stamp, int) and isinstance(message, str):
            events.append((stamp, message))
    if errors:
        raise _invalid(errors)
    size = sum(len(message.encode()) + EVENT_OVERHEAD for _, message in events)
    if size > MAX_BATCH:
        raise too_large(size)
    if any(later[0] < earlier[0] for earlier, later in itertools.pairwise(events)):
        raise LogsError(
            "InvalidParameterException",
            "Log events in a single PutLogEvents request must be in chronological order.",
        )
    return _split_by_age(events, now)


def _split_by_age(events: list[tuple[int, str]], now: int) -> Batch:
    too_old = sum(1 for stamp, _ in events if stamp < now - _TOO_OLD)
    too_new = next((i for i, (stamp, _) in enumerate(events) if stamp > now + _TOO_NEW), None)
    accepted = events[too_old:too_new]
    if accepted and accepted[-1][0] - accepted[0][0] > _SPAN:
        raise LogsError(
            "InvalidParameterException",
            "The batch of log events in a single PutLogEvents request cannot span more than "
            "24 hours.",
        )
    rejected: dict[str, int] = {}
    if too_old:
        rejected["tooOldLogEventEndIndex"] = too_old  # exclusive: events [0, end) are too old
    if too_new is not None:
        rejected["tooNewLogEventStartIndex"] = too_new
    return Batch(accepted, rejected)


# CloudWatch Logs' allowed retention periods, in days.
RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
    2922, 3288, 3653,
)  # fmt: skip


def check_retention(params: dict[str, Any]) -> int:
    """PutRetentionPolicy's retentionInDays, one of RETENTION_DAYS."""
    value = params.get("retentionInDays")
    if value is None:
        raise _invalid([_violation(None, "retentionInDays", "Member must not be null")])
    if not isinstance(value, int) or isinstance(value, bool):
        raise LogsError("SerializationException", "retentionInDays must be a number")
    if value not in RETENTION_DAYS:
        allowed = ", ".join(str(d) for d in RETENTION_DAYS)
        raise _invalid(
            [
                _violation(
                    value, "retentionInDays", f"Member must satisfy enum value set: [{allowed}]"
                )
            ]
        )
    return value
