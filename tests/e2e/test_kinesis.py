"""Kinesis data streams driven with boto3 and the AWS CLI: streams, shards and their hash-key
ranges, puts, iterators and reads, retention, and AWS's errors. One server for the module;
durability across a restart is checked on a server of its own."""

from __future__ import annotations

import datetime
import hashlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.harness import Server, aws_cli, create_function, run_server

pytestmark = pytest.mark.e2e

ACCOUNT = "000000000000"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with run_server(tmp_path_factory.mktemp("kinesis") / "data") as srv:
        yield srv


@pytest.fixture(scope="module")
def kinesis(server: Server) -> Any:
    return server.client("kinesis")


_counter = iter(range(1_000_000))


def _name() -> str:
    return f"s-{next(_counter)}-{int(time.time() * 1000) % 100_000}"


def _error(call: Any, **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as refused:
        call(**kwargs)
    error = refused.value.response["Error"]
    return error["Code"], error["Message"]


def _read_all(kinesis: Any, stream: str, shard: str, kind: str = "TRIM_HORIZON",
              **position: Any) -> list[dict[str, Any]]:  # fmt: skip
    it = kinesis.get_shard_iterator(
        StreamName=stream, ShardId=shard, ShardIteratorType=kind, **position
    )["ShardIterator"]
    found: list[dict[str, Any]] = []
    while True:
        out = kinesis.get_records(ShardIterator=it, Limit=1000)
        found += out["Records"]
        it = out["NextShardIterator"]
        if not out["Records"]:
            return found


def test_create_describe_list_delete(kinesis: Any) -> None:
    name = _name()
    kinesis.create_stream(StreamName=name, ShardCount=3)
    kinesis.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 1})
    described = kinesis.describe_stream(StreamName=name)["StreamDescription"]
    assert described["StreamARN"] == f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/{name}"
    assert described["StreamStatus"] == "ACTIVE"
    assert described["RetentionPeriodHours"] == 24
    assert described["HasMoreShards"] is False
    ranges = [(int(s["HashKeyRange"]["StartingHashKey"]), int(s["HashKeyRange"]["EndingHashKey"]))
              for s in described["Shards"]]  # fmt: skip
    width = 2**128 // 3
    assert ranges == [(0, width - 1), (width, 2 * width - 1), (2 * width, 2**128 - 1)]
    assert [s["ShardId"] for s in described["Shards"]] == [
        "shardId-000000000000", "shardId-000000000001", "shardId-000000000002",
    ]  # fmt: skip
    summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert summary["OpenShardCount"] == 3
    assert summary["StreamModeDetails"] == {"StreamMode": "PROVISIONED"}
    assert name in kinesis.list_streams()["StreamNames"]
    page = kinesis.list_shards(StreamName=name, MaxResults=2)
    assert len(page["Shards"]) == 2
    rest = kinesis.list_shards(NextToken=page["NextToken"])
    assert [s["ShardId"] for s in rest["Shards"]] == ["shardId-000000000002"]
    kinesis.delete_stream(StreamName=name)
    assert _error(kinesis.describe_stream, StreamName=name) == (
        "ResourceNotFoundException", f"Stream {name} under account {ACCOUNT} not found.",
    )  # fmt: skip


def test_on_demand_streams_start_with_four_shards(kinesis: Any) -> None:
    name = _name()
    kinesis.create_stream(StreamName=name, StreamModeDetails={"StreamMode": "ON_DEMAND"})
    summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert summary["OpenShardCount"] == 4
    assert summary["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"}


def test_create_errors(kinesis: Any) -> None:
    name = _name()
    kinesis.create_stream(StreamName=name, ShardCount=1)
    assert _error(kinesis.create_stream, StreamName=name, ShardCount=1) == (
        "ResourceInUseException", f"Stream {name} under account {ACCOUNT} already exists.",
    )  # fmt: skip
    code, message = _error(kinesis.create_stream, StreamName="bad name!", ShardCount=1)
    assert code == "ValidationException"
    assert "streamName" in message
    code, _ = _error(kinesis.create_stream, StreamName=_name(), ShardCount=501)
    assert code == "LimitExceededException"


