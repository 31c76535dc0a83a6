"""SQS's operations in their JSON-protocol shapes: each reads its request members, calls one
`Queues` method and returns the response members (botocore's `sqs` model names them)."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Awaitable, Callable
from typing import Any

from ember.queues.attributes import READABLE
from ember.queues.digests import md5_of_attributes
from ember.queues.errors import (
    BatchEntryIdsNotDistinctError,
    BatchRefusedError,
    BatchRequestTooLongError,
    EmptyBatchRequestError,
    InvalidAttributeNameError,
    InvalidBatchEntryIdError,
    MissingParameterError,
    QueueError,
    QueueInvalidParameterError,
    TooManyEntriesInBatchRequestError,
    invalid_value,
)
from ember.queues.messages import select_attributes
from ember.queues.model import Received, Sent, select_system
from ember.queues.service import Queues

Params = dict[str, Any]
Handler = Callable[[Queues, Params, str], Awaitable[Params]]

MAX_BATCH_ENTRIES = 10
MAX_BATCH_BYTES = 1_048_576
_ENTRY_ID = re.compile(r"[A-Za-z0-9_-]{1,80}")
_SYSTEM_NAMES = frozenset({
    "All", "SenderId", "SentTimestamp", "ApproximateReceiveCount",
    "ApproximateFirstReceiveTimestamp", "SequenceNumber", "MessageDeduplicationId",
    "MessageGroupId", "AWSTraceHeader", "DeadLetterQueueSourceArn",
})  # fmt: skip


def _required(params: Params, name: str) -> Any:
    value = params.get(name)
    if value is None or value == "":
        raise MissingParameterError.named(name)
    return value


def _int(params: Params, name: str) -> int | None:
    value = params.get(name)
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise invalid_value(name, value, "Must be an integer.") from None


def _queue_name(queues: Queues, params: Params) -> str:
    return queues.by_url(str(_required(params, "QueueUrl"))).name


def _paged(urls: list[str], params: Params, key: str) -> Params:
    """ListQueues-style paging: NextToken only when MaxResults asks for pages (AWS)."""
    limit = _int(params, "MaxResults")
    if limit is not None and not 1 <= limit <= 1000:
        raise invalid_value("MaxResults", limit, "MaxResults must be an integer between 1 and "
                            "1000.")  # fmt: skip
    token = params.get("NextToken")
    start = 0
    if token:
        try:
            after = base64.urlsafe_b64decode(str(token).encode()).decode()
        except (binascii.Error, UnicodeError, ValueError):
            raise QueueInvalidParameterError("Invalid NextToken value.") from None
        start = next((i for i, url in enumerate(urls) if url > after), len(urls))
    page = urls[start : start + (limit or 1000)]
    result: Params = {key: page} if page else {}
    if limit is not None and start + limit < len(urls):
        result["NextToken"] = base64.urlsafe_b64encode(page[-1].encode()).decode()
    return result


# -- queues -------------------------------------------------------------------------------------


async def create_queue(queues: Queues, params: Params, sender: str) -> Params:
    name = str(_required(params, "QueueName"))
    url = await queues.create_queue(name, params.get("Attributes") or {},
                                    params.get("tags") or {})  # fmt: skip
    return {"QueueUrl": url}


async def get_queue_url(queues: Queues, params: Params, sender: str) -> Params:
    name = str(_required(params, "QueueName"))
    return {"QueueUrl": queues.queue_url(name, params.get("QueueOwnerAWSAccountId"))}


async def list_queues(queues: Queues, params: Params, sender: str) -> Params:
    return _paged(queues.list_urls(str(params.get("QueueNamePrefix") or "")), params, "QueueUrls")


async def delete_queue(queues: Queues, params: Params, sender: str) -> Params:
    await queues.delete_queue(_queue_name(queues, params))
    return {}


async def get_queue_attributes(queues: Queues, params: Params, sender: str) -> Params:
    name = _queue_name(queues, params)
    wanted = [str(n) for n in params.get("AttributeNames") or []]
    for attribute in wanted:
        if attribute != "All" and attribute not in READABLE:
            raise InvalidAttributeNameError(f"Unknown Attribute {attribute}.")
    found = queues.get_attributes(name, wanted)
    return {"Attributes": found} if found else {}


async def set_queue_attributes(queues: Queues, params: Params, sender: str) -> Params:
    name = _queue_name(queues, params)
    await queues.set_attributes(name, _required(params, "Attributes"))
    return {}


async def purge_queue(queues: Queues, params: Params, sender: str) -> Params:
    await queues.purge(_queue_name(queues, params))
    return {}


async def list_dead_letter_source_queues(queues: Queues, params: Params, sender: str) -> Params:
    state = queues.by_url(str(_required(params, "QueueUrl")))
    urls = queues.list_urls(source_of=state.arn)
    return {"queueUrls": [], **_paged(urls, params, "queueUrls")}


async def tag_queue(queues: Queues, params: Params, sender: str) -> Params:
    await queues.tag(_queue_name(queues, params), _required(params, "Tags"))
    return {}


async def untag_queue(queues: Queues, params: Params, sender: str) -> Params:
    await queues.untag(_queue_name(queues, params), list(_required(params, "TagKeys")))
    return {}


async def list_queue_tags(queues: Queues, params: Params, sender: str) -> Params:
    state = queues.by_url(str(_required(params, "QueueUrl")))
    return {"Tags": dict(state.tags)} if state.tags else {}


# -- messages -----------------------------------------------------------------------------------


def _sent(sent: Sent) -> Params:
    result: Params = {"MessageId": sent.message_id, "MD5OfMessageBody": sent.md5_of_body}
    if sent.md5_of_message_attributes:
        result["MD5OfMessageAttributes"] = sent.md5_of_message_attributes
    if sent.md5_of_system_attributes:
        result["MD5OfMessageSystemAttributes"] = sent.md5_of_system_attributes
    if sent.sequence_number:
        result["SequenceNumber"] = sent.sequence_number
    return result


async def send_message(queues: Queues, params: Params, sender: str) -> Params:
    state = queues.by_url(str(_required(params, "QueueUrl")))
    prepared = queues.prepare(
        state, params.get("MessageBody"), delay=_int(params, "DelaySeconds"),
        attributes=params.get("MessageAttributes"), system=params.get("MessageSystemAttributes"),
        group_id=params.get("MessageGroupId"), dedup_id=params.get("MessageDeduplicationId"),
        sender_id=sender,
    )  # fmt: skip
    (sent,) = await queues.commit_sends(state, [prepared])
    return _sent(sent)


def _entries(params: Params, shape: str) -> list[Params]:
    """A batch's entries, checked as a whole (AWS refuses the request, not an entry)."""
    entries = params.get("Entries") or []
    if not entries:
        raise EmptyBatchRequestError(f"There should be at least one {shape} in the request.")
    if len(entries) > MAX_BATCH_ENTRIES:
        raise TooManyEntriesInBatchRequestError(
            f"Maximum number of entries per request are {MAX_BATCH_ENTRIES}. You have sent "
            f"{len(entries)}."
        )
    seen: set[str] = set()
    for entry in entries:
        entry_id = str(entry.get("Id", ""))
        if not _ENTRY_ID.fullmatch(entry_id):
            raise InvalidBatchEntryIdError(
                "A batch entry id can only contain alphanumeric characters, hyphens and "
                "underscores. It can be at most 80 letters long."
            )
        if entry_id in seen:
            raise BatchEntryIdsNotDistinctError(f"Id {entry_id} repeated.")
        seen.add(entry_id)
    return list(entries)


