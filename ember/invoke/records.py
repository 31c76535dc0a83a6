"""What an asynchronous event leaves behind: the outcome of its last attempt, the invocation
record Lambda sends to destinations, and the dead-letter message's attributes."""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson

from ember.clock import iso_millis
from ember.invoke.retry import Condition

RECORD_VERSION = "1.0"


@dataclasses.dataclass(frozen=True, slots=True)
class Outcome:
    """One attempt's result as a destination record reports it (`responseContext`)."""

    status_code: int  # 200 when the function ran (even if it failed); else the API's status
    executed_version: str | None
    function_error: str | None  # "Unhandled", or None
    payload: bytes  # the function's response, or the platform's error document
    error_message: str = ""  # the dead-letter message's ErrorMessage

    def to_json(self) -> bytes:
        doc = dataclasses.asdict(self)
        doc["payload"] = self.payload.decode("utf-8", errors="replace")
        return orjson.dumps(doc)

    @classmethod
    def from_json(cls, raw: bytes) -> Outcome:
        doc = orjson.loads(raw)
        doc["payload"] = doc["payload"].encode()
        return cls(**doc)


def _json_or_text(raw: bytes) -> Any:
    """A payload as the record embeds it: parsed JSON, or the text when it is not JSON."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw.decode("utf-8", errors="replace")


def invocation_record(
    *,
    request_id: str,
    function_arn: str,  # qualified, as invoked: arn:...:function:NAME:$LATEST
    condition: Condition,
    invoke_count: int,
    request_payload: bytes,
    outcome: Outcome | None,
    wall: float,
) -> bytes:
    """Lambda's invocation record (version 1.0), the payload a destination receives."""
    response_context: dict[str, Any] = {}
    if outcome is not None:
        response_context["statusCode"] = outcome.status_code
        if outcome.executed_version is not None:
            response_context["executedVersion"] = outcome.executed_version
        if outcome.function_error is not None:
            response_context["functionError"] = outcome.function_error
    record: dict[str, Any] = {
        "version": RECORD_VERSION,
        "timestamp": iso_millis(wall),
        "requestContext": {
            "requestId": request_id,
            "functionArn": function_arn,
            "condition": str(condition),
            "approximateInvokeCount": invoke_count,
        },
        "requestPayload": _json_or_text(request_payload),
        "responseContext": response_context,
    }
    if outcome is not None and outcome.payload:
        record["responsePayload"] = _json_or_text(outcome.payload)
    return orjson.dumps(record)


def dead_letter_context(request_id: str, outcome: Outcome | None) -> str:
    """The attributes Lambda puts on a dead-letter message (RequestID, ErrorCode,
    ErrorMessage), as the client context's `custom` map the dead-letter function sees."""
    custom = {
        "RequestID": request_id,
        "ErrorCode": str(outcome.status_code if outcome else 500),
        "ErrorMessage": outcome.error_message if outcome else "",
    }
    return orjson.dumps({"custom": custom}).decode()


def dead_letter_attributes(request_id: str, outcome: Outcome | None) -> dict[str, dict[str, str]]:
    """The message attributes of a dead letter sent to a queue or topic, as Lambda sends
    them: RequestID (String), ErrorCode (Number, the status) and ErrorMessage (String, at
    most 1 KB; left out when there is none, as a queue refuses an empty value)."""
    attributes = {
        "RequestID": {"DataType": "String", "StringValue": request_id},
        "ErrorCode": {
            "DataType": "Number",
            "StringValue": str(outcome.status_code if outcome else 500),
        },
    }
    message = (outcome.error_message if outcome else "").encode()[:1024].decode(errors="ignore")
    if message:
        attributes["ErrorMessage"] = {"DataType": "String", "StringValue": message}
    return attributes


def error_message(payload: bytes) -> str:
    """The errorMessage of a function's error document, or '' when it has none."""
    doc = _json_or_text(payload)
    if isinstance(doc, dict) and isinstance(doc.get("errorMessage"), str):
        message: str = doc["errorMessage"]
        return message
    return ""
