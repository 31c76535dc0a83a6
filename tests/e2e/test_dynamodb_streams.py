"""DynamoDB Streams against a real `ember serve`: one record per change with the images its
view type keeps, read through boto3's `dynamodbstreams` (ListStreams, DescribeStream,
GetShardIterator, GetRecords); streams turned off and on; and table-stream event source
mappings delivering Lambda's `aws:dynamodb` records in order per key, observed by a host
listener the function reports to."""

from __future__ import annotations

import json
import signal
import socketserver
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.harness import (
    Server,
    aws_cli,
    create_function,
    free_port,
    function_host,
    run_server,
    wait_until,
)

pytestmark = pytest.mark.e2e

KEYS = {
    "KeySchema": [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ],
    "AttributeDefinitions": [
        {"AttributeName": "pk", "AttributeType": "S"},
        {"AttributeName": "sk", "AttributeType": "N"},
    ],
}


class _Listener(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True

    def __init__(self, port: int) -> None:
        self.lines: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", port), _Handler)


class _Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        for raw in self.rfile:
            server = self.server
            assert isinstance(server, _Listener)
            with server.lock:
                server.lines.append(json.loads(raw))


@pytest.fixture(scope="module")
def listener() -> Iterator[_Listener]:
    port = free_port()
    server = _Listener(port)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, listener: _Listener) -> Iterator[Server]:
    port = str(listener.server_address[1])
    with run_server(tmp_path_factory.mktemp("ddbstreams") / "data", "--host-access", port) as srv:
        yield srv


@pytest.fixture(scope="module")
def ddb(server: Server) -> Any:
    return server.client("dynamodb")


@pytest.fixture(scope="module")
def streams(server: Server) -> Any:
    return server.client("dynamodbstreams")


def make_table(ddb: Any, name: str, view: str | None) -> str | None:
    extra: dict[str, Any] = {}
    if view is not None:
        extra["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": view}
    table = ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST", **KEYS, **extra)
    ddb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1})
    return table["TableDescription"].get("LatestStreamArn")  # type: ignore[no-any-return]


def read_all(streams: Any, arn: str, kind: str = "TRIM_HORIZON") -> list[dict[str, Any]]:
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType=kind)[
        "ShardIterator"
    ]
    records: list[dict[str, Any]] = []
    while iterator:
        page = streams.get_records(ShardIterator=iterator, Limit=100)
        records += page["Records"]
        if not page["Records"]:
            break
        iterator = page.get("NextShardIterator")
    return records


def change_one_item(ddb: Any, table: str) -> None:
    key = {"pk": {"S": "k"}, "sk": {"N": "1"}}
    ddb.put_item(TableName=table, Item={**key, "v": {"N": "1"}})
    ddb.update_item(
        TableName=table,
        Key=key,
        UpdateExpression="SET v = :two",
        ExpressionAttributeValues={":two": {"N": "2"}},
    )
    with pytest.raises(ClientError):  # refused: no record
        ddb.put_item(TableName=table, Item=key, ConditionExpression="attribute_not_exists(pk)")
    ddb.delete_item(TableName=table, Key=key)


@pytest.mark.parametrize(
    ("view", "new", "old"),
    [
        ("KEYS_ONLY", False, False),
        ("NEW_IMAGE", True, False),
        ("OLD_IMAGE", False, True),
        ("NEW_AND_OLD_IMAGES", True, True),
    ],
)
def test_records_carry_the_view_types_images(
    ddb: Any, streams: Any, view: str, new: bool, old: bool
) -> None:
    table = f"view-{view.lower().replace('_', '-')}"
    arn = make_table(ddb, table, view)
    assert arn is not None
    change_one_item(ddb, table)
    records = read_all(streams, arn)
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    for record in records:
        assert record["eventVersion"] == "1.1"
        assert record["eventSource"] == "aws:dynamodb"
        assert record["awsRegion"] == "us-east-1"
        body = record["dynamodb"]
        assert body["Keys"] == {"pk": {"S": "k"}, "sk": {"N": "1"}}
        assert body["StreamViewType"] == view
        assert body["SizeBytes"] > 0
    insert, modify, remove = (r["dynamodb"] for r in records)
    assert ("NewImage" in insert) is new
    assert ("OldImage" in insert) is False
    assert ("NewImage" in modify, "OldImage" in modify) == (new, old)
    assert ("NewImage" in remove, "OldImage" in remove) == (False, old)
    if new:
        assert modify["NewImage"]["v"] == {"N": "2"}
    if old:
        assert modify["OldImage"]["v"] == {"N": "1"}
    sequences = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
    assert sequences == sorted(sequences)


