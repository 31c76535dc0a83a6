"""Records and dead letters for queues and topics: which service gets them, and how."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ember.errors import LambdaError, ResourceNotFoundError
from ember.invoke.records import Outcome, dead_letter_attributes
from ember.invoke.sinks import NoSinks, ServiceSinks

QUEUE = "arn:aws:sqs:us-east-1:000000000000:q"
TOPIC = "arn:aws:sns:us-east-1:000000000000:t"


class Seen:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    async def send(self, arn: str, body: str, **kwargs: Any) -> str:
        self.calls.append((arn, body, kwargs))
        return "id"

    async def publish(self, arn: str, message: str, **kwargs: Any) -> str:
        return await self.send(arn, message, **kwargs)


def test_queues_and_topics_get_their_messages() -> None:
    queues, topics = Seen(), Seen()
    sinks = ServiceSinks()
    sinks.connect(queues.send, topics.publish)
    attributes = {"RequestID": {"DataType": "String", "StringValue": "r"}}
    asyncio.run(sinks.send(QUEUE, "body", attributes, trace_header="Root=1-x"))
    asyncio.run(sinks.send(TOPIC, "record", {}))
    assert queues.calls == [(QUEUE, "body", {
        "message_attributes": attributes,
        "system_attributes": {"AWSTraceHeader": {"DataType": "String", "StringValue": "Root=1-x"}},
    })]  # fmt: skip
    assert topics.calls == [(TOPIC, "record", {"message_attributes": {}})]


def test_without_services_deliveries_fail() -> None:
    with pytest.raises(ResourceNotFoundError):
        asyncio.run(ServiceSinks().send(QUEUE, "b", {}))
    with pytest.raises(LambdaError):
        asyncio.run(NoSinks().send(QUEUE, "b", {}))


def test_dead_letter_attributes_as_lambda_sends_them() -> None:
    failed = Outcome(200, "$LATEST", "Unhandled", b"{}", "broken " + "x" * 2000)
    attributes = dead_letter_attributes("req-1", failed)
    assert attributes["RequestID"] == {"DataType": "String", "StringValue": "req-1"}
    assert attributes["ErrorCode"] == {"DataType": "Number", "StringValue": "200"}
    assert len(attributes["ErrorMessage"]["StringValue"].encode()) == 1024
    quiet = dead_letter_attributes("req-2", Outcome(429, None, None, b"{}", ""))
    assert "ErrorMessage" not in quiet  # a queue refuses an empty value
    assert quiet["ErrorCode"]["StringValue"] == "429"