def _failed(entry_id: str, error: QueueError) -> Params:
    return {"Id": entry_id, "SenderFault": error.fault == "User",
            "Code": error.query_code or error.code, "Message": error.message}  # fmt: skip


def _entry_size(entry: Params) -> int:
    size = len(str(entry.get("MessageBody") or "").encode())
    for name, attribute in (entry.get("MessageAttributes") or {}).items():
        size += len(name.encode()) + len(str(attribute.get("DataType", "")).encode())
        if "BinaryValue" in attribute:
            size += len(str(attribute["BinaryValue"])) * 3 // 4
        else:
            size += len(str(attribute.get("StringValue", "")).encode())
    return size


async def send_message_batch(queues: Queues, params: Params, sender: str) -> Params:
    state = queues.by_url(str(_required(params, "QueueUrl")))
    entries = _entries(params, "SendMessageBatchRequestEntry")
    total = sum(_entry_size(e) for e in entries)
    if total > MAX_BATCH_BYTES:
        raise BatchRequestTooLongError(f"Batch requests cannot be longer than {MAX_BATCH_BYTES} "
                                       f"bytes. You have sent {total} bytes.")  # fmt: skip
    failed: list[Params] = []
    prepared = []
    ids = []
    for entry in entries:
        try:
            prepared.append(queues.prepare(
                state, entry.get("MessageBody"), delay=_int(entry, "DelaySeconds"),
                attributes=entry.get("MessageAttributes"),
                system=entry.get("MessageSystemAttributes"), group_id=entry.get("MessageGroupId"),
                dedup_id=entry.get("MessageDeduplicationId"), sender_id=sender, batch=True,
            ))  # fmt: skip
            ids.append(str(entry["Id"]))
        except BatchRefusedError:
            raise
        except QueueError as exc:
            failed.append(_failed(str(entry["Id"]), exc))
    sent = await queues.commit_sends(state, prepared) if prepared else []
    return {"Successful": [{"Id": i, **_sent(s)} for i, s in zip(ids, sent, strict=True)],
            "Failed": failed}  # fmt: skip