def test_streams_listed_described_and_iterated(ddb: Any, streams: Any) -> None:
    arn = make_table(ddb, "described", "NEW_IMAGE")
    assert arn is not None
    table = ddb.describe_table(TableName="described")["Table"]
    assert table["LatestStreamArn"] == arn
    assert arn.startswith("arn:aws:dynamodb:us-east-1:000000000000:table/described/stream/")
    assert arn.endswith(table["LatestStreamLabel"])
    assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    listed = streams.list_streams(TableName="described")["Streams"]
    assert listed == [
        {"StreamArn": arn, "TableName": "described", "StreamLabel": table["LatestStreamLabel"]}
    ]
    description = streams.describe_stream(StreamArn=arn)["StreamDescription"]
    assert description["StreamStatus"] == "ENABLED"
    assert description["KeySchema"] == KEYS["KeySchema"]
    assert len(description["Shards"]) == 1
    for i in range(5):
        ddb.put_item(TableName="described", Item={"pk": {"S": "x"}, "sk": {"N": str(i)}})
    records = read_all(streams, arn)
    sequences = [r["dynamodb"]["SequenceNumber"] for r in records]
    shard = description["Shards"][0]["ShardId"]

    def first(kind: str, **extra: Any) -> list[dict[str, Any]]:
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard, ShardIteratorType=kind, **extra
        )["ShardIterator"]
        return streams.get_records(ShardIterator=iterator)["Records"]  # type: ignore[no-any-return]

    at = first("AT_SEQUENCE_NUMBER", SequenceNumber=sequences[2])
    assert [r["dynamodb"]["SequenceNumber"] for r in at] == sequences[2:]
    after = first("AFTER_SEQUENCE_NUMBER", SequenceNumber=sequences[2])
    assert [r["dynamodb"]["SequenceNumber"] for r in after] == sequences[3:]
    assert first("LATEST") == []
    latest = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="LATEST")[
        "ShardIterator"
    ]
    ddb.put_item(TableName="described", Item={"pk": {"S": "x"}, "sk": {"N": "99"}})
    assert [
        r["dynamodb"]["Keys"]["sk"] for r in streams.get_records(ShardIterator=latest)["Records"]
    ] == [{"N": "99"}]


def test_stream_errors(ddb: Any, streams: Any) -> None:
    arn = make_table(ddb, "stream-errors", "KEYS_ONLY")
    assert arn is not None
    with pytest.raises(ClientError) as missing:
        streams.describe_stream(StreamArn=arn + "x")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as bad:
        streams.get_records(ShardIterator="not-an-iterator-at-all")
    assert bad.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as view:
        ddb.create_table(
            TableName="bad-view",
            BillingMode="PAY_PER_REQUEST",
            **KEYS,
            StreamSpecification={"StreamEnabled": True},
        )
    assert view.value.response["Error"]["Code"] == "ValidationException"


def test_turning_the_stream_off_and_on(ddb: Any, streams: Any) -> None:
    first = make_table(ddb, "toggled", "NEW_IMAGE")
    assert first is not None
    ddb.put_item(TableName="toggled", Item={"pk": {"S": "a"}, "sk": {"N": "1"}})
    ddb.update_table(TableName="toggled", StreamSpecification={"StreamEnabled": False})
    ddb.put_item(TableName="toggled", Item={"pk": {"S": "a"}, "sk": {"N": "2"}})  # no stream
    old = streams.describe_stream(StreamArn=first)["StreamDescription"]
    assert old["StreamStatus"] == "DISABLED"
    assert "EndingSequenceNumber" in old["Shards"][0]["SequenceNumberRange"]
    assert len(read_all(streams, first)) == 1
    ddb.update_table(
        TableName="toggled",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"},
    )
    second = ddb.describe_table(TableName="toggled")["Table"]["LatestStreamArn"]
    assert second != first
    ddb.put_item(TableName="toggled", Item={"pk": {"S": "a"}, "sk": {"N": "3"}})
    assert [r["dynamodb"]["Keys"]["sk"] for r in read_all(streams, second)] == [{"N": "3"}]
    arns = {s["StreamArn"] for s in streams.list_streams(TableName="toggled")["Streams"]}
    assert arns == {first, second}


