"""An SQS queue as a mapping's source: Lambda's SQS event record, batching window, 6 MB."""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import orjson

from ember.clock import Clock
from ember.control.mappings import SourceFacts
from ember.errors import LambdaError
from ember.sources.source import Record

MAX_RECEIVE = 10  # messages one ReceiveMessage returns at most
LONG_POLL = 20.0  # seconds: SQS's longest wait
MAX_PAYLOAD = 6 * 1024 * 1024  # a synchronous invocation's payload limit
# The system attributes Lambda copies into a record's `attributes`, in its order.
_ATTRIBUTES = (
    "ApproximateReceiveCount",
    "SentTimestamp",
    "SenderId",
    "ApproximateFirstReceiveTimestamp",
    "SequenceNumber",
    "MessageGroupId",
    "MessageDeduplicationId",
    "AWSTraceHeader",
    "DeadLetterQueueSourceArn",
)


class Received(Protocol):
    @property
    def message_id(self) -> str: ...
    @property
    def receipt_handle(self) -> str: ...
    @property
    def body(self) -> str: ...
    @property
    def md5_of_body(self) -> str: ...
    @property
    def attributes(self) -> Mapping[str, str]: ...
    @property
    def message_attributes(self) -> Mapping[str, Mapping[str, Any]]: ...


class QueueInfo(Protocol):
    @property
    def fifo(self) -> bool: ...
    @property
    def visibility_timeout(self) -> int: ...


class QueueApi(Protocol):
    """The part of the in-process `Queues` API (ember.queues) a poller uses."""

    def arn_exists(self, arn: str) -> bool: ...

    def describe(self, arn: str) -> QueueInfo: ...

    async def receive(
        self,
        arn: str,
        *,
        max_messages: int,
        visibility_timeout: int | None = None,
        wait_seconds: float = 0.0,
    ) -> Sequence[Received]: ...

    async def delete_batch(self, arn: str, receipt_handles: list[str]) -> None: ...

    async def change_visibility(
        self,
        arn: str,
        receipt_handle: str,
        timeout: int,  # noqa: ASYNC109 - SQS's visibility timeout, not a deadline
    ) -> None: ...

    def backlog(self, arn: str) -> int: ...


def source_facts(queues: QueueApi, arn: str) -> SourceFacts | None:
    """What control's mapping checks need to know of a queue ARN (None: no such queue)."""
    if not queues.arn_exists(arn):
        return None
    try:
        return SourceFacts(kind="sqs", fifo=queues.describe(arn).fifo)
    except LambdaError:
        return None  # deleted in between


def _text(value: Any) -> str:
    return base64.b64encode(value).decode() if isinstance(value, bytes) else str(value)


def message_attributes(wire: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """SQS's MessageAttributes as Lambda's record shows them (camelCase, lists always)."""
    shown: dict[str, dict[str, Any]] = {}
    for name, value in wire.items():
        item: dict[str, Any] = {}
        if "StringValue" in value:
            item["stringValue"] = value["StringValue"]
        if "BinaryValue" in value:
            item["binaryValue"] = _text(value["BinaryValue"])
        item["stringListValues"] = list(value.get("StringListValues") or [])
        item["binaryListValues"] = [_text(v) for v in value.get("BinaryListValues") or []]
        item["dataType"] = value["DataType"]
        shown[name] = item
    return shown


def sqs_record(message: Received, arn: str, region: str) -> dict[str, Any]:
    """One entry of Lambda's SQS event `Records`."""
    attributes = {k: message.attributes[k] for k in _ATTRIBUTES if k in message.attributes}
    return {
        "messageId": message.message_id,
        "receiptHandle": message.receipt_handle,
        "body": message.body,
        "attributes": attributes,
        "messageAttributes": message_attributes(message.message_attributes or {}),
        "md5OfBody": message.md5_of_body,
        "eventSource": "aws:sqs",
        "eventSourceARN": arn,
        "awsRegion": region,
    }


def filter_view(record: dict[str, Any]) -> dict[str, Any]:
    """Lambda filters SQS records with `body` parsed when it is JSON (else the text)."""
    try:
        body = orjson.loads(record["body"])
    except orjson.JSONDecodeError:
        return record
    return {**record, "body": body}


class SqsSource:
    def __init__(self, queues: QueueApi, arn: str, region: str, clock: Clock) -> None:
        self._queues = queues
        self._arn = arn
        self._region = region
        self._clock = clock
        self._fifo = queues.describe(arn).fifo

    @property
    def ordered(self) -> bool:
        return self._fifo

    def visibility(self) -> float:
        return float(self._queues.describe(self._arn).visibility_timeout)

    def backlog(self) -> int:
        return self._queues.backlog(self._arn)

    def view(self, record: Record) -> dict[str, Any]:
        return filter_view(record.event)

    def _record(self, message: Received) -> Record:
        event = sqs_record(message, self._arn, self._region)
        return Record(
            item_id=message.message_id,
            group=message.attributes.get("MessageGroupId"),
            size=len(message.body.encode()) + 512,  # the record's other members, roughly
            event=event,
            token=message.receipt_handle,
            trace=message.attributes.get("AWSTraceHeader"),
        )

    async def _receive(self, count: int, wait: float) -> list[Record]:
        got = await self._queues.receive(
            self._arn, max_messages=min(MAX_RECEIVE, count), wait_seconds=wait
        )
        return [self._record(m) for m in got]

    async def fetch(self, max_records: int, window: float) -> list[Record]:
        records = await self._receive(max_records, LONG_POLL)
        if not records or window <= 0:
            return records
        # Lambda's batching window: keep polling until the batch is full, the window has
        # passed since the first record, or the next messages would pass 6 MB.
        deadline = self._clock.monotonic() + window
        size = sum(r.size for r in records)
        while len(records) < max_records and size < MAX_PAYLOAD:
            remaining = deadline - self._clock.monotonic()
            if remaining <= 0:
                break
            more = await self._receive(max_records - len(records), min(remaining, LONG_POLL))
            records += more
            size += sum(r.size for r in more)
        return records

    async def ack(self, records: Sequence[Record]) -> None:
        handles = [r.token for r in records]
        for start in range(0, len(handles), MAX_RECEIVE):
            await self._queues.delete_batch(self._arn, handles[start : start + MAX_RECEIVE])

    async def nack(self, records: Sequence[Record]) -> None:
        # Lambda leaves a failed message alone: it comes back when its visibility timeout
        # ends, with one more receive, and the queue's redrive policy counts that.
        return None

    async def release(self, records: Sequence[Record]) -> None:
        for record in records:
            with contextlib.suppress(LambdaError):  # deleted, or its handle stale
                await self._queues.change_visibility(self._arn, record.token, 0)