def test_partition_keys_go_to_their_md5_shard(kinesis: Any) -> None:
    name = _name()
    kinesis.create_stream(StreamName=name, ShardCount=4)
    shards = kinesis.list_shards(StreamName=name)["Shards"]
    for key in [f"key-{i}" for i in range(20)]:
        hashed = int.from_bytes(hashlib.md5(key.encode()).digest(), "big")
        (wanted,) = [s["ShardId"] for s in shards
                     if int(s["HashKeyRange"]["StartingHashKey"]) <= hashed
                     <= int(s["HashKeyRange"]["EndingHashKey"])]  # fmt: skip
        put = kinesis.put_record(StreamName=name, PartitionKey=key, Data=key.encode())
        assert put["ShardId"] == wanted
    put = kinesis.put_record(StreamName=name, PartitionKey="x", Data=b"x",
                             ExplicitHashKey=str(2**128 - 1))  # fmt: skip
    assert put["ShardId"] == "shardId-000000000003"
    code, _ = _error(kinesis.put_record, StreamName=name, PartitionKey="x", Data=b"x",
                     ExplicitHashKey=str(2**128))  # fmt: skip
    assert code == "InvalidArgumentException"


def test_sequence_numbers_increase_and_records_read_back(kinesis: Any) -> None:
    name = _name()
    kinesis.create_stream(StreamName=name, ShardCount=1)
    answer = kinesis.put_records(StreamName=name, Records=[
        {"PartitionKey": f"k{i}", "Data": f"d{i}".encode()} for i in range(50)
    ])  # fmt: skip
    assert answer["FailedRecordCount"] == 0
    sequences = [int(r["SequenceNumber"]) for r in answer["Records"]]
    assert sequences == sorted(sequences)
    assert len(set(sequences)) == 50
    assert all(len(r["SequenceNumber"]) == 56 for r in answer["Records"])
    records = _read_all(kinesis, name, "shardId-000000000000")
    assert [r["Data"] for r in records] == [f"d{i}".encode() for i in range(50)]
    assert [r["PartitionKey"] for r in records] == [f"k{i}" for i in range(50)]
    assert isinstance(records[0]["ApproximateArrivalTimestamp"], datetime.datetime)
    tenth = answer["Records"][10]["SequenceNumber"]
    at = _read_all(kinesis, name, "shardId-000000000000", "AT_SEQUENCE_NUMBER",
                   StartingSequenceNumber=tenth)  # fmt: skip
    assert at[0]["SequenceNumber"] == tenth
    assert len(at) == 40
    after = _read_all(kinesis, name, "shardId-000000000000", "AFTER_SEQUENCE_NUMBER",
                      StartingSequenceNumber=tenth)  # fmt: skip
    assert len(after) == 39
    assert _read_all(kinesis, name, "shardId-000000000000", "LATEST") == []
    later = _read_all(
        kinesis,
        name,
        "shardId-000000000000",
        "AT_TIMESTAMP",
        Timestamp=datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1),
    )
    assert later == []
    earlier = _read_all(
        kinesis,
        name,
        "shardId-000000000000",
        "AT_TIMESTAMP",
        Timestamp=datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC),
    )
    assert len(earlier) == 50


def test_get_records_limit_next_iterator_and_lag(kinesis: Any) -> None:
    name = _name()
    kinesis.create_stream(StreamName=name, ShardCount=1)
    for i in range(5):
        kinesis.put_record(StreamName=name, PartitionKey="k", Data=str(i).encode())
    it = kinesis.get_shard_iterator(StreamName=name, ShardId="shardId-000000000000",
                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]  # fmt: skip
    first = kinesis.get_records(ShardIterator=it, Limit=2)
    assert [r["Data"] for r in first["Records"]] == [b"0", b"1"]
    assert first["MillisBehindLatest"] >= 0
    rest = kinesis.get_records(ShardIterator=first["NextShardIterator"])
    assert [r["Data"] for r in rest["Records"]] == [b"2", b"3", b"4"]
    assert rest["MillisBehindLatest"] == 0
    kinesis.put_record(StreamName=name, PartitionKey="k", Data=b"5")
    more = kinesis.get_records(ShardIterator=rest["NextShardIterator"])
    assert [r["Data"] for r in more["Records"]] == [b"5"]