def test_aws_cli_reads_streams(server: Server, ddb: Any) -> None:
    arn = make_table(ddb, "cli-stream", "NEW_IMAGE")
    assert arn is not None
    out = aws_cli(server.endpoint, "dynamodbstreams", "describe-stream", "--stream-arn", arn)
    assert json.loads(out.stdout)["StreamDescription"]["StreamViewType"] == "NEW_IMAGE"


# -- event source mappings ----------------------------------------------------------------

REPORTER = """
import json, os, socket, time

def handler(event, context):
    time.sleep(float(os.environ.get("PAUSE", "0")))  # a slow consumer: the kill comes mid-way
    lines = []
    for record in event["Records"]:
        lines.append(json.dumps({"tag": os.environ["TAG"], "record": record}))
    with socket.create_connection((os.environ["HOST"], int(os.environ["PORT"])), timeout=10) as s:
        s.sendall(("\\n".join(lines) + "\\n").encode())
    fail = os.environ.get("FAIL_KEY")
    if fail and any(r["dynamodb"]["Keys"]["pk"]["S"] == fail for r in event["Records"]):
        raise RuntimeError("failing on purpose")
    return {}
"""


def deploy(server: Server, listener: _Listener, name: str, tag: str, **env: str) -> None:
    create_function(
        server.client("lambda"),
        name,
        {"index.py": REPORTER},
        handler="index.handler",
        Environment={
            "Variables": {
                "TAG": tag,
                "HOST": function_host(),
                "PORT": str(listener.server_address[1]),
                **env,
            }
        },
    )


def reported(listener: _Listener, tag: str) -> list[dict[str, Any]]:
    with listener.lock:
        return [line["record"] for line in listener.lines if line["tag"] == tag]


def test_mapping_delivers_records_in_order_per_key(
    server: Server, ddb: Any, listener: _Listener
) -> None:
    arn = make_table(ddb, "mapped", "NEW_AND_OLD_IMAGES")
    assert arn is not None
    deploy(server, listener, "ddb-reporter", "ordered")
    lam = server.client("lambda")
    mapping = lam.create_event_source_mapping(
        FunctionName="ddb-reporter",
        EventSourceArn=arn,
        StartingPosition="TRIM_HORIZON",
        BatchSize=10,
    )
    assert mapping["BatchSize"] == 10
    assert mapping["StartingPosition"] == "TRIM_HORIZON"
    for round_ in range(5):
        for key in ("a", "b", "c"):
            ddb.put_item(
                TableName="mapped",
                Item={"pk": {"S": key}, "sk": {"N": "0"}, "n": {"N": str(round_)}},
            )
    records = wait_until(
        lambda: (r := reported(listener, "ordered")) and len(r) >= 15 and r, limit=60
    )
    assert len(records) == 15
    for record in records:
        assert set(record) == {
            "eventID",
            "eventName",
            "eventVersion",
            "eventSource",
            "awsRegion",
            "dynamodb",
            "eventSourceARN",
        }
        assert record["eventSourceARN"] == arn
        assert record["eventSource"] == "aws:dynamodb"
        assert isinstance(record["dynamodb"]["ApproximateCreationDateTime"], int)
    for key in ("a", "b", "c"):
        seen = [r for r in records if r["dynamodb"]["Keys"]["pk"]["S"] == key]
        assert [r["dynamodb"]["NewImage"]["n"]["N"] for r in seen] == ["0", "1", "2", "3", "4"]
        assert [r["eventName"] for r in seen] == ["INSERT"] + ["MODIFY"] * 4
    lam.delete_event_source_mapping(UUID=mapping["UUID"])


