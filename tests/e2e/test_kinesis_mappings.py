"""Event source mappings from Kinesis streams, driven with boto3 (lambda, kinesis, sqs) and
the AWS CLI. Functions report every batch they get to a listener on the host
(tests/e2e/batch_reports.py); order and loss are judged from those reports, failure records
from the OnFailure queue. One server for the module."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.batch_reports import KINESIS_HANDLER, Reports, listening, variables
from tests.e2e.batch_reports import unique_name as _name
from tests.e2e.harness import Server, aws_cli, create_function, free_port, run_server, wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, port: int) -> Iterator[Server]:
    root: Path = tmp_path_factory.mktemp("kinesis-esm")
    with run_server(root / "data", "--host-access", str(port)) as srv:
        yield srv


@pytest.fixture(scope="module")
def reports(port: int) -> Iterator[Reports]:
    with listening(port) as found:
        yield found


@pytest.fixture(scope="module")
def lam(server: Server) -> Any:
    return server.client()


@pytest.fixture(scope="module")
def kinesis(server: Server) -> Any:
    return server.client("kinesis")


def _stream(kinesis: Any, shards: int = 2) -> str:
    name = _name("stream")
    kinesis.create_stream(StreamName=name, ShardCount=shards)
    arn: str = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"][
        "StreamARN"
    ]
    return arn


def _function(lam: Any, port: int, mode: str = "ok") -> str:
    name = _name(f"kin-{mode}")
    create_function(lam, name, KINESIS_HANDLER, Environment=variables(port, mode))
    return name


def _map(lam: Any, function: str, arn: str, **kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("StartingPosition", "TRIM_HORIZON")
    mapping: dict[str, Any] = lam.create_event_source_mapping(
        FunctionName=function, EventSourceArn=arn, **kwargs
    )
    wait_until(
        lambda: lam.get_event_source_mapping(UUID=mapping["UUID"])["State"] == "Enabled",
        limit=15,
    )
    return mapping


def _put(kinesis: Any, arn: str, items: list[tuple[str, str]]) -> None:
    """(partition key, data) in this order, retried past throughput refusals."""
    for start in range(0, len(items), 500):
        chunk = items[start : start + 500]
        while chunk:
            answer = kinesis.put_records(
                StreamARN=arn, Records=[{"PartitionKey": k, "Data": d.encode()} for k, d in chunk]
            )
            refused = [
                item for item, r in zip(chunk, answer["Records"], strict=True) if "ErrorCode" in r
            ]
            if refused:
                time.sleep(0.2)
            # Order per key holds only if a refused record is not overtaken by a later one
            # of its key: the callers here put each key's records in separate calls.
            chunk = refused


def ordered(reports: Reports, fn: str) -> list[dict[str, Any]]:
    """The records `fn` got, in the order its invocations began (handler clock)."""
    batches = sorted(reports.batches(fn), key=lambda b: b[0]["at"] if b else 0.0)
    return [r for batch in batches for r in batch]


def _by_key(records: list[dict[str, Any]]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for r in records:
        found.setdefault(r["kinesis"]["partitionKey"], []).append(r["body"])
    return found


def test_create_answers_the_stream_members(lam: Any, kinesis: Any, port: int) -> None:
    arn = _stream(kinesis, 1)
    fn = _function(lam, port)
    created = lam.create_event_source_mapping(
        FunctionName=fn, EventSourceArn=arn, StartingPosition="LATEST"
    )
    assert created["State"] == "Creating"
    for member, value in {
        "BatchSize": 100,
        "BisectBatchOnFunctionError": False,
        "DestinationConfig": {"OnFailure": {}},
        "LastProcessingResult": "No records processed",
        "MaximumBatchingWindowInSeconds": 0,
        "MaximumRecordAgeInSeconds": -1,
        "MaximumRetryAttempts": -1,
        "ParallelizationFactor": 1,
        "StartingPosition": "LATEST",
        "StateTransitionReason": "User action",
        "TumblingWindowInSeconds": 0,
        "FunctionResponseTypes": [],
    }.items():
        assert created[member] == value, member
    with pytest.raises(ClientError) as dup:
        lam.create_event_source_mapping(
            FunctionName=fn, EventSourceArn=arn, StartingPosition="LATEST"
        )
    assert dup.value.response["Error"]["Code"] == "ResourceConflictException"
    assert created["UUID"] in dup.value.response["Error"]["Message"]
    lam.delete_event_source_mapping(UUID=created["UUID"])


@pytest.mark.parametrize(
    ("extra", "code", "words"),
    [
        ({}, "InvalidParameterValueException", "Value null at 'startingPosition'"),
        ({"StartingPosition": "SOMEWHERE"}, "ValidationException", "enum value set"),
        (
            {"StartingPosition": "LATEST", "MaximumRecordAgeInSeconds": 30},
            "InvalidParameterValueException",
            "either -1 (forever) or between 60 and 604800",
        ),
        ({"StartingPosition": "LATEST", "ParallelizationFactor": 11}, "ValidationException", ""),
        ({"StartingPosition": "LATEST", "BatchSize": 10001}, "ValidationException", ""),
        (
            {"StartingPosition": "AT_TIMESTAMP"},
            "InvalidParameterValueException",
            "StartingPositionTimestamp",
        ),
    ],
)
def test_create_refuses_bad_settings(
    lam: Any, kinesis: Any, port: int, extra: dict[str, Any], code: str, words: str
) -> None:
    arn = _stream(kinesis, 1)
    fn = _function(lam, port)
    with pytest.raises(ClientError) as refused:
        lam.create_event_source_mapping(FunctionName=fn, EventSourceArn=arn, **extra)
    assert refused.value.response["Error"]["Code"] == code
    assert words in refused.value.response["Error"]["Message"]


def test_missing_stream_is_refused(lam: Any, port: int) -> None:
    fn = _function(lam, port)
    arn = "arn:aws:kinesis:us-east-1:000000000000:stream/never-made"
    with pytest.raises(ClientError) as refused:
        lam.create_event_source_mapping(
            FunctionName=fn, EventSourceArn=arn, StartingPosition="LATEST"
        )
    assert refused.value.response["Error"]["Code"] == "InvalidParameterValueException"


def test_records_arrive_in_order_per_key_in_lambdas_shape(
    lam: Any, kinesis: Any, port: int, reports: Reports
) -> None:
    arn = _stream(kinesis, 2)
    fn = _function(lam, port)
    keys = [f"key-{k}" for k in range(8)]
    for key in keys:  # each key's records in one call, in order
        _put(kinesis, arn, [(key, f"{key}:{i}") for i in range(40)])
    _map(lam, fn, arn, BatchSize=25)
    wait_until(lambda: len(reports.records(fn)) >= 320, limit=60, interval=0.2)
    seen = _by_key(ordered(reports, fn))
    for key in keys:
        assert seen[key] == [f"{key}:{i}" for i in range(40)], key
    assert max(len(b) for b in reports.batches(fn)) <= 25
    record = reports.records(fn)[0]
    shard = record["eventID"].split(":")[0]
    assert shard.startswith("shardId-00000000000")
    assert record["eventID"] == f"{shard}:{record['kinesis']['sequenceNumber']}"
    assert {k: record[k] for k in ("eventSource", "eventVersion", "eventName", "awsRegion",
                                    "eventSourceARN")} == {
        "eventSource": "aws:kinesis", "eventVersion": "1.0", "eventName": "aws:kinesis:record",
        "awsRegion": "us-east-1", "eventSourceARN": arn,
    }  # fmt: skip
    assert record["invokeIdentityArn"] == "arn:aws:iam::000000000000:role/lambda-role"
    assert record["kinesis"]["kinesisSchemaVersion"] == "1.0"
    assert len(record["kinesis"]["sequenceNumber"]) == 56
    assert isinstance(record["kinesis"]["approximateArrivalTimestamp"], float)
    assert base64.b64decode(record["kinesis"]["data"]).decode() == record["body"]


def test_latest_skips_what_was_there(lam: Any, kinesis: Any, port: int, reports: Reports) -> None:
    arn = _stream(kinesis, 1)
    fn = _function(lam, port)
    _put(kinesis, arn, [("k", "before")])
    _map(lam, fn, arn, StartingPosition="LATEST")
    _put(kinesis, arn, [("k", "after")])
    wait_until(lambda: "after" in [r["body"] for r in reports.records(fn)], limit=30)
    assert "before" not in [r["body"] for r in reports.records(fn)]


def test_parallelization_keeps_order_per_key(
    lam: Any, kinesis: Any, port: int, reports: Reports
) -> None:
    arn = _stream(kinesis, 1)
    fn = _function(lam, port)
    keys = [f"p-{k}" for k in range(12)]
    for key in keys:
        _put(kinesis, arn, [(key, f"{key}:{i}") for i in range(20)])
    _map(lam, fn, arn, BatchSize=10, ParallelizationFactor=4)
    wait_until(lambda: len(reports.records(fn)) >= 240, limit=60, interval=0.2)
    seen = _by_key(ordered(reports, fn))
    for key in keys:
        assert seen[key] == [f"{key}:{i}" for i in range(20)], key


def test_failing_batch_is_bisected_retried_and_sent_on(
    lam: Any, kinesis: Any, server: Server, port: int, reports: Reports
) -> None:
    sqs = server.client("sqs")
    queue = sqs.create_queue(QueueName=_name("kin-failures"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    arn = _stream(kinesis, 1)
    fn = _function(lam, port, "fail")
    _put(kinesis, arn, [("k", f"ok-{i}") for i in range(3)] + [("k", "fail-me")]
         + [("k", f"ok-{i}") for i in range(3, 8)])  # fmt: skip
    mapping = _map(
        lam, fn, arn, BatchSize=8, MaximumBatchingWindowInSeconds=1,
        BisectBatchOnFunctionError=True, MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": queue_arn}},
    )  # fmt: skip
    assert mapping["DestinationConfig"] == {"OnFailure": {"Destination": queue_arn}}

    def failure() -> list[dict[str, Any]]:
        got = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1)
        return [json.loads(m["Body"]) for m in got.get("Messages", [])]

    records = wait_until(failure, limit=60, interval=0.1)
    (record,) = records
    info = record["KinesisBatchInfo"]
    assert info["batchSize"] == 1
    assert info["startSequenceNumber"] == info["endSequenceNumber"]
    assert info["shardId"] == "shardId-000000000000"
    assert info["streamArn"] == arn
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["requestContext"]["functionArn"].endswith(f":function:{fn}")
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["version"] == "1.0"
    # Every other record got through, after the failing one was given up on, in order.
    wait_until(lambda: {f"ok-{i}" for i in range(8)} <= set(_ok(reports, fn)), limit=30)
    delivered = _ok(reports, fn)
    last = [b for b in delivered if b in {f"ok-{i}" for i in range(3, 8)}]
    assert last[-5:] == [f"ok-{i}" for i in range(3, 8)]


def _ok(reports: Reports, fn: str) -> list[str]:
    """The bodies of the batches that succeeded (no failing record in them)."""
    return [
        r["body"]
        for batch in sorted(reports.batches(fn), key=lambda b: b[0]["at"])
        if not any(r["body"].startswith("fail") for r in batch)
        for r in batch
    ]


def test_reported_item_failures_checkpoint_at_the_lowest(
    lam: Any, kinesis: Any, port: int, reports: Reports
) -> None:
    arn = _stream(kinesis, 1)
    fn = _function(lam, port, "partial")
    _put(kinesis, arn, [("k", "a"), ("k", "b"), ("k", "bad"), ("k", "c")])
    _map(lam, fn, arn, BatchSize=4, MaximumBatchingWindowInSeconds=1,
         FunctionResponseTypes=["ReportBatchItemFailures"], MaximumRetryAttempts=2)  # fmt: skip
    wait_until(lambda: len(reports.batches(fn)) >= 3, limit=30)
    time.sleep(1)  # no more batches come: two retries, then the records are given up on
    bodies = [[r["body"] for r in b] for b in sorted(reports.batches(fn), key=lambda b: b[0]["at"])]
    assert bodies == [["a", "b", "bad", "c"], ["bad", "c"], ["bad", "c"]]


def test_filters_match_json_data(lam: Any, kinesis: Any, port: int, reports: Reports) -> None:
    arn = _stream(kinesis, 1)
    fn = _function(lam, port)
    _put(kinesis, arn, [("k", json.dumps({"kind": "keep", "n": 1})),
                        ("k", json.dumps({"kind": "drop", "n": 2})), ("k", "not json"),
                        ("k", json.dumps({"kind": "keep", "n": 3}))])  # fmt: skip
    _map(lam, fn, arn, FilterCriteria={"Filters": [{"Pattern": '{"data": {"kind": ["keep"]}}'}]})
    wait_until(lambda: len(reports.records(fn)) >= 2, limit=30)
    time.sleep(0.5)
    assert [json.loads(r["body"])["n"] for r in reports.records(fn)] == [1, 3]


def test_cli_creates_and_lists_a_stream_mapping(
    server: Server, lam: Any, kinesis: Any, port: int
) -> None:
    arn = _stream(kinesis, 1)
    fn = _function(lam, port)
    out = aws_cli(server.endpoint, "lambda", "create-event-source-mapping", "--function-name",
                  fn, "--event-source-arn", arn, "--starting-position", "TRIM_HORIZON",
                  "--batch-size", "500", "--parallelization-factor", "2")  # fmt: skip
    created = json.loads(out.stdout)
    assert created["ParallelizationFactor"] == 2
    assert created["BatchSize"] == 500
    listed = json.loads(aws_cli(server.endpoint, "lambda", "list-event-source-mappings",
                                "--event-source-arn", arn).stdout)  # fmt: skip
    assert [m["UUID"] for m in listed["EventSourceMappings"]] == [created["UUID"]]
    updated = lam.update_event_source_mapping(UUID=created["UUID"], MaximumRetryAttempts=5)
    assert updated["MaximumRetryAttempts"] == 5
    assert updated["ParallelizationFactor"] == 2


WINDOW_HANDLER = """\
import json
import os
import socket

