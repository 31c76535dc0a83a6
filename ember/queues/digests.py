"""The MD5 digests SQS answers with: of a message body, and of its (system) attributes in
AWS's documented encoding, which clients recompute to check what the queue stored.

Attributes are encoded sorted by name; each as length-prefixed (4 bytes, big-endian) name,
length-prefixed data type, one transport byte (1 String/Number, 2 Binary), length-prefixed
value (UTF-8 of StringValue, or the raw bytes of BinaryValue).
"""

from __future__ import annotations

import base64
import hashlib
import struct
from collections.abc import Mapping
from typing import Any

_STRING = b"\x01"
_BINARY = b"\x02"


def md5_of_body(body: str) -> str:
    return hashlib.md5(body.encode(), usedforsecurity=False).hexdigest()


def _field(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def binary_value(value: Any) -> bytes:
    """BinaryValue as the JSON protocol carries it (base64 text) or as bytes."""
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    return base64.b64decode(str(value), validate=False)


def md5_of_attributes(attributes: Mapping[str, Mapping[str, Any]]) -> str | None:
    """MD5OfMessageAttributes (or of system attributes); None for no attributes (AWS then
    leaves the field out)."""
    if not attributes:
        return None
    digest = hashlib.md5(usedforsecurity=False)
    for name in sorted(attributes):
        attribute = attributes[name]
        data_type = str(attribute.get("DataType", ""))
        digest.update(_field(name.encode()))
        digest.update(_field(data_type.encode()))
        if data_type.split(".", 1)[0] == "Binary":
            digest.update(_BINARY)
            digest.update(_field(binary_value(attribute.get("BinaryValue", b""))))
        else:
            digest.update(_STRING)
            digest.update(_field(str(attribute.get("StringValue", "")).encode()))
    return digest.hexdigest()
