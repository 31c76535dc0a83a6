"""Where asynchronous invocation records and dead letters go when the target is a queue or a
topic: a `MessageSink`, so that invoke never imports the queue and topic services. The
composition root builds `ServiceSinks` from their send and publish methods."""

from __future__ import annotations

from typing import Any, Protocol

from ember.control.destinations import message_service
from ember.errors import LambdaError, ResourceNotFoundError

# Message attributes in SQS's and SNS's shape: name -> {"DataType": …, "StringValue": …}.
Attributes = dict[str, dict[str, str]]


class MessageSink(Protocol):
    async def send(
        self, arn: str, body: str, attributes: Attributes, *, trace_header: str | None = None
    ) -> None:
        """Deliver one message to the queue or topic `arn`, durably when it returns; raise a
        LambdaError when it cannot (no such queue or topic, no such service here)."""
        ...


class QueueSend(Protocol):
    """Queues.send (ember/queues)."""

    async def __call__(
        self,
        arn: str,
        body: str,
        *,
        message_attributes: dict[str, dict[str, Any]] | None = None,
        system_attributes: dict[str, dict[str, Any]] | None = None,
    ) -> str: ...


class TopicPublish(Protocol):
    """Topics.publish (ember/topics)."""

    async def __call__(
        self, arn: str, message: str, *, message_attributes: dict[str, Any] | None = None
    ) -> str: ...


class ServiceSinks:
    """A MessageSink over Ember's queues and topics, connected once they are built (the
    dispatcher comes first: topics deliver through its intake)."""

    def __init__(self) -> None:
        self._send_to_queue: QueueSend | None = None
        self._publish_to_topic: TopicPublish | None = None

    def connect(self, send_to_queue: QueueSend, publish_to_topic: TopicPublish) -> None:
        self._send_to_queue = send_to_queue
        self._publish_to_topic = publish_to_topic

    async def send(
        self, arn: str, body: str, attributes: Attributes, *, trace_header: str | None = None
    ) -> None:
        service = message_service(arn)
        if service == "sqs" and self._send_to_queue is not None:
            system = None
            if trace_header:  # carries the recursion lineage, as SQS's AWSTraceHeader
                system = {"AWSTraceHeader": {"DataType": "String", "StringValue": trace_header}}
            await self._send_to_queue(
                arn, body, message_attributes=dict(attributes), system_attributes=system
            )
            return
        if service == "sns" and self._publish_to_topic is not None:
            await self._publish_to_topic(arn, body, message_attributes=dict(attributes))
            return
        raise ResourceNotFoundError(f"No queue or topic serves {arn} here")


class NoSinks:
    """A MessageSink for a server without queues and topics: every delivery fails."""

    async def send(
        self, arn: str, body: str, attributes: Attributes, *, trace_header: str | None = None
    ) -> None:
        raise LambdaError(f"Ember serves no queues or topics here ({arn})")