def test_iterator_and_read_errors(kinesis: Any) -> None:
    name = _name()
    kinesis.create_stream(StreamName=name, ShardCount=1)
    code, message = _error(
        kinesis.get_shard_iterator,
        StreamName=name,
        ShardId="shardId-000000000007",
        ShardIteratorType="LATEST",
    )
    assert code == "ResourceNotFoundException"
    assert message == (f"Shard shardId-000000000007 in stream {name} under account "
                       f"{ACCOUNT} does not exist")  # fmt: skip
    code, _ = _error(kinesis.get_shard_iterator, StreamName=name,
                     ShardId="shardId-000000000000", ShardIteratorType="AT_SEQUENCE_NUMBER",
                     StartingSequenceNumber="12345")  # fmt: skip
    assert code == "InvalidArgumentException"
    code, message = _error(
        kinesis.get_shard_iterator,
        StreamName=name,
        ShardId="shardId-000000000000",
        ShardIteratorType="AT_TIMESTAMP",
    )
    assert code == "InvalidArgumentException"
    assert "timestamp" in message
    code, _ = _error(kinesis.get_records, ShardIterator="bm90LWFuLWl0ZXJhdG9y")
    assert code == "InvalidArgumentException"
    it = kinesis.get_shard_iterator(StreamName=name, ShardId="shardId-000000000000",
                                    ShardIteratorType="LATEST")["ShardIterator"]  # fmt: skip
    kinesis.delete_stream(StreamName=name)
    code, _ = _error(kinesis.get_records, ShardIterator=it)
    assert code == "ResourceNotFoundException"
    code, _ = _error(kinesis.put_record, StreamName=name, PartitionKey="k", Data=b"x")
    assert code == "ResourceNotFoundException"


def test_put_errors(kinesis: Any) -> None:
    name = _name()
    kinesis.create_stream(StreamName=name, ShardCount=1)
    code, message = _error(kinesis.put_record, StreamName=name, PartitionKey="k",
                           Data=b"x" * (1024 * 1024))  # fmt: skip
    assert code == "ValidationException"
    assert "1048576" in message
    code, _ = _error(kinesis.put_records, StreamName=name, Records=[
        {"PartitionKey": "k", "Data": b"x"} for _ in range(501)
    ])  # fmt: skip
    assert code == "ValidationException"


def test_writes_past_a_shards_limit_fail_per_record(kinesis: Any) -> None:
    name = _name()
    kinesis.create_stream(StreamName=name, ShardCount=1)
    # 1 MiB a second per shard: three puts of ~400 KB each within one call's second.
    entries = [{"PartitionKey": "k", "Data": b"x" * 400_000} for _ in range(3)]
    answer = kinesis.put_records(StreamName=name, Records=entries)
    assert answer["FailedRecordCount"] >= 1
    failed = [r for r in answer["Records"] if "ErrorCode" in r]
    assert failed[0]["ErrorCode"] == "ProvisionedThroughputExceededException"
    assert failed[0]["ErrorMessage"] == (
        f"Rate exceeded for shard shardId-000000000000 in stream {name} under account {ACCOUNT}."
    )
    assert "SequenceNumber" in answer["Records"][0]


def test_retention_period(kinesis: Any) -> None:
    name = _name()
    kinesis.create_stream(StreamName=name, ShardCount=1)
    kinesis.increase_stream_retention_period(StreamName=name, RetentionPeriodHours=48)
    summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert summary["RetentionPeriodHours"] == 48
    code, message = _error(kinesis.decrease_stream_retention_period, StreamName=name,
                           RetentionPeriodHours=72)  # fmt: skip
    assert code == "InvalidArgumentException"
    assert "Use IncreaseRetentionPeriod API" in message
    code, message = _error(kinesis.increase_stream_retention_period, StreamName=name,
                           RetentionPeriodHours=9000)  # fmt: skip
    assert "Maximum allowed retention period is 8760 hours" in message
    kinesis.decrease_stream_retention_period(StreamName=name, RetentionPeriodHours=24)
    code, message = _error(kinesis.decrease_stream_retention_period, StreamName=name,
                           RetentionPeriodHours=12)  # fmt: skip
    assert "Minimum allowed retention period is 24 hours" in message


