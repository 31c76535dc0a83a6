"""Shard iterators: opaque text naming a stream incarnation, a shard, the position just read
and when the iterator was issued (AWS lets one live five minutes)."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
from datetime import UTC, datetime

import orjson

from ember.streams.errors import ExpiredIteratorError, InvalidArgumentError

LIFETIME = 300.0  # seconds an iterator stays valid (AWS: 5 minutes)


@dataclasses.dataclass(frozen=True, slots=True)
class Iterator:
    stream: str
    created: float  # the stream's creation time: a recreated stream refuses old iterators
    shard: int
    position: int  # the records after this one come next
    issued: float  # epoch seconds


def _check(body: bytes) -> str:
    return hashlib.sha256(b"ember-shard-iterator:" + body).hexdigest()[:16]


def encode(it: Iterator) -> str:
    body = orjson.dumps([it.stream, it.created, it.shard, it.position, it.issued])
    return base64.b64encode(_check(body).encode() + body).decode()


def decode(text: str, now: float) -> Iterator:
    """The iterator `text` names; InvalidArgument when it is not one, Expired past 5 min."""
    invalid = InvalidArgumentError(f"Invalid ShardIterator: {text[:64]}")
    try:
        raw = base64.b64decode(text.encode(), validate=True)
        check, body = raw[:16], raw[16:]
        if check.decode() != _check(body):
            raise invalid
        stream, created, shard, position, issued = orjson.loads(body)
        it = Iterator(str(stream), float(created), int(shard), int(position), float(issued))
    except (binascii.Error, UnicodeError, orjson.JSONDecodeError, ValueError, TypeError):
        raise invalid from None
    if now - it.issued > LIFETIME:
        raise ExpiredIteratorError(
            f"Iterator expired. The iterator was created at time {_java_time(it.issued)} "
            f"while right now it is {_java_time(now)} which is further in the future than "
            f"the tolerated delay of {int(LIFETIME * 1000)} milliseconds."
        )
    return it


def _java_time(wall: float) -> str:
    """How Kinesis's messages print a time (Java's Date.toString, in UTC)."""
    return datetime.fromtimestamp(wall, UTC).strftime("%a %b %d %H:%M:%S UTC %Y")
