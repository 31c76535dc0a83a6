"""Hash-key ranges, MD5 routing, sequence numbers, iterators and shard bookkeeping."""

from __future__ import annotations

import hashlib
import itertools

import pytest

from ember.streams import iterators
from ember.streams.errors import ExpiredIteratorError, InvalidArgumentError
from ember.streams.keys import (
    HASH_SPACE,
    hash_key,
    hash_ranges,
    parse_sequence,
    sequence_number,
    shard_for,
    shard_id,
    shard_index,
)
from ember.streams.shards import BYTES_PER_SECOND, RECORDS_PER_SECOND, Shard, StoredRecord


def test_ranges_split_the_hash_space_as_aws_does() -> None:
    # AWS's four-shard stream: 0-85070591730234615865843651857942052863, …
    assert hash_ranges(4)[0] == (0, 85070591730234615865843651857942052863)
    assert hash_ranges(4)[-1][1] == HASH_SPACE - 1
    three = hash_ranges(3)
    assert three[1][0] == 113427455640312821154458202477256070485
    assert all(a[1] + 1 == b[0] for a, b in itertools.pairwise(three))


@pytest.mark.parametrize("count", [1, 2, 3, 4, 7, 10])
def test_every_key_falls_in_its_shards_range(count: int) -> None:
    ranges = hash_ranges(count)
    for key in [f"k{i}" for i in range(200)] + ["", "x" * 256]:
        hashed = hash_key(key)
        start, end = ranges[shard_for(count, hashed)]
        assert start <= hashed <= end
    assert shard_for(count, HASH_SPACE - 1) == count - 1


def test_hash_key_is_the_md5_as_a_big_endian_integer() -> None:
    assert hash_key("a") == int(hashlib.md5(b"a").hexdigest(), 16)


def test_sequence_numbers_round_trip_and_order() -> None:
    created = 1_790_000_000
    first, second = sequence_number(created, 3, 7), sequence_number(created, 3, 8)
    assert len(first) == 56
    assert int(first) < int(second)
    assert parse_sequence(first, created, 3) == 7
    assert parse_sequence(first, created, 2) is None  # another shard's
    assert parse_sequence(first, created + 1, 3) is None  # another stream of that name
    assert parse_sequence("123", created, 3) is None


def test_shard_ids() -> None:
    assert shard_id(12) == "shardId-000000000012"
    assert shard_index("shardId-000000000012") == 12
    assert shard_index("shardId-x") is None


def test_iterators_expire_after_five_minutes() -> None:
    it = iterators.Iterator("s", 1.0, 0, 5, 1000.0)
    assert iterators.decode(iterators.encode(it), 1299.0) == it
    with pytest.raises(ExpiredIteratorError, match="tolerated delay of 300000 milliseconds"):
        iterators.decode(iterators.encode(it), 1301.0)


@pytest.mark.parametrize("text", ["", "not base64!", "aGVsbG8=", "A" * 40])
def test_malformed_iterators_are_refused(text: str) -> None:
    with pytest.raises(InvalidArgumentError):
        iterators.decode(text, 0.0)


def test_a_shard_admits_a_thousand_records_or_a_mebibyte_a_second() -> None:
    shard = Shard(0, 0, HASH_SPACE - 1)
    assert all(shard.admit(10.2, 1) for _ in range(RECORDS_PER_SECOND))
    assert not shard.admit(10.9, 1)
    assert shard.admit(11.0, BYTES_PER_SECOND)
    assert not shard.admit(11.5, 1)


def test_expiry_trims_the_oldest_and_keeps_positions() -> None:
    shard = Shard(0, 0, HASH_SPACE - 1)
    for position, arrival in enumerate([1.0, 2.0, 3.0, 4.0], start=1):
        shard.append(StoredRecord(shard.reserve(), arrival, "k", b""))
        assert shard.last_position() == position
    assert shard.first_at(2.5) == 2
    assert shard.expire(2.5) == 2
    assert shard.horizon() == 2
    assert [r.position for r in shard.after(0, 10)] == [3, 4]
    assert shard.reserve() == 5