def test_the_cli_puts_and_reads(server: Server, kinesis: Any) -> None:
    name = _name()
    aws_cli(server.endpoint, "kinesis", "create-stream", "--stream-name", name,
            "--shard-count", "1")  # fmt: skip
    put = json.loads(aws_cli(server.endpoint, "kinesis", "put-record", "--stream-name", name,
                             "--partition-key", "k", "--data", "hello").stdout)  # fmt: skip
    assert put["ShardId"] == "shardId-000000000000"
    it = json.loads(aws_cli(server.endpoint, "kinesis", "get-shard-iterator", "--stream-name",
                            name, "--shard-id", "shardId-000000000000",
                            "--shard-iterator-type", "TRIM_HORIZON").stdout)  # fmt: skip
    got = json.loads(aws_cli(server.endpoint, "kinesis", "get-records", "--shard-iterator",
                             it["ShardIterator"]).stdout)  # fmt: skip
    # CLI v1 sends a blob argument's text as the bytes (base64 on the wire, and back).
    assert [r["Data"] for r in got["Records"]] == ["aGVsbG8="]
    assert [r["SequenceNumber"] for r in got["Records"]] == [put["SequenceNumber"]]
    listed = json.loads(aws_cli(server.endpoint, "kinesis", "list-streams").stdout)
    assert name in listed["StreamNames"]


def test_records_survive_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with run_server(data) as srv:
        kinesis = srv.client("kinesis")
        kinesis.create_stream(StreamName="kept", ShardCount=2)
        answer = kinesis.put_records(StreamName="kept", Records=[
            {"PartitionKey": f"k{i}", "Data": f"d{i}".encode()} for i in range(20)
        ])  # fmt: skip
    with run_server(data) as srv:
        kinesis = srv.client("kinesis")
        found = {}
        for shard in ("shardId-000000000000", "shardId-000000000001"):
            for r in _read_all(kinesis, "kept", shard):
                found[r["SequenceNumber"]] = r["Data"]
        assert found == {r["SequenceNumber"]: f"d{i}".encode()
                         for i, r in enumerate(answer["Records"])}  # fmt: skip
        more = kinesis.put_record(StreamName="kept", PartitionKey="k0", Data=b"new")
        same_shard = [int(r["SequenceNumber"]) for r in answer["Records"]
                      if r["ShardId"] == more["ShardId"]]  # fmt: skip
        assert int(more["SequenceNumber"]) > max(same_shard)  # per shard, never reused


PRODUCER = """
import boto3

def handler(event, context):
    kinesis = boto3.client("kinesis")  # AWS_ENDPOINT_URL and the role's credentials: Ember's
    put = kinesis.put_record(StreamName=event["stream"], PartitionKey="k", Data=b"from a function")
    try:
        kinesis.create_stream(StreamName="not-for-functions", ShardCount=1)
        refused = None
    except Exception as exc:
        refused = type(exc).__name__
    return {"sequence": put["SequenceNumber"], "refused": refused}
"""


def test_a_function_puts_with_its_own_credentials(server: Server, kinesis: Any) -> None:
    name = _name()
    kinesis.create_stream(StreamName=name, ShardCount=1)
    lam = server.client()
    create_function(lam, "kinesis-producer", PRODUCER, runtime="python3.12", Timeout=30)
    answer = lam.invoke(FunctionName="kinesis-producer", Payload=json.dumps({"stream": name}))
    result = json.loads(answer["Payload"].read())
    assert "FunctionError" not in answer, result
    (record,) = _read_all(kinesis, name, "shardId-000000000000")
    assert (record["SequenceNumber"], record["Data"]) == (result["sequence"], b"from a function")
    assert result["refused"] is not None  # managing streams stays the operator's
    assert "not-for-functions" not in kinesis.list_streams()["StreamNames"]