def _message(received: Received, params: Params) -> Params:
    result: Params = {
        "MessageId": received.message_id,
        "ReceiptHandle": received.receipt_handle,
        "MD5OfBody": received.md5_of_body,
        "Body": received.body,
    }
    wanted_system = [*(params.get("AttributeNames") or []),
                     *(params.get("MessageSystemAttributeNames") or [])]  # fmt: skip
    system = select_system(received.attributes, wanted_system)
    if system:
        result["Attributes"] = system
    chosen = select_attributes(received.message_attributes,
                               params.get("MessageAttributeNames"))  # fmt: skip
    if chosen:
        result["MessageAttributes"] = chosen
        result["MD5OfMessageAttributes"] = (
            received.md5_of_message_attributes
            if len(chosen) == len(received.message_attributes)
            else md5_of_attributes(chosen)
        )
    return result


async def receive_message(queues: Queues, params: Params, sender: str) -> Params:
    name = _queue_name(queues, params)
    limit = _int(params, "MaxNumberOfMessages")
    if limit is not None and not 1 <= limit <= 10:
        raise invalid_value("MaxNumberOfMessages", limit, "Must be between 1 and 10, if "
                            "provided.")  # fmt: skip
    wait = _int(params, "WaitTimeSeconds")
    if wait is not None and not 0 <= wait <= 20:
        raise invalid_value("WaitTimeSeconds", wait, "Must be >= 0 and <= 20, if provided.")
    visibility = _int(params, "VisibilityTimeout")
    if visibility is not None and not 0 <= visibility <= 43_200:
        raise invalid_value("VisibilityTimeout", visibility, "Must be >= 0 and <= 43200, if "
                            "provided.")  # fmt: skip
    for attribute in [*(params.get("AttributeNames") or []),
                      *(params.get("MessageSystemAttributeNames") or [])]:  # fmt: skip
        if attribute not in _SYSTEM_NAMES and attribute not in READABLE:
            raise InvalidAttributeNameError(f"Unknown Attribute {attribute}.")
    received = await queues.receive_messages(
        name, limit=limit or 1, visibility=visibility,
        wait=None if wait is None else float(wait),
    )  # fmt: skip
    return {"Messages": [_message(r, params) for r in received]}


async def delete_message(queues: Queues, params: Params, sender: str) -> Params:
    name = _queue_name(queues, params)
    (outcome,) = await queues.delete_messages(name, [str(_required(params, "ReceiptHandle"))])
    if outcome is not None:
        raise outcome
    return {}


async def delete_message_batch(queues: Queues, params: Params, sender: str) -> Params:
    name = _queue_name(queues, params)
    entries = _entries(params, "DeleteMessageBatchRequestEntry")
    outcomes = await queues.delete_messages(
        name, [str(e.get("ReceiptHandle", "")) for e in entries]
    )
    return _batch_result(entries, outcomes)


async def change_message_visibility(queues: Queues, params: Params, sender: str) -> Params:
    name = _queue_name(queues, params)
    handle = str(_required(params, "ReceiptHandle"))
    timeout = _int(params, "VisibilityTimeout")
    if timeout is None:
        raise MissingParameterError.named("VisibilityTimeout")
    (outcome,) = await queues.change_visibilities(name, [(handle, timeout)])
    if outcome is not None:
        raise outcome
    return {}


async def change_message_visibility_batch(queues: Queues, params: Params, sender: str) -> Params:
    name = _queue_name(queues, params)
    entries = _entries(params, "ChangeMessageVisibilityBatchRequestEntry")
    changes = [(str(e.get("ReceiptHandle", "")), _int(e, "VisibilityTimeout") or 0)
               for e in entries]  # fmt: skip
    return _batch_result(entries, await queues.change_visibilities(name, changes))


def _batch_result(entries: list[Params], outcomes: list[QueueError | None]) -> Params:
    return {
        "Successful": [{"Id": e["Id"]} for e, o in zip(entries, outcomes, strict=True)
                       if o is None],
        "Failed": [_failed(str(e["Id"]), o) for e, o in zip(entries, outcomes, strict=True)
                   if o is not None],
    }  # fmt: skip


HANDLERS: dict[str, Handler] = {
    "CreateQueue": create_queue,
    "GetQueueUrl": get_queue_url,
    "ListQueues": list_queues,
    "DeleteQueue": delete_queue,
    "GetQueueAttributes": get_queue_attributes,
    "SetQueueAttributes": set_queue_attributes,
    "PurgeQueue": purge_queue,
    "ListDeadLetterSourceQueues": list_dead_letter_source_queues,
    "TagQueue": tag_queue,
    "UntagQueue": untag_queue,
    "ListQueueTags": list_queue_tags,
    "SendMessage": send_message,
    "SendMessageBatch": send_message_batch,
    "ReceiveMessage": receive_message,
    "DeleteMessage": delete_message,
    "DeleteMessageBatch": delete_message_batch,
    "ChangeMessageVisibility": change_message_visibility,
    "ChangeMessageVisibilityBatch": change_message_visibility_batch,
}
