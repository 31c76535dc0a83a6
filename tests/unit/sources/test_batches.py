"""Lambda's rules for a batch's answer, the SQS record shape, filters and scaling."""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson
import pytest

from ember.patterns import compile as compile_pattern
from ember.sources.filtering import RecordFilter
from ember.sources.responses import ALL_FAILED, failed_items, split_batch
from ember.sources.scaling import next_workers
from ember.sources.source import Record
from ember.sources.sqs import filter_view, sqs_record

IDS = {"a", "b", "c"}


@pytest.mark.parametrize(
    "payload",
    [b"", b"null", b"{}", b'{"batchItemFailures": []}', b'{"batchItemFailures": null}', b'"ok"'],
)
def test_success_answers(payload: bytes) -> None:
    assert failed_items(payload, IDS) == set()


@pytest.mark.parametrize(
    "payload",
    [
        b"{not json",
        b'{"batchItemFailures": [{"itemIdentifier": "zzz"}]}',
        b'{"batchItemFailures": [{"itemIdentifier": ""}]}',
        b'{"batchItemFailures": [{"itemIdentifier": null}]}',
        b'{"batchItemFailures": [{"itemId": "a"}]}',
        b'{"batchItemFailures": ["a"]}',
        b'{"batchItemFailures": "a"}',
    ],
)
def test_whole_batch_failed(payload: bytes) -> None:
    assert failed_items(payload, IDS) is ALL_FAILED


def test_reported_items() -> None:
    payload = b'{"batchItemFailures": [{"itemIdentifier": "b"}, {"itemIdentifier": "c"}]}'
    assert failed_items(payload, IDS) == {"b", "c"}


def _record(item: str, group: str | None = None, body: str = "x") -> Record:
    event = {"messageId": item, "body": body}
    return Record(item, group, 1, event, f"h-{item}")


def _view(record: Record) -> dict[str, Any]:
    return filter_view(record.event)


def test_split_keeps_group_order() -> None:
    batch = [_record("a", "g1"), _record("b", "g1"), _record("c", "g2"), _record("d", "g1")]
    done, retry = split_batch(batch, {"b"}, ordered=True)
    assert [r.item_id for r in done] == ["a", "c"]
    assert [r.item_id for r in retry] == ["b", "d"]
    done, retry = split_batch(batch, {"b"}, ordered=False)
    assert [r.item_id for r in done] == ["a", "c", "d"]
    assert split_batch(batch, ALL_FAILED, ordered=False) == ([], batch)


@dataclasses.dataclass
class _Message:
    message_id: str = "m-1"
    receipt_handle: str = "rh-1"
    body: str = '{"kind": "order", "n": 150}'
    md5_of_body: str = "abc"
    attributes: dict[str, str] = dataclasses.field(
        default_factory=lambda: {
            "SentTimestamp": "1700000000000",
            "ApproximateReceiveCount": "1",
            "SenderId": "000000000000",
            "ApproximateFirstReceiveTimestamp": "1700000000001",
        }
    )
    message_attributes: dict[str, dict[str, Any]] = dataclasses.field(
        default_factory=lambda: {
            "s": {"DataType": "String", "StringValue": "v"},
            "b": {"DataType": "Binary", "BinaryValue": b"\x01"},
        }
    )


def test_sqs_record_shape() -> None:
    record = sqs_record(_Message(), "arn:aws:sqs:us-east-1:000000000000:q", "us-east-1")
    assert list(record) == [
        "messageId", "receiptHandle", "body", "attributes", "messageAttributes", "md5OfBody",
        "eventSource", "eventSourceARN", "awsRegion",
    ]  # fmt: skip
    assert list(record["attributes"]) == [
        "ApproximateReceiveCount", "SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"
    ]  # fmt: skip
    assert record["messageAttributes"] == {
        "s": {"stringValue": "v", "stringListValues": [], "binaryListValues": [],
              "dataType": "String"},
        "b": {"binaryValue": "AQ==", "stringListValues": [], "binaryListValues": [],
              "dataType": "Binary"},
    }  # fmt: skip
    assert record["eventSource"] == "aws:sqs"


def test_filters_see_json_bodies() -> None:
    filters = RecordFilter(
        [orjson.dumps({"body": {"n": [{"numeric": [">", 100]}]}}).decode()], compile_pattern, _view
    )
    kept, dropped = filters.split(
        [_record("a", body='{"n": 150}'), _record("b", body='{"n": 5}'), _record("c", body="n")]
    )
    assert [r.item_id for r in kept] == ["a"]
    assert [r.item_id for r in dropped] == ["b", "c"]
    plain = RecordFilter([orjson.dumps({"body": ["hello"]}).decode()], compile_pattern, _view)
    assert [r.item_id for r in plain.split([_record("a", body="hello"), _record("b")])[0]] == ["a"]


def test_no_filters_keep_everything() -> None:
    batch = [_record("a")]
    assert RecordFilter(None, compile_pattern, _view).split(batch) == (batch, [])


def test_scaling() -> None:
    assert next_workers(2, 0, 0, 10, 100, 0.5) == 1  # drained: one poller stays
    assert next_workers(2, 1000, 500, 10, 100, 0.5) == 7  # growing backlog: +5 a tick
    assert next_workers(7, 5000, 5100, 10, 100, 0.5) == 12  # draining, but too slowly
    assert next_workers(7, 800, 1000, 10, 100, 0.5) == 7  # drains within 2 s: hold
    assert next_workers(7, 5000, 5000, 10, 3, 0.5) == 3  # MaximumConcurrency / reserved
    assert next_workers(2, 5000, 5000, 10, 0, 0.5) == 0  # reserved concurrency 0