def test_mapping_checks(server: Server, ddb: Any, listener: _Listener) -> None:
    arn = make_table(ddb, "mapping-checks", "KEYS_ONLY")
    assert arn is not None
    deploy(server, listener, "ddb-checks", "checks")
    lam = server.client("lambda")
    with pytest.raises(ClientError) as position:
        lam.create_event_source_mapping(
            FunctionName="ddb-checks",
            EventSourceArn=arn,
            StartingPosition="AT_TIMESTAMP",
            StartingPositionTimestamp=1,
        )
    assert position.value.response["Error"]["Code"] == "InvalidParameterValueException"
    with pytest.raises(ClientError) as missing:
        lam.create_event_source_mapping(
            FunctionName="ddb-checks", EventSourceArn=arn + "0", StartingPosition="LATEST"
        )
    assert missing.value.response["Error"]["Code"] == "InvalidParameterValueException"
    made = lam.create_event_source_mapping(
        FunctionName="ddb-checks", EventSourceArn=arn, StartingPosition="LATEST"
    )
    assert made["BatchSize"] == 100
    lam.delete_event_source_mapping(UUID=made["UUID"])


WRITER = """
import boto3

def handler(event, context):
    boto3.client("dynamodb").put_item(
        TableName=event["table"], Item={"pk": {"S": event["pk"]}, "sk": {"N": "1"}}
    )
    return {"ok": True}
"""


def test_a_function_writes_to_a_table_with_its_own_credentials(server: Server, ddb: Any) -> None:
    make_table(ddb, "written-by-function", None)
    create_function(
        server.client("lambda"),
        "ddb-writer",
        {"index.py": WRITER},
        handler="index.handler",
        Timeout=30,
    )
    answer = server.client("lambda").invoke(
        FunctionName="ddb-writer", Payload=json.dumps({"table": "written-by-function", "pk": "f"})
    )
    assert "FunctionError" not in answer, answer["Payload"].read()
    item = ddb.get_item(TableName="written-by-function", Key={"pk": {"S": "f"}, "sk": {"N": "1"}})
    assert item["Item"]["pk"] == {"S": "f"}


def test_a_failing_record_is_bisected_out_and_sent_on(
    server: Server, ddb: Any, listener: _Listener
) -> None:
    """One batch [a0, bad, a1] with BisectBatchOnFunctionError and no retries: the batch
    is split until the bad record stands alone, which goes to the OnFailure queue as
    Lambda's DynamoDB failure record; the shard then moves on, a1 after it."""
    arn = make_table(ddb, "failing", "NEW_IMAGE")
    assert arn is not None
    for pk, n in (("a", "0"), ("bad", "0"), ("a", "1")):
        ddb.put_item(TableName="failing", Item={"pk": {"S": pk}, "sk": {"N": "0"}, "n": {"N": n}})
    sqs = server.client("sqs")
    url = sqs.create_queue(QueueName="ddb-failures")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    deploy(server, listener, "ddb-failing", "failing", FAIL_KEY="bad")
    lam = server.client("lambda")
    mapping = lam.create_event_source_mapping(
        FunctionName="ddb-failing",
        EventSourceArn=arn,
        StartingPosition="TRIM_HORIZON",
        BatchSize=10,
        BisectBatchOnFunctionError=True,
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": queue_arn}},
    )
    assert mapping["BisectBatchOnFunctionError"] is True
    messages = wait_until(
        lambda: sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages"), limit=60
    )
    failure = json.loads(messages[0]["Body"])
    info = failure["DDBStreamBatchInfo"]
    records = read_all(server.client("dynamodbstreams"), arn)
    bad_sequence = records[1]["dynamodb"]["SequenceNumber"]
    assert info["batchSize"] == 1
    assert info["startSequenceNumber"] == info["endSequenceNumber"] == bad_sequence
    assert info["streamArn"] == arn
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert failure["responseContext"]["functionError"] == "Unhandled"

    def keys() -> list[str]:
        return [
            f"{r['dynamodb']['Keys']['pk']['S']}{r['dynamodb']['NewImage']['n']['N']}"
            for r in reported(listener, "failing")
        ]

    wait_until(lambda: keys()[-1:] == ["a1"], limit=30)
    # The batch, then its halves [a0] and [bad0, a1], then [bad0] alone (given up on: no
    # retries), then [a1]: the shard waits for each, so the order holds.
    assert keys() == ["a0", "bad0", "a1", "a0", "bad0", "a1", "bad0", "a1"]
    lam.delete_event_source_mapping(UUID=mapping["UUID"])


