"""AWS's event-stream framing (`application/vnd.amazon.eventstream`), encoding side: what
InvokeWithResponseStream answers with, and what botocore's `EventStream` parses.

One message on the wire:

    total length (u32) | headers length (u32) | prelude CRC32 (u32, of the 8 bytes before)
    headers            | payload              | message CRC32 (u32, of everything before)

Each header: name length (u8), name, value type (u8; 7 = string), value length (u16),
value. Integers are big-endian. Only string headers are written: `:event-type`,
`:content-type` and `:message-type` are all an event needs.
"""

from __future__ import annotations

import struct
import zlib

CONTENT_TYPE = "application/vnd.amazon.eventstream"

_PRELUDE = struct.Struct(">II")
_CRC = struct.Struct(">I")
_STRING = 7
# A message's size on the wire: prelude (8), prelude CRC (4), message CRC (4).
_OVERHEAD = 16
# What botocore's parser accepts (botocore.eventstream): 16 MiB payloads, 128 KiB headers.
MAX_PAYLOAD = 16 * 1024 * 1024
MAX_HEADERS = 128 * 1024


def _header(name: str, value: str) -> bytes:
    raw_name, raw_value = name.encode(), value.encode()
    return (
        struct.pack(">B", len(raw_name))
        + raw_name
        + struct.pack(">BH", _STRING, len(raw_value))
        + raw_value
    )


def encode_message(headers: dict[str, str], payload: bytes) -> bytes:
    """One message with string `headers` and `payload`, CRCs included."""
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"an event-stream payload holds at most {MAX_PAYLOAD} bytes")
    encoded = b"".join(_header(name, value) for name, value in headers.items())
    if len(encoded) > MAX_HEADERS:
        raise ValueError(f"event-stream headers hold at most {MAX_HEADERS} bytes")
    prelude = _PRELUDE.pack(_OVERHEAD + len(encoded) + len(payload), len(encoded))
    message = prelude + _CRC.pack(zlib.crc32(prelude)) + encoded + payload
    return message + _CRC.pack(zlib.crc32(message))


def encode_event(event_type: str, payload: bytes, content_type: str) -> bytes:
    """An event message, as a service sends it (`:message-type` event)."""
    return encode_message(
        {
            ":event-type": event_type,
            ":content-type": content_type,
            ":message-type": "event",
        },
        payload,
    )


def encode_events(event_type: str, payload: bytes, content_type: str) -> bytes:
    """`payload` as one event, or, past MAX_PAYLOAD, as several consecutive ones."""
    if len(payload) <= MAX_PAYLOAD:
        return encode_event(event_type, payload, content_type)
    return b"".join(
        encode_event(event_type, payload[at : at + MAX_PAYLOAD], content_type)
        for at in range(0, len(payload), MAX_PAYLOAD)
    )
