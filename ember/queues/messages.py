"""One stored message, its receipt handles, and the checks a message must pass before a
queue takes it (body characters, message and system attributes, size)."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from ember.queues.digests import binary_value
from ember.queues.errors import (
    InvalidMessageContentsError,
    MissingParameterError,
    QueueInvalidParameterError,
    ReceiptHandleIsInvalidError,
)

MAX_ATTRIBUTES = 10
_INVALID_BODY = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_ATTRIBUTE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,256}")
_TYPE_PREFIXES = ("String", "Number", "Binary")
SYSTEM_ATTRIBUTES = frozenset({"AWSTraceHeader"})


@dataclasses.dataclass(slots=True, eq=False)
class Message:
    """A message as the queue holds it. `seq` orders the queue and keys the row on disk;
    visibility is wall time, so an in-flight message stays hidden across a restart for the
    rest of its visibility timeout."""

    seq: int
    queue: str  # the queue's name
    message_id: str
    body: str
    md5_of_body: str
    attributes: dict[str, dict[str, str]]  # SQS shape; BinaryValue as base64 text
    md5_of_attributes: str | None
    system: dict[str, dict[str, str]]  # AWSTraceHeader
    md5_of_system: str | None
    sender_id: str
    sent: float  # wall seconds
    group_id: str | None = None
    dedup_id: str | None = None
    sequence_number: str | None = None
    visible_at: float = 0.0  # wall seconds
    receives: int = 0
    first_receive: float | None = None
    dead_letter_source: str | None = None  # the queue ARN it was redriven from

    def receipt_handle(self) -> str:
        """The handle of its latest receive: names the queue, the message and the receive, so
        a handle from an earlier receive is recognised as stale (and survives a restart);
        signed, so that only a receiver holds one (see use_receipt_key)."""
        raw = f"{self.queue}/{self.seq}/{self.receives}"
        return base64.urlsafe_b64encode(f"{raw}/{_receipt_tag(raw)}".encode()).decode()

    def to_doc(self) -> dict[str, Any]:
        """The fields that never change after the send (stored once, as JSON)."""
        return {
            "id": self.message_id, "body": self.body, "md5": self.md5_of_body,
            "attrs": self.attributes, "md5a": self.md5_of_attributes, "sys": self.system,
            "md5s": self.md5_of_system, "sender": self.sender_id, "group": self.group_id,
            "dedup": self.dedup_id, "sn": self.sequence_number,
            "dlq_source": self.dead_letter_source,
        }  # fmt: skip


@dataclasses.dataclass(frozen=True, slots=True)
class Receipt:
    queue: str
    seq: int
    receives: int


# The key receipt handles are signed with. Without it a handle would be guessable from a
# queue name and a counter, and anyone allowed to delete (a function, with its own
# credentials) could delete or hide messages another consumer holds in flight.
_receipt_key = secrets.token_bytes(32)


def use_receipt_key(path: Path) -> None:
    """Sign receipt handles with the key kept at `path` (made once, atomically, readable by
    root only), so that handles stay valid across a restart."""
    global _receipt_key
    try:
        _receipt_key = path.read_bytes()
    except FileNotFoundError:
        key = secrets.token_bytes(32)
        staging = path.with_name(f".{path.name}.tmp")
        fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, key)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(staging, path)
        _receipt_key = key


def _receipt_tag(raw: str) -> str:
    return hmac.new(_receipt_key, raw.encode(), hashlib.sha256).hexdigest()[:32]


def parse_receipt(handle: str) -> Receipt:
    try:
        queue, seq, receives, tag = base64.urlsafe_b64decode(handle.encode()).decode().split("/")
        if not hmac.compare_digest(tag, _receipt_tag(f"{queue}/{seq}/{receives}")):
            raise ValueError("not signed by this server")
        return Receipt(queue, int(seq), int(receives))
    except (ValueError, UnicodeError, binascii.Error):
        raise ReceiptHandleIsInvalidError(
            f'The input receipt handle "{handle}" is not a valid receipt handle.'
        ) from None


def check_body(body: Any) -> str:
    if not isinstance(body, str) or body == "":
        raise MissingParameterError.named("MessageBody")
    if _INVALID_BODY.search(body):
        raise InvalidMessageContentsError(
            "Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to "
            "#xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF"
        )
    return body


def check_attributes(given: Mapping[str, Any] | None) -> tuple[dict[str, dict[str, str]], int]:
    """Message attributes in the stored form and their size in bytes (names, types and
    values count toward the message size, as on AWS)."""
    if not given:
        return {}, 0
    if len(given) > MAX_ATTRIBUTES:
        raise QueueInvalidParameterError(
            f"Number of message attributes [{len(given)}] exceeds the allowed maximum "
            f"[{MAX_ATTRIBUTES}]."
        )
    stored: dict[str, dict[str, str]] = {}
    size = 0
    for name, attribute in given.items():
        _check_name(name)
        value, value_size = _attribute(name, attribute, "user")
        stored[name] = value
        size += len(name.encode()) + len(value["DataType"].encode()) + value_size
    return stored, size


def check_system_attributes(given: Mapping[str, Any] | None) -> dict[str, dict[str, str]]:
    if not given:
        return {}
    stored = {}
    for name, attribute in given.items():
        if name not in SYSTEM_ATTRIBUTES:
            raise QueueInvalidParameterError(f"Message system attribute name '{name}' is invalid.")
        value, _ = _attribute(name, attribute, "system")
        if value["DataType"] != "String":
            raise QueueInvalidParameterError(
                f"Message system attribute '{name}' must be of type 'String'."
            )
        stored[name] = value
    return stored


def _check_name(name: str) -> None:
    lowered = name.lower()
    if (
        not _ATTRIBUTE_NAME.fullmatch(name)
        or name.startswith(".") or name.endswith(".") or ".." in name
        or lowered.startswith(("aws.", "amazon."))
    ):  # fmt: skip
        raise QueueInvalidParameterError(
            f"Message (user) attribute name '{name}' is invalid. The attribute name can "
            "contain A-Z, a-z, 0-9, underscore (_), hyphen (-), and period (.) characters."
        )


def _attribute(name: str, attribute: Any, kind: str) -> tuple[dict[str, str], int]:
    if not isinstance(attribute, Mapping):
        raise QueueInvalidParameterError(f"The message attribute '{name}' is invalid.")
    data_type = attribute.get("DataType")
    if not isinstance(data_type, str) or not data_type:
        raise QueueInvalidParameterError(
            f"The message attribute '{name}' must contain non-empty message attribute type."
        )
    prefix = data_type.split(".", 1)[0]
    if prefix not in _TYPE_PREFIXES:
        raise QueueInvalidParameterError(
            f"The type of message ({kind}) attribute '{name}' is invalid. You must use only "
            "the following supported type prefixes: Binary, Number, String."
        )
    if prefix == "Binary":
        raw = attribute.get("BinaryValue")
        data = b"" if raw is None else binary_value(raw)
        if not data:
            raise QueueInvalidParameterError(
                f"Message ({kind}) attribute '{name}' must contain a non-empty value of type "
                "'Binary'."
            )
        return {"DataType": data_type, "BinaryValue": base64.b64encode(data).decode()}, len(data)
    text = attribute.get("StringValue")
    if not isinstance(text, str) or text == "":
        raise QueueInvalidParameterError(
            f"Message ({kind}) attribute '{name}' must contain a non-empty value of type "
            f"'{prefix}'."
        )
    if prefix == "Number":
        try:
            Decimal(text)
        except InvalidOperation:
            raise QueueInvalidParameterError(
                f"Can't cast the value of message ({kind}) attribute '{name}' to a number."
            ) from None
    return {"DataType": data_type, "StringValue": text}, len(text.encode())


def select_attributes(
    attributes: dict[str, dict[str, str]], wanted: list[str] | None
) -> dict[str, dict[str, str]]:
    """The message attributes ReceiveMessage's MessageAttributeNames asks for: `All` or
    `.*`, exact names, and `prefix.*`."""
    if not wanted or not attributes:
        return {}
    if "All" in wanted or ".*" in wanted:
        return attributes
    # `He.*` is a pattern: it takes `Hello` and `Help.Me` (AWS's recorded answer).
    prefixes = tuple(w[:-2] for w in wanted if w.endswith(".*"))
    exact = set(wanted)
    return {
        name: value
        for name, value in attributes.items()
        if name in exact or (prefixes and name.startswith(prefixes))
    }
