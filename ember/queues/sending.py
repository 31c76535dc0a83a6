"""Building one message for a queue from a send request: every check SendMessage makes
(body, attributes, size, delay, FIFO group and deduplication ids) and the digests."""

from __future__ import annotations

import dataclasses
import hashlib
import uuid
from collections.abc import Mapping
from typing import Any

from ember.queues.digests import md5_of_attributes, md5_of_body
from ember.queues.errors import (
    BatchRefusedError,
    MissingParameterError,
    QueueInvalidParameterError,
    invalid_value,
)
from ember.queues.messages import (
    Message,
    check_attributes,
    check_body,
    check_system_attributes,
)
from ember.queues.state import QueueState

SEQUENCE_BASE = 10**19  # FIFO SequenceNumber: 20 digits, growing with `seq`
_ID_CHARS = frozenset("!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`"
                      "abcdefghijklmnopqrstuvwxyz{|}~")  # fmt: skip


@dataclasses.dataclass(slots=True)
class Prepared:
    """A checked message, not stored yet, and its FIFO deduplication key."""

    message: Message
    dedup_key: str | None


def build_message(
    state: QueueState, body: Any, *, seq: int, now: float, delay: int | None,
    attributes: Mapping[str, Any] | None, system: Mapping[str, Any] | None,
    group_id: str | None, dedup_id: str | None, sender_id: str, batch: bool,
) -> Prepared:  # fmt: skip
    """The message `seq` for `state`, or the error AWS answers for this request (`batch`:
    a FIFO request without ids refuses the whole batch, with InvalidParameterValue)."""
    text = check_body(body)
    stored, attributes_size = check_attributes(attributes)
    system_stored = check_system_attributes(system)
    limit = state.int_attribute("MaximumMessageSize")
    if len(text.encode()) + attributes_size > limit:
        raise QueueInvalidParameterError(
            f"One or more parameters are invalid. Reason: Message must be shorter than "
            f"{limit} bytes."
        )
    if delay is not None and not 0 <= delay <= 900:
        raise invalid_value("DelaySeconds", delay,
                            "DelaySeconds must be >= 0 and <= 900.")  # fmt: skip
    _check_id("MessageGroupId", group_id)
    _check_id("MessageDeduplicationId", dedup_id)
    key = None
    if state.fifo:
        if delay:
            raise invalid_value("DelaySeconds", delay, "The request include parameter that "
                                "is not valid for this queue type.")  # fmt: skip
        if group_id is None:
            if batch:
                raise BatchRefusedError("The request must contain the parameter MessageGroupId.")
            raise MissingParameterError.named("MessageGroupId")
        if dedup_id is None:
            if state.attributes.get("ContentBasedDeduplication") != "true":
                raise BatchRefusedError(
                    "The queue should either have ContentBasedDeduplication enabled or "
                    "MessageDeduplicationId provided explicitly"
                )
            dedup_id = hashlib.sha256(text.encode()).hexdigest()
        scope = state.attributes.get("DeduplicationScope")
        key = f"{group_id}\x00{dedup_id}" if scope == "messageGroup" else dedup_id
    elif dedup_id is not None:
        raise invalid_value("MessageDeduplicationId", dedup_id, "The request include "
                            "parameter that is not valid for this queue type.")  # fmt: skip
    if delay is None:
        delay = state.int_attribute("DelaySeconds")
    message = Message(
        seq=seq, queue=state.name, message_id=str(uuid.uuid4()), body=text,
        md5_of_body=md5_of_body(text), attributes=stored,
        md5_of_attributes=md5_of_attributes(stored), system=system_stored,
        md5_of_system=md5_of_attributes(system_stored),
        sender_id=sender_id, sent=now, group_id=group_id,
        dedup_id=dedup_id if state.fifo else None,
        sequence_number=str(SEQUENCE_BASE + seq) if state.fifo else None,
        visible_at=now + delay,
    )  # fmt: skip
    return Prepared(message, key)


def _check_id(parameter: str, value: str | None) -> None:
    if value is None:
        return
    if not 1 <= len(value) <= 128 or not set(value) <= _ID_CHARS:
        raise invalid_value(parameter, value, f"{parameter} can only include alphanumeric and "
                            "punctuation characters. 1 to 128 in length.")  # fmt: skip
