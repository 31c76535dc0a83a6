"""Event source mappings from SQS queues, driven with boto3 (lambda + sqs) and the AWS CLI.

Functions report every batch they get to a listener on the host (tests/e2e/batch_reports.py);
what was deleted, redriven or left in a queue is read through the SQS API. One server for
the module."""

from __future__ import annotations

import csv
import hashlib
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.batch_reports import REPORTING_HANDLER, Reports, listening, variables
from tests.e2e.batch_reports import unique_name as _name
from tests.e2e.harness import Server, aws_cli, create_function, free_port, run_server, wait_until

pytestmark = pytest.mark.e2e

ACCOUNT = "000000000000"


@pytest.fixture(scope="module")
def port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, port: int) -> Iterator[Server]:
    root: Path = tmp_path_factory.mktemp("esm")
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
def sqs(server: Server) -> Any:
    return server.client("sqs")


def _queue(sqs: Any, name: str, **attributes: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return url, arn


def _function(lam: Any, port: int, mode: str = "ok", name: str | None = None) -> str:
    name = name or _name(f"esm-{mode}")
    create_function(lam, name, REPORTING_HANDLER, Environment=variables(port, mode))
    return name


def _wait_state(lam: Any, uuid: str, state: str) -> dict[str, Any]:
    def settled() -> dict[str, Any] | None:
        mapping: dict[str, Any] = lam.get_event_source_mapping(UUID=uuid)
        return mapping if mapping["State"] == state else None

    result: dict[str, Any] = wait_until(settled, limit=15)
    return result


def _counts(sqs: Any, url: str) -> tuple[int, int]:
    attrs = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return (
        int(attrs["ApproximateNumberOfMessages"]),
        int(attrs["ApproximateNumberOfMessagesNotVisible"]),
    )


def _send(sqs: Any, url: str, bodies: list[str], **extra: Any) -> None:
    for start in range(0, len(bodies), 10):
        entries = [
            {"Id": str(i), "MessageBody": body, **extra}
            for i, body in enumerate(bodies[start : start + 10])
        ]
        answer = sqs.send_message_batch(QueueUrl=url, Entries=entries)
        assert not answer.get("Failed"), answer


def _map(lam: Any, function: str, arn: str, **kwargs: Any) -> str:
    mapping = lam.create_event_source_mapping(FunctionName=function, EventSourceArn=arn, **kwargs)
    _wait_state(lam, mapping["UUID"], "Enabled" if kwargs.get("Enabled", True) else "Disabled")
    uuid: str = mapping["UUID"]
    return uuid


def _delete(lam: Any, uuid: str) -> None:
    lam.delete_event_source_mapping(UUID=uuid)
    _wait_gone(lam, uuid)


def _wait_gone(lam: Any, uuid: str) -> None:
    def gone() -> bool:
        try:
            lam.get_event_source_mapping(UUID=uuid)
        except ClientError as exc:
            code: str = exc.response["Error"]["Code"]
            return code == "ResourceNotFoundException"
        return False

    wait_until(gone, limit=15)


# -- the resource ---------------------------------------------------------------------------


def test_create_get_list_update_delete(lam: Any, sqs: Any, port: int) -> None:
    function = _function(lam, port)
    _, arn = _queue(sqs, _name("shape"))
    created = lam.create_event_source_mapping(
        FunctionName=function, EventSourceArn=arn, Tags={"team": "queues"}
    )
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert created["State"] == "Creating"
    assert created["StateTransitionReason"] == "USER_INITIATED"
    assert created["BatchSize"] == 10
    assert created["MaximumBatchingWindowInSeconds"] == 0
    assert created["FunctionResponseTypes"] == []
    assert created["FunctionArn"] == f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{function}"
    uuid = created["UUID"]
    assert created["EventSourceMappingArn"].endswith(f":event-source-mapping:{uuid}")
    assert "FilterCriteria" not in created
    assert "ScalingConfig" not in created
    got = _wait_state(lam, uuid, "Enabled")
    assert lam.list_tags(Resource=created["EventSourceMappingArn"])["Tags"] == {"team": "queues"}
    assert got["LastModified"].year >= 2024
    listed = lam.list_event_source_mappings(FunctionName=function)["EventSourceMappings"]
    assert [m["UUID"] for m in listed] == [uuid]
    by_source = lam.list_event_source_mappings(EventSourceArn=arn)["EventSourceMappings"]
    assert [m["UUID"] for m in by_source] == [uuid]
    pattern = json.dumps({"body": {"kind": ["order"]}})
    updated = lam.update_event_source_mapping(
        UUID=uuid,
        BatchSize=100,
        MaximumBatchingWindowInSeconds=2,
        FunctionResponseTypes=["ReportBatchItemFailures"],
        ScalingConfig={"MaximumConcurrency": 3},
        FilterCriteria={"Filters": [{"Pattern": pattern}]},
    )
    assert updated["State"] == "Updating"
    assert updated["BatchSize"] == 100
    assert updated["ScalingConfig"] == {"MaximumConcurrency": 3}
    assert updated["FilterCriteria"] == {"Filters": [{"Pattern": pattern}]}
    assert updated["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    _wait_state(lam, uuid, "Enabled")
    disabled = lam.update_event_source_mapping(UUID=uuid, Enabled=False)
    assert disabled["State"] == "Disabling"
    _wait_state(lam, uuid, "Disabled")
    deleted = lam.delete_event_source_mapping(UUID=uuid)
    assert deleted["State"] == "Deleting"
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 202
    _wait_gone(lam, uuid)


def test_qualified_function_and_paging(lam: Any, sqs: Any, port: int) -> None:
    function = _function(lam, port)
    version = lam.publish_version(FunctionName=function)["Version"]
    lam.create_alias(FunctionName=function, Name="live", FunctionVersion=version)
    arns = [_queue(sqs, _name("page"))[1] for _ in range(3)]
    uuids = [
        lam.create_event_source_mapping(FunctionName=f"{function}:live", EventSourceArn=arn)["UUID"]
        for arn in arns
    ]
    first = lam.get_event_source_mapping(UUID=uuids[0])
    assert first["FunctionArn"].endswith(f":function:{function}:live")
    seen: list[str] = []
    marker: dict[str, str] = {}
    while True:
        page = lam.list_event_source_mappings(FunctionName=function, MaxItems=2, **marker)
        seen += [m["UUID"] for m in page["EventSourceMappings"]]
        if "NextMarker" not in page:
            break
        marker = {"Marker": page["NextMarker"]}
    assert seen == uuids
    for uuid in uuids:
        _delete(lam, uuid)


def _error(call: Any, **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    error = caught.value.response["Error"]
    return error["Code"], error["Message"]


def test_bad_input(server: Server, lam: Any, sqs: Any, port: int) -> None:
    function = _function(lam, port)
    _, arn = _queue(sqs, _name("bad"))
    create = lam.create_event_source_mapping
    lax = server.client(parameter_validation=False).create_event_source_mapping
    assert _error(create, FunctionName=function, EventSourceArn=arn, BatchSize=11) == (
        "InvalidParameterValueException",
        "Maximum batch window in seconds must be greater than 0 if maximum batch size is "
        "greater than 10",
    )
    missing = f"arn:aws:sqs:us-east-1:{ACCOUNT}:no-such-queue"
    code, message = _error(create, FunctionName=function, EventSourceArn=missing)
    assert code == "InvalidParameterValueException"
    assert "AWS.SimpleQueueService.NonExistentQueue" in message
    assert _error(create, FunctionName="no-such-function", EventSourceArn=arn) == (
        "InvalidParameterValueException",
        "Function does not exist",
    )
    code, _ = _error(lax, FunctionName=function, EventSourceArn=arn, BatchSize=10_001)
    assert code == "ValidationException"
    code, _ = _error(
        lax, FunctionName=function, EventSourceArn=arn, ScalingConfig={"MaximumConcurrency": 1}
    )
    assert code == "ValidationException"
    bad_filter = {"Filters": [{"Pattern": "not json"}]}
    assert _error(create, FunctionName=function, EventSourceArn=arn, FilterCriteria=bad_filter) == (
        "InvalidParameterValueException",
        "Invalid filter pattern definition.",
    )
    uuid = _map(lam, function, arn)
    code, message = _error(create, FunctionName=function, EventSourceArn=arn)
    assert code == "ResourceConflictException"
    assert message == (
        f'An event source mapping with SQS arn (" {arn} ") and function (" {function} ") '
        f"already exists. Please update or delete the existing mapping with UUID {uuid}"
    )
    assert _error(lam.update_event_source_mapping, UUID=uuid, BatchSize=50) == (
        "InvalidParameterValueException",
        "Maximum batch window in seconds must be greater than 0 if maximum batch size is "
        "greater than 10",
    )
    unknown = "1b2c3d4e-0000-4000-8000-000000000000"
    for call in (lam.get_event_source_mapping, lam.delete_event_source_mapping):
        assert _error(call, UUID=unknown) == (
            "ResourceNotFoundException",
            "The resource you requested does not exist.",
        )
    assert lam.get_event_source_mapping(UUID=uuid)["BatchSize"] == 10  # nothing changed
    _delete(lam, uuid)


# -- the behaviour --------------------------------------------------------------------------


def test_success_deletes_the_batch(lam: Any, sqs: Any, port: int, reports: Reports) -> None:
    function = _function(lam, port)
    url, arn = _queue(sqs, _name("ok"))
    uuid = _map(lam, function, arn, BatchSize=10)
    bodies = [f"message-{i}" for i in range(25)]
    _send(sqs, url, bodies[:1], MessageAttributes={
        "colour": {"DataType": "String", "StringValue": "red"},
        "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
    })  # fmt: skip
    _send(sqs, url, bodies[1:])
    reports.wait_bodies(function, set(bodies))
    assert all(len(batch) <= 10 for batch in reports.batches(function))
    wait_until(lambda: _counts(sqs, url) == (0, 0), limit=15)
    record = next(r for r in reports.records(function) if r["body"] == "message-0")
    assert list(record) == [
        "messageId", "receiptHandle", "body", "attributes", "messageAttributes", "md5OfBody",
        "eventSource", "eventSourceARN", "awsRegion",
    ]  # fmt: skip
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == arn
    assert record["awsRegion"] == "us-east-1"
    assert record["md5OfBody"] == hashlib.md5(b"message-0").hexdigest()
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert {"SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"} <= set(
        record["attributes"]
    )
    assert record["messageAttributes"] == {
        "colour": {"stringValue": "red", "stringListValues": [], "binaryListValues": [],
                   "dataType": "String"},
        "blob": {"binaryValue": "AAE=", "stringListValues": [], "binaryListValues": [],
                 "dataType": "Binary"},
    }  # fmt: skip
    _delete(lam, uuid)


def test_batching_window_fills_larger_batches(
    lam: Any, sqs: Any, port: int, reports: Reports
) -> None:
    function = _function(lam, port)
    url, arn = _queue(sqs, _name("window"))
    uuid = _map(
        lam, function, arn, BatchSize=100, MaximumBatchingWindowInSeconds=1,
        ScalingConfig={"MaximumConcurrency": 2}, Enabled=False,
    )  # fmt: skip
    bodies = [f"windowed-{i}" for i in range(30)]
    _send(sqs, url, bodies)
    lam.update_event_source_mapping(UUID=uuid, Enabled=True)
    reports.wait_bodies(function, set(bodies))
    # 30 waiting messages, at most two batches at once, ten a receive: the window gathers
    # more than ten into one batch.
    assert max(len(batch) for batch in reports.batches(function)) > 10
    _delete(lam, uuid)


def test_failures_reach_the_dead_letter_queue(
    lam: Any, sqs: Any, port: int, reports: Reports
) -> None:
    function = _function(lam, port, "fail")
    dlq_url, dlq_arn = _queue(sqs, _name("dlq"))
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"})
    url, arn = _queue(sqs, _name("failing"), VisibilityTimeout="1", RedrivePolicy=redrive)
    uuid = _map(lam, function, arn, BatchSize=1)
    _send(sqs, url, ["fail-1", "fine-1"])

    def dead_letters() -> list[str]:
        got = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        return [m["Body"] for m in got.get("Messages", [])]

    assert wait_until(dead_letters, limit=30) == ["fail-1"]
    assert reports.bodies(function).count("fail-1") == 2  # maxReceiveCount deliveries
    assert reports.bodies(function).count("fine-1") == 1
    _delete(lam, uuid)


def test_partial_batch_failures(lam: Any, sqs: Any, port: int, reports: Reports) -> None:
    function = _function(lam, port, "partial")
    url, arn = _queue(sqs, _name("partial"), VisibilityTimeout="1")
    _send(sqs, url, ["good-1", "bad-1", "good-2", "good-3"])
    uuid = _map(lam, function, arn, BatchSize=10, FunctionResponseTypes=["ReportBatchItemFailures"])
    wait_until(lambda: reports.bodies(function).count("bad-1") >= 3, limit=30)
    bodies = reports.bodies(function)
    assert [bodies.count(f"good-{i}") for i in (1, 2, 3)] == [1, 1, 1]
    _delete(lam, uuid)
    assert _counts(sqs, url)[0] + _counts(sqs, url)[1] == 1  # only bad-1 is left


def test_filter_criteria(lam: Any, sqs: Any, port: int, reports: Reports) -> None:
    function = _function(lam, port)
    url, arn = _queue(sqs, _name("filter"))
    pattern = {"body": {"kind": ["order"], "total": [{"numeric": [">", 100]}]}}
    uuid = _map(lam, function, arn, FilterCriteria={"Filters": [{"Pattern": json.dumps(pattern)}]})
    matching = json.dumps({"kind": "order", "total": 150})
    _send(sqs, url, [json.dumps({"kind": "order", "total": 5}), "plain text", matching])
    reports.wait_bodies(function, {matching})
    wait_until(lambda: _counts(sqs, url) == (0, 0), limit=15)  # the others were deleted
    assert reports.bodies(function) == [matching]
    _delete(lam, uuid)


def test_fifo_keeps_order_within_a_group(lam: Any, sqs: Any, port: int, reports: Reports) -> None:
    function = _function(lam, port)
    url, arn = _queue(sqs, _name("order") + ".fifo", FifoQueue="true")
    sent = {group: [f"{group}-{i:02d}" for i in range(20)] for group in ("a", "b", "c")}
    for i in range(20):
        for group, bodies in sent.items():
            sqs.send_message(
                QueueUrl=url, MessageBody=bodies[i], MessageGroupId=group,
                MessageDeduplicationId=bodies[i],
            )  # fmt: skip
    uuid = _map(lam, function, arn, BatchSize=5)
    reports.wait_bodies(function, {b for bodies in sent.values() for b in bodies})
    for group, bodies in sent.items():
        seen = [r["body"] for r in reports.records(function) if r["body"].startswith(group)]
        assert seen == bodies
        assert all(
            r["attributes"]["MessageGroupId"] == group
            for r in reports.records(function)
            if r["body"].startswith(group)
        )
    _delete(lam, uuid)


def test_throttles_lose_nothing(
    server: Server, lam: Any, sqs: Any, port: int, reports: Reports
) -> None:
    function = _function(lam, port)
    lam.put_function_concurrency(FunctionName=function, ReservedConcurrentExecutions=1)
    url, arn = _queue(sqs, _name("throttled"))
    uuid = _map(lam, function, arn, BatchSize=1)
    # A direct invoke holds the function's one environment: the mapping's invokes are
    # throttled meanwhile, back off, and get through once it is free.
    holder = threading.Thread(
        target=lambda: server.client().invoke(FunctionName=function, Payload=b'{"sleep": 2}')
    )
    holder.start()
    time.sleep(0.5)
    bodies = [f"throttled-{i}" for i in range(5)]
    _send(sqs, url, bodies)
    holder.join()
    reports.wait_bodies(function, set(bodies))
    wait_until(lambda: _counts(sqs, url) == (0, 0), limit=15)
    assert sorted(reports.bodies(function)) == sorted(bodies)  # each once: none lost
    lam.put_function_concurrency(FunctionName=function, ReservedConcurrentExecutions=0)
    _send(sqs, url, ["while-reserved-zero"])
    time.sleep(1.5)  # reserved concurrency 0: the mapping invokes nothing
    assert "while-reserved-zero" not in reports.bodies(function)
    lam.delete_function_concurrency(FunctionName=function)
    reports.wait_bodies(function, {"while-reserved-zero"})
    _delete(lam, uuid)


# Reports each body, then sends the next number to its own queue with the trace header it
# was invoked with (as botocore does in Lambda once the queue keeps X-Amzn-Trace-Id).
LOOPER = (
    REPORTING_HANDLER
    + """
import boto3

_SQS = boto3.client("sqs")
_plain = handler


def looping(event, context):
    _plain(event, context)
    for record in event["Records"]:
        trace = {"DataType": "String", "StringValue": os.environ["_X_AMZN_TRACE_ID"]}
        _SQS.send_message(
            QueueUrl=os.environ["QUEUE_URL"], MessageBody=str(int(record["body"]) + 1),
            MessageSystemAttributes={"AWSTraceHeader": trace},
        )
"""
)


def test_a_recursive_loop_is_stopped(lam: Any, sqs: Any, port: int, reports: Reports) -> None:
    url, arn = _queue(sqs, _name("loop"))
    function = _name("esm-loop")
    environment = variables(port)
    environment["Variables"]["QUEUE_URL"] = url
    create_function(
        lam, function, LOOPER, handler="app.looping", Environment=environment, Timeout=30
    )
    uuid = _map(lam, function, arn, BatchSize=1)
    _send(sqs, url, ["0"])
    # Lambda stops the chain at its 16th hop: the invocations saw 0..15, the 16th message
    # was deleted unseen.
    reports.wait_bodies(function, {str(i) for i in range(16)})
    wait_until(lambda: _counts(sqs, url) == (0, 0), limit=15)
    assert reports.bodies(function) == [str(i) for i in range(16)]
    _delete(lam, uuid)


def test_disable_enable_and_delete_stop_polling(
    lam: Any, sqs: Any, port: int, reports: Reports
) -> None:
    function = _function(lam, port)
    url, arn = _queue(sqs, _name("toggle"))
    uuid = _map(lam, function, arn, Enabled=False)
    _send(sqs, url, ["while-disabled"])
    time.sleep(1.5)  # a disabled mapping takes nothing: the message stays visible
    assert _counts(sqs, url) == (1, 0)
    assert reports.bodies(function) == []
    lam.update_event_source_mapping(UUID=uuid, Enabled=True)
    _wait_state(lam, uuid, "Enabled")
    reports.wait_bodies(function, {"while-disabled"})
    _delete(lam, uuid)
    _send(sqs, url, ["after-delete"])
    time.sleep(1.5)
    assert _counts(sqs, url) == (1, 0)
    assert "after-delete" not in reports.bodies(function)


def test_aws_cli(server: Server, lam: Any, sqs: Any, port: int) -> None:
    function = _function(lam, port)
    _, arn = _queue(sqs, _name("cli"))
    created = json.loads(
        aws_cli(
            server.endpoint, "lambda", "create-event-source-mapping", "--function-name", function,
            "--event-source-arn", arn, "--batch-size", "5",
        ).stdout
    )  # fmt: skip
    assert created["BatchSize"] == 5
    listed = json.loads(
        aws_cli(
            server.endpoint, "lambda", "list-event-source-mappings", "--function-name", function
        ).stdout
    )
    assert [m["UUID"] for m in listed["EventSourceMappings"]] == [created["UUID"]]
    _delete(lam, created["UUID"])


# -- AWS's recorded answers (tests/conformance/lambda-aws-expectations.tsv) -----------------

RECORDED = "TestLambdaEventSourceMappings::"
STREAM = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/recorded/stream/2024-01-01T00:00:00.000"
KINESIS = f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/recorded"
SOME_QUEUE = f"arn:aws:sqs:us-east-1:{ACCOUNT}:somequeue"
UNKNOWN_UUID = "6b4b0a2c-1f1e-4a0e-9a6e-2d7c8c2f9e11"
# row key -> the call the recording made (on a client without botocore's checks)
REPLAYS: dict[str, Any] = {
    "test_event_source_mapping_exceptions/get_unknown_uuid": lambda c: c.get_event_source_mapping(
        UUID=UNKNOWN_UUID
    ),
    "test_event_source_mapping_exceptions/delete_unknown_uuid": lambda c: (
        c.delete_event_source_mapping(UUID=UNKNOWN_UUID)
    ),
    "test_event_source_mapping_exceptions/update_unknown_uuid": lambda c: (
        c.update_event_source_mapping(UUID=UNKNOWN_UUID, Enabled=False)
    ),
    "test_event_source_mapping_exceptions/create_no_event_source_arn": lambda c: (
        c.create_event_source_mapping(FunctionName="doesnotexist")
    ),
    "test_event_source_mapping_exceptions/create_unknown_params": lambda c: (
        c.create_event_source_mapping(FunctionName="doesnotexist", EventSourceArn=SOME_QUEUE)
    ),
    "test_event_source_mapping_exceptions/destination_config_failure": lambda c: (
        c.create_event_source_mapping(
            FunctionName="doesnotexist",
            EventSourceArn=SOME_QUEUE,
            DestinationConfig={"OnSuccess": {"Destination": SOME_QUEUE}},
        )
    ),
    "test_create_event_source_validation/no_starting_position": lambda c: (
        c.create_event_source_mapping(FunctionName="doesnotexist", EventSourceArn=STREAM)
    ),
    "test_create_event_source_validation/invalid_starting_position": lambda c: (
        c.create_event_source_mapping(
            FunctionName="doesnotexist", EventSourceArn=STREAM, StartingPosition="invalid"
        )
    ),
    "test_create_event_source_validation/incompatible_starting_position": lambda c: (
        c.create_event_source_mapping(
            FunctionName="doesnotexist", EventSourceArn=STREAM, StartingPosition="AT_TIMESTAMP"
        )
    ),
    "test_create_event_source_validation_kinesis/no_starting_position": lambda c: (
        c.create_event_source_mapping(FunctionName="doesnotexist", EventSourceArn=KINESIS)
    ),
    "test_create_event_source_validation_kinesis/invalid_starting_position": lambda c: (
        c.create_event_source_mapping(
            FunctionName="doesnotexist", EventSourceArn=KINESIS, StartingPosition="invalid"
        )
    ),
}
# Rows not replayed, on purpose (test_conformance.py lists them as such too).
NOT_REPLAYED = {
    "test_create_event_source_self_managed/": "self-managed Kafka sources are not served",
}


def _recorded_rows() -> dict[str, dict[str, str]]:
    table = Path(__file__).resolve().parents[1] / "conformance" / "lambda-aws-expectations.tsv"
    with table.open(newline="") as f:
        return {
            f"{r['test'].removeprefix(RECORDED)}/{r['snapshot_key']}": r
            for r in csv.DictReader(f, delimiter="\t")
            if r["test"].startswith(RECORDED)
        }


def test_every_recorded_row_is_replayed() -> None:
    for key in _recorded_rows():
        assert key in REPLAYS or any(key.startswith(p) for p in NOT_REPLAYED), key


@pytest.mark.parametrize("key", sorted(REPLAYS))
def test_recorded_error(server: Server, key: str) -> None:
    row = _recorded_rows()[key]
    lax = server.client(parameter_validation=False)
    with pytest.raises(ClientError) as caught:
        REPLAYS[key](lax)
    response = caught.value.response
    message = (
        row["message_or_payload"].replace("<partition>", "aws").replace("<region>", "us-east-1")
    )
    message = message.replace("111111111111", ACCOUNT).replace("<table-name>", "recorded")
    message = message.replace("<stream-name>", "2024-01-01T00:00:00.000")
    assert response["Error"]["Code"] == row["error_code_or_INVOKE"]
    assert response["ResponseMetadata"]["HTTPStatusCode"] == int(row["http_status"])
    assert response["Error"]["Message"] == message
    for field, value in (json.loads(row["extra"]) if row["extra"] else {}).items():
        assert response.get(field) == value, field