def test_a_sequence_number_of_another_shard_is_refused(kinesis: Any) -> None:
    name = _name()
    kinesis.create_stream(StreamName=name, ShardCount=2)
    put = kinesis.put_record(StreamName=name, PartitionKey="k", Data=b"x",
                             ExplicitHashKey=str(2**128 - 1))  # fmt: skip
    assert put["ShardId"] == "shardId-000000000001"
    code, message = _error(kinesis.get_shard_iterator, StreamName=name,
                           ShardId="shardId-000000000000", ShardIteratorType="AT_SEQUENCE_NUMBER",
                           StartingSequenceNumber=put["SequenceNumber"])  # fmt: skip
    assert (code, message) == ("InvalidArgumentException",
                               "Invalid StartingSequenceNumber. It encodes shardId-000000000001, "
                               "while it was used in a call to shardId-000000000000")  # fmt: skip


def test_tags(kinesis: Any) -> None:
    name = _name()
    kinesis.create_stream(StreamName=name, ShardCount=1, Tags={"team": "data"})
    kinesis.add_tags_to_stream(StreamName=name, Tags={"env": "dev", "team": "web"})
    listed = kinesis.list_tags_for_stream(StreamName=name)
    assert listed["Tags"] == [{"Key": "env", "Value": "dev"}, {"Key": "team", "Value": "web"}]
    assert listed["HasMoreTags"] is False
    page = kinesis.list_tags_for_stream(StreamName=name, Limit=1)
    assert (page["Tags"], page["HasMoreTags"]) == ([{"Key": "env", "Value": "dev"}], True)
    kinesis.remove_tags_from_stream(StreamName=name, TagKeys=["env"])
    assert kinesis.list_tags_for_stream(StreamName=name)["Tags"] == [
        {"Key": "team", "Value": "web"}
    ]
    code, _ = _error(kinesis.add_tags_to_stream, StreamName=name,
                     Tags={f"k{i}": "v" for i in range(50)})  # fmt: skip
    assert code == "InvalidArgumentException"


def test_update_shard_count_closes_parents_and_routes_to_children(kinesis: Any) -> None:
    name = _name()
    kinesis.create_stream(StreamName=name, ShardCount=2)
    before = kinesis.put_record(StreamName=name, PartitionKey="k", Data=b"before")
    answer = kinesis.update_shard_count(StreamName=name, TargetShardCount=4,
                                        ScalingType="UNIFORM_SCALING")  # fmt: skip
    assert (answer["CurrentShardCount"], answer["TargetShardCount"]) == (2, 4)
    shards = kinesis.list_shards(StreamName=name)["Shards"]
    assert len(shards) == 6
    closed = {s["ShardId"]: s for s in shards[:2]}
    assert all("EndingSequenceNumber" in s["SequenceNumberRange"] for s in closed.values())
    children = shards[2:]
    assert children[0]["ParentShardId"] == "shardId-000000000000"
    assert children[3]["ParentShardId"] == "shardId-000000000001"
    assert (
        kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"][
            "OpenShardCount"
        ]
        == 4
    )
    after = kinesis.put_record(StreamName=name, PartitionKey="k", Data=b"after")
    assert after["ShardId"] in {c["ShardId"] for c in children}
    # The parent that held "before" ends with it, and names its children.
    it = kinesis.get_shard_iterator(
        StreamName=name, ShardId=before["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    out = kinesis.get_records(ShardIterator=it)
    assert [r["Data"] for r in out["Records"]] == [b"before"]
    assert "NextShardIterator" not in out
    assert {c["ShardId"] for c in out["ChildShards"]} <= {c["ShardId"] for c in children}
    assert (
        closed[before["ShardId"]]["SequenceNumberRange"]["EndingSequenceNumber"]
        == before["SequenceNumber"]
    )
    code, _ = _error(kinesis.update_shard_count, StreamName=name, TargetShardCount=9,
                     ScalingType="UNIFORM_SCALING")  # fmt: skip
    assert code == "InvalidArgumentException"
