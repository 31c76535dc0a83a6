"""PutEvents entries: checking one, and the event EventBridge builds from it."""

from __future__ import annotations

import dataclasses
import datetime
import uuid
from typing import Any

import orjson

from ember.config import Settings


@dataclasses.dataclass(frozen=True, slots=True)
class Entry:
    source: str | None
    detail_type: str | None
    detail: str | None
    resources: list[str] = dataclasses.field(default_factory=list)
    time: float | None = None  # wall seconds
    bus: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class EntryResult:
    event_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None


def aws_time(wall: float) -> str:
    """EventBridge's `time`: UTC to the second."""
    return datetime.datetime.fromtimestamp(wall, tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _invalid(name: str, reason: str) -> EntryResult:
    return EntryResult(
        error_code="InvalidArgument",
        error_message=f"Parameter {name} is not valid. Reason: {reason}",
    )


def check_entry(entry: Entry) -> EntryResult | None:
    """The failed result AWS gives a bad entry, or None."""
    if not entry.source:
        return _invalid("Source", "Source is a required argument.")
    if not entry.detail_type:
        return _invalid("DetailType", "DetailType is a required argument.")
    if entry.detail is None:
        return _invalid("Detail", "Detail is a required argument.")
    try:
        detail = orjson.loads(entry.detail)
    except orjson.JSONDecodeError:
        return _invalid("Detail", "Detail is malformed.")
    if not isinstance(detail, dict):
        return _invalid("Detail", "Detail is malformed.")
    if entry.source.startswith("aws."):
        return EntryResult(
            error_code="NotAuthorizedForSourceException",
            error_message="Not authorized for the source.",
        )
    if entry.bus not in (None, "default") and not str(entry.bus).endswith(":event-bus/default"):
        return EntryResult(
            error_code="InvalidArgument", error_message=f"Event bus {entry.bus} does not exist."
        )
    return None


def bus_event(entry: Entry, settings: Settings, now: float) -> dict[str, Any]:
    """The event rules match and targets receive (EventBridge's shape)."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": entry.detail_type,
        "source": entry.source,
        "account": settings.account_id,
        "time": aws_time(entry.time if entry.time is not None else now),
        "region": settings.region,
        "resources": list(entry.resources),
        "detail": orjson.loads(entry.detail or "{}"),
    }


def scheduled_event(rule_arn: str, due: float, settings: Settings) -> dict[str, Any]:
    """What a schedule sends: `Scheduled Event` from `aws.events`, the rule in resources."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": settings.account_id,
        "time": aws_time(due),
        "region": settings.region,
        "resources": [rule_arn],
        "detail": {},
    }