def test_sigkill_mid_stream_loses_nothing_and_keeps_order_per_key(
    tmp_path: Path, listener: _Listener
) -> None:
    """600 changes to 6 items feed a mapping; the server is killed part-way and restarted
    on the same data dir: every change reaches the function at least once, and each item's
    changes first arrive in the order they were made."""
    port = str(listener.server_address[1])
    data = tmp_path / "data"
    total = 600
    with run_server(data, "--host-access", port) as srv:
        ddb = srv.client("dynamodb")
        arn = make_table(ddb, "crashing", "NEW_IMAGE")
        for i in range(total):
            ddb.put_item(
                TableName="crashing",
                Item={"pk": {"S": f"k{i % 6}"}, "sk": {"N": "0"}, "n": {"N": str(i // 6)}},
            )
        deploy(srv, listener, "ddb-crash", "crash", PAUSE="0.1")
        srv.client("lambda").create_event_source_mapping(
            FunctionName="ddb-crash",
            EventSourceArn=arn,
            StartingPosition="TRIM_HORIZON",
            BatchSize=20,
        )
        wait_until(lambda: len(reported(listener, "crash")) >= 100, limit=30)
        srv.process.send_signal(signal.SIGKILL)
        srv.process.wait()
    before = len(reported(listener, "crash"))
    with run_server(data, "--host-access", port):

        def distinct() -> set[str]:
            return {r["dynamodb"]["SequenceNumber"] for r in reported(listener, "crash")}

        wait_until(lambda: len(distinct()) >= total, limit=60)
    records = reported(listener, "crash")
    assert len(distinct()) == total
    for key in (f"k{k}" for k in range(6)):
        first_seen: list[int] = []
        for record in records:
            n = int(record["dynamodb"]["NewImage"]["n"]["N"])
            if record["dynamodb"]["Keys"]["pk"]["S"] == key and n not in first_seen:
                first_seen.append(n)
        assert first_seen == list(range(total // 6))
    assert before < total  # the kill came mid-way


def test_filter_criteria_match_the_dynamodb_record(
    server: Server, ddb: Any, listener: _Listener
) -> None:
    arn = make_table(ddb, "filtered", "NEW_AND_OLD_IMAGES")
    assert arn is not None
    deploy(server, listener, "ddb-filtered", "filtered")
    lam = server.client("lambda")
    mapping = lam.create_event_source_mapping(
        FunctionName="ddb-filtered",
        EventSourceArn=arn,
        StartingPosition="TRIM_HORIZON",
        FilterCriteria={
            "Filters": [
                {"Pattern": json.dumps({"eventName": ["REMOVE"]})},
                {"Pattern": json.dumps({"dynamodb": {"NewImage": {"kind": {"S": ["vip"]}}}})},
            ]
        },
    )
    for pk, kind in (("a", "plain"), ("b", "vip"), ("c", "plain")):
        ddb.put_item(
            TableName="filtered", Item={"pk": {"S": pk}, "sk": {"N": "0"}, "kind": {"S": kind}}
        )
    ddb.delete_item(TableName="filtered", Key={"pk": {"S": "a"}, "sk": {"N": "0"}})
    wait_until(lambda: len(reported(listener, "filtered")) >= 2, limit=60)
    seen = [
        (r["eventName"], r["dynamodb"]["Keys"]["pk"]["S"]) for r in reported(listener, "filtered")
    ]
    assert seen == [("INSERT", "b"), ("REMOVE", "a")]
    lam.delete_event_source_mapping(UUID=mapping["UUID"])


def _recorded(test: str) -> dict[str, Any]:
    shapes = (
        Path(__file__).resolve().parents[1] / "conformance" / "lambda-aws-response-shapes.jsonl"
    )
    for line in shapes.read_text().splitlines():
        row = json.loads(line)
        if row["test"] == test and row["operation"] == "CreateEventSourceMapping":
            return row  # type: ignore[no-any-return]
    raise AssertionError(f"no recording for {test}")


def _keys(doc: dict[str, Any], prefix: str = "") -> set[str]:
    out = set()
    for name, value in doc.items():
        out.add(prefix + name)
        if isinstance(value, dict):
            out |= _keys(value, f"{prefix}{name}.")
    return out


@pytest.mark.parametrize(
    ("test", "destination"),
    [
        ("TestDynamoDBEventSourceMapping::test_dynamodb_event_source_mapping", False),
        (
            "TestDynamoDBEventSourceMapping::"
            "test_dynamodb_event_source_mapping_with_on_failure_destination_config",
            True,
        ),
    ],
)
def test_mapping_answers_match_aws_recordings(
    server: Server, ddb: Any, listener: _Listener, test: str, destination: bool
) -> None:
    recorded = _recorded(test)
    name = f"shape-{int(destination)}"
    arn = make_table(ddb, name, "NEW_IMAGE")
    deploy(server, listener, f"ddb-{name}", name)
    extra: dict[str, Any] = {}
    if destination:
        sqs = server.client("sqs")
        url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
        queue = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        extra["DestinationConfig"] = {"OnFailure": {"Destination": queue["Attributes"]["QueueArn"]}}
    created = server.client("lambda").create_event_source_mapping(
        FunctionName=f"ddb-{name}",
        EventSourceArn=arn,
        StartingPosition="TRIM_HORIZON",
        BatchSize=1,
        MaximumBatchingWindowInSeconds=1,
        MaximumRetryAttempts=1,
        **extra,
    )
    created.pop("ResponseMetadata")
    assert created["LastModified"]
    assert _keys(created) == set(recorded["keys"])
    body = recorded["body"]
    for member in (
        "BatchSize",
        "BisectBatchOnFunctionError",
        "FunctionResponseTypes",
        "LastProcessingResult",
        "MaximumBatchingWindowInSeconds",
        "MaximumRecordAgeInSeconds",
        "MaximumRetryAttempts",
        "ParallelizationFactor",
        "StartingPosition",
        "State",
        "StateTransitionReason",
        "TumblingWindowInSeconds",
    ):
        assert created[member] == body[member], member
    server.client("lambda").delete_event_source_mapping(UUID=created["UUID"])


def test_time_to_live_removes_expired_items(ddb: Any, streams: Any) -> None:
    arn = make_table(ddb, "expiring", "OLD_IMAGE")
    assert arn is not None
    answer = ddb.update_time_to_live(
        TableName="expiring", TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"}
    )
    assert answer["TimeToLiveSpecification"] == {"Enabled": True, "AttributeName": "ttl"}
    described = ddb.describe_time_to_live(TableName="expiring")["TimeToLiveDescription"]
    assert described == {"TimeToLiveStatus": "ENABLED", "AttributeName": "ttl"}
    past = str(int(time.time()) - 60)
    ddb.put_item(
        TableName="expiring", Item={"pk": {"S": "gone"}, "sk": {"N": "0"}, "ttl": {"N": past}}
    )
    ddb.put_item(TableName="expiring", Item={"pk": {"S": "kept"}, "sk": {"N": "0"}})
    wait_until(
        lambda: (
            "Item"
            not in ddb.get_item(TableName="expiring", Key={"pk": {"S": "gone"}, "sk": {"N": "0"}})
        ),
        limit=30,
    )
    records = read_all(streams, arn)
    removed = [r for r in records if r["eventName"] == "REMOVE"]
    assert len(removed) == 1
    assert removed[0]["userIdentity"] == {
        "Type": "Service",
        "PrincipalId": "dynamodb.amazonaws.com",
    }
    assert removed[0]["dynamodb"]["OldImage"]["ttl"] == {"N": past}