_ADDRESS = (os.environ["REPORT_HOST"], int(os.environ["REPORT_PORT"]))


def handler(event, context):
    state = dict(event["state"])
    state["count"] = state.get("count", 0) + len(event["Records"])
    doc = {k: event[k] for k in ("window", "state", "shardId", "eventSourceARN",
                                 "isFinalInvokeForWindow", "isWindowTerminatedEarly")}
    doc["body"] = json.dumps(doc)
    with socket.create_connection(_ADDRESS) as conn:
        conn.sendall((json.dumps({"fn": context.function_name, "records": [doc]}) + "\\n").encode())
    return {"state": state}
"""


def test_tumbling_windows_carry_state_to_a_final_invoke(
    lam: Any, kinesis: Any, port: int, reports: Reports
) -> None:
    arn = _stream(kinesis, 1)
    fn = _name("kin-window")
    create_function(lam, fn, WINDOW_HANDLER, Environment=variables(port))
    _map(lam, fn, arn, BatchSize=3, TumblingWindowInSeconds=2)
    for i in range(7):
        _put(kinesis, arn, [("k", f"r{i}")])
    finals = wait_until(
        lambda: [r for r in reports.records(fn) if r["isFinalInvokeForWindow"]] if sum(
            r["state"]["count"] for r in reports.records(fn) if r["isFinalInvokeForWindow"]
        ) >= 7 else None,
        limit=30, interval=0.2,
    )  # fmt: skip
    assert sum(r["state"]["count"] for r in finals) == 7
    first = reports.records(fn)[0]
    assert first["shardId"] == "shardId-000000000000"
    assert first["eventSourceARN"] == arn
    assert first["state"] == {}
    assert first["isWindowTerminatedEarly"] is False
    assert first["window"]["start"] < first["window"]["end"]
    got = lam.get_event_source_mapping(UUID=lam.list_event_source_mappings(
        EventSourceArn=arn)["EventSourceMappings"][0]["UUID"])  # fmt: skip
    assert got["TumblingWindowInSeconds"] == 2


def test_at_timestamp_starts_at_the_first_record_since(
    lam: Any, kinesis: Any, port: int, reports: Reports
) -> None:
    arn = _stream(kinesis, 1)
    fn = _function(lam, port)
    _put(kinesis, arn, [("k", "old")])
    time.sleep(0.05)
    since = time.time()
    time.sleep(0.05)
    _put(kinesis, arn, [("k", "new")])
    mapping = _map(lam, fn, arn, StartingPosition="AT_TIMESTAMP", StartingPositionTimestamp=since)
    assert mapping["StartingPosition"] == "AT_TIMESTAMP"
    assert abs(mapping["StartingPositionTimestamp"].timestamp() - since) < 0.01
    wait_until(lambda: reports.records(fn), limit=30)
    time.sleep(0.5)
    assert [r["body"] for r in reports.records(fn)] == ["new"]


def test_order_per_key_holds_across_a_reshard(
    lam: Any, kinesis: Any, port: int, reports: Reports
) -> None:
    arn = _stream(kinesis, 2)
    fn = _function(lam, port)
    keys = [f"r-{k}" for k in range(10)]
    _map(lam, fn, arn, BatchSize=7)  # running while the stream is resharded twice
    for key in keys:
        _put(kinesis, arn, [(key, f"{key}:{i}") for i in range(10)])
    wait_until(lambda: len(reports.records(fn)) >= 100, limit=60, interval=0.2)
    kinesis.update_shard_count(StreamARN=arn, TargetShardCount=3, ScalingType="UNIFORM_SCALING")
    for key in keys:
        _put(kinesis, arn, [(key, f"{key}:{i}") for i in range(10, 20)])
    kinesis.update_shard_count(StreamARN=arn, TargetShardCount=2, ScalingType="UNIFORM_SCALING")
    for key in keys:
        _put(kinesis, arn, [(key, f"{key}:{i}") for i in range(20, 30)])
    wait_until(lambda: len(reports.records(fn)) >= 300, limit=60, interval=0.2)
    seen = _by_key(ordered(reports, fn))
    for key in keys:
        assert seen[key] == [f"{key}:{i}" for i in range(30)], key
