"""The shapes the in-process API hands out (`QueueInfo`, `Received`, `Sent`) and the
naming of queues: ARNs and URLs."""

from __future__ import annotations

import dataclasses
from urllib.parse import urlsplit

from ember.queues.attributes import Redrive
from ember.queues.errors import QueueDoesNotExistError
from ember.queues.messages import Message


@dataclasses.dataclass(frozen=True, slots=True)
class QueueInfo:
    arn: str
    url: str
    name: str
    fifo: bool
    visibility_timeout: int
    redrive: Redrive | None  # .dead_letter_arn, .max_receives


@dataclasses.dataclass(frozen=True, slots=True)
class Sent:
    message_id: str
    md5_of_body: str
    md5_of_message_attributes: str | None
    md5_of_system_attributes: str | None
    sequence_number: str | None


@dataclasses.dataclass(frozen=True, slots=True)
class Received:
    """One received message. `attributes` are the system attributes (all of them);
    `message_attributes` in SQS's shape ({"DataType", "StringValue"|"BinaryValue"}, binary
    values as base64 text)."""

    message_id: str
    receipt_handle: str
    body: str
    md5_of_body: str
    attributes: dict[str, str]
    message_attributes: dict[str, dict[str, str]]
    md5_of_message_attributes: str | None

    @classmethod
    def of(cls, message: Message) -> Received:
        return cls(
            message_id=message.message_id,
            receipt_handle=message.receipt_handle(),
            body=message.body,
            md5_of_body=message.md5_of_body,
            attributes=system_attributes(message),
            message_attributes=message.attributes,
            md5_of_message_attributes=message.md5_of_attributes,
        )


def system_attributes(message: Message) -> dict[str, str]:
    """Every system attribute ReceiveMessage can show for `message` (as it is now)."""
    found = {
        "SenderId": message.sender_id,
        "SentTimestamp": str(int(message.sent * 1000)),
        "ApproximateReceiveCount": str(message.receives),
        "ApproximateFirstReceiveTimestamp": str(int((message.first_receive or 0) * 1000)),
    }
    if message.group_id is not None:
        found["MessageGroupId"] = message.group_id
    if message.dedup_id is not None:
        found["MessageDeduplicationId"] = message.dedup_id
    if message.sequence_number is not None:
        found["SequenceNumber"] = message.sequence_number
    if message.dead_letter_source is not None:
        found["DeadLetterQueueSourceArn"] = message.dead_letter_source
    trace = message.system.get("AWSTraceHeader")
    if trace is not None:
        found["AWSTraceHeader"] = trace.get("StringValue", "")
    return found


def select_system(attributes: dict[str, str], wanted: list[str] | None) -> dict[str, str]:
    if not wanted:
        return {}
    if "All" in wanted:
        return attributes
    return {name: value for name, value in attributes.items() if name in wanted}


@dataclasses.dataclass(frozen=True, slots=True)
class Naming:
    """ARNs and URLs of this server's queues."""

    region: str
    account: str
    base_url: str

    def arn(self, name: str) -> str:
        return f"arn:aws:sqs:{self.region}:{self.account}:{name}"

    def url(self, name: str) -> str:
        return f"{self.base_url}/{self.account}/{name}"

    def name_of_arn(self, arn: str) -> str:
        parts = arn.split(":")
        if len(parts) != 6 or parts[:3] != ["arn", "aws", "sqs"] or parts[4] != self.account:
            raise QueueDoesNotExistError()
        return parts[5]

    def name_of_url(self, url: str) -> str:
        """The queue a QueueUrl names: any host (clients send it in the body, with whatever
        endpoint they were given), path `/<account>/<name>`."""
        path = urlsplit(url).path if "://" in url else url
        parts = [p for p in path.split("/") if p]
        if not parts or len(parts) > 2 or (len(parts) == 2 and parts[0] != self.account):
            raise QueueDoesNotExistError()
        return parts[-1]
