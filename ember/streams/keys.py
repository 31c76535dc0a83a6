"""Where a record goes and what it is called: hash-key ranges, shard ids, sequence numbers.

Kinesis hashes a partition key with MD5 and reads the digest as a 128-bit unsigned integer
(big-endian); the shard whose HashKeyRange holds it takes the record. A stream of N shards
splits [0, 2^128) into N ranges of floor(2^128 / N) keys, the last one running to 2^128 - 1.

Sequence numbers are 56-digit decimal strings as on AWS, built so that they increase within
a shard and never repeat across shards or across two streams of one name:

    "49" | stream creation, epoch seconds (10 digits) | shard index (6) | position (38)
"""

from __future__ import annotations

import hashlib

HASH_SPACE = 1 << 128
_PREFIX = 49
_CREATED = 10**44  # the creation digits' place
_SHARD = 10**38  # the shard digits' place
SEQUENCE_DIGITS = 56


def hash_key(partition_key: str) -> int:
    """The 128-bit hash key Kinesis derives from a partition key."""
    return int.from_bytes(hashlib.md5(partition_key.encode()).digest(), "big")


def hash_ranges(count: int) -> list[tuple[int, int]]:
    """(starting, ending) hash keys, both inclusive, of a new stream's `count` shards."""
    width = HASH_SPACE // count
    starts = [i * width for i in range(count)]
    ends = [s - 1 for s in starts[1:]] + [HASH_SPACE - 1]
    return list(zip(starts, ends, strict=True))


def shard_for(count: int, key: int) -> int:
    """The index of the shard whose range (of `hash_ranges(count)`) holds `key`."""
    return min(key // (HASH_SPACE // count), count - 1)


def shard_id(index: int) -> str:
    return f"shardId-{index:012d}"


def shard_index(shard: str) -> int | None:
    """The index of a `shardId-000000000003`-style id (a bare `3` too, as AWS accepts)."""
    digits = shard.removeprefix("shardId-")
    return int(digits) if digits.isdigit() and len(digits) <= 12 else None


def sequence_number(created: int, shard: int, position: int) -> str:
    value = _PREFIX * 10**54 + (created % 10**10) * _CREATED + shard * _SHARD + position
    return str(value)


def decode_sequence(text: str) -> tuple[int, int, int] | None:
    """(stream creation's digits, shard index, position) a sequence number encodes, or
    None for text that is not one of Ember's."""
    if len(text) != SEQUENCE_DIGITS or not text.isdigit():
        return None
    value = int(text) - _PREFIX * 10**54
    if value < 0:
        return None
    return value // _CREATED, (value % _CREATED) // _SHARD, value % _SHARD


def parse_sequence(text: str, created: int, shard: int) -> int | None:
    """The position a sequence number names in this shard of this stream, else None."""
    decoded = decode_sequence(text)
    if decoded is None or decoded[0] != created % 10**10 or decoded[1] != shard:
        return None
    return decoded[2]
