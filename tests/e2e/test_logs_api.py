"""CloudWatch Logs' management and write operations, through boto3's logs client and the
AWS CLI: CreateLogGroup, CreateLogStream, PutLogEvents, DeleteLogStream, DeleteLogGroup,
their errors, the request size bound, and what a function's deletion takes with it."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import (
    Server,
    aws_cli,
    create_function,
    raw_request,
    run_server,
    wait_until,
)

TARGET = "Logs_20140328."
DAY = 86_400_000


def _now() -> int:
    return int(time.time() * 1000)


def _group() -> str:
    return f"/test/{uuid.uuid4().hex[:8]}"


def _raw(server: Server, operation: str, body: bytes) -> tuple[int, dict[str, Any]]:
    status, _, data = raw_request(
        server.endpoint, "POST", "/", body,
        {"X-Amz-Target": TARGET + operation, "Content-Type": "application/x-amz-json-1.1"},
    )  # fmt: skip
    return status, json.loads(data)


def test_create_put_read_delete_with_boto3(server: Server) -> None:
    logs, group = server.client("logs"), _group()
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="app")
    now = _now()
    put = logs.put_log_events(
        logGroupName=group,
        logStreamName="app",
        logEvents=[{"timestamp": now - 1, "message": "one"}, {"timestamp": now, "message": "two"}],
    )
    assert put["nextSequenceToken"]
    assert "rejectedLogEventsInfo" not in put
    events = logs.get_log_events(logGroupName=group, logStreamName="app")["events"]
    assert [(e["timestamp"], e["message"]) for e in events] == [(now - 1, "one"), (now, "two")]
    (described,) = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert described["logGroupName"] == group
    assert described["storedBytes"] > 0
    assert described["creationTime"] > 0

    logs.delete_log_stream(logGroupName=group, logStreamName="app")
    assert logs.describe_log_streams(logGroupName=group)["logStreams"] == []
    logs.delete_log_group(logGroupName=group)
    assert logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"] == []


def test_errors_as_aws_answers_them(server: Server) -> None:
    logs, group = server.client("logs"), _group()
    errors = logs.exceptions
    logs.create_log_group(logGroupName=group)
    with pytest.raises(errors.ResourceAlreadyExistsException) as exists:
        logs.create_log_group(logGroupName=group)
    assert exists.value.response["Error"]["Message"] == "The specified log group already exists"
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    with pytest.raises(errors.ResourceAlreadyExistsException) as stream_exists:
        logs.create_log_stream(logGroupName=group, logStreamName="s")
    assert "log stream already exists" in stream_exists.value.response["Error"]["Message"]

    missing = _group()
    with pytest.raises(errors.ResourceNotFoundException) as no_group:
        logs.create_log_stream(logGroupName=missing, logStreamName="s")
    assert no_group.value.response["Error"]["Message"] == "The specified log group does not exist."
    with pytest.raises(errors.ResourceNotFoundException):
        logs.delete_log_group(logGroupName=missing)
    with pytest.raises(errors.ResourceNotFoundException) as no_stream:
        logs.delete_log_stream(logGroupName=group, logStreamName="none")
    assert no_stream.value.response["Error"]["Message"] == (
        "The specified log stream does not exist."
    )
    with pytest.raises(errors.ResourceNotFoundException):
        logs.put_log_events(logGroupName=group, logStreamName="none",
                            logEvents=[{"timestamp": _now(), "message": "x"}])  # fmt: skip

    with pytest.raises(errors.InvalidParameterException) as bad_name:
        logs.create_log_group(logGroupName="bad name!")
    assert bad_name.value.response["Error"]["Message"] == (
        "1 validation error detected: Value 'bad name!' at 'logGroupName' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+"
    )
    with pytest.raises(errors.InvalidParameterException) as bad_stream:
        logs.create_log_stream(logGroupName=group, logStreamName="a:b")
    assert "at 'logStreamName'" in bad_stream.value.response["Error"]["Message"]


def test_put_log_events_rules(server: Server) -> None:
    logs, group = server.client("logs"), _group()
    errors = logs.exceptions
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    now = _now()

    def put(*events: tuple[int, str]) -> dict[str, Any]:
        batch = [{"timestamp": t, "message": m} for t, m in events]
        result: dict[str, Any] = logs.put_log_events(
            logGroupName=group, logStreamName="s", logEvents=batch
        )
        return result

    # Too old (over 14 days) and too new (over 2 hours ahead) are rejected, the rest taken.
    result = put((now - 15 * DAY, "old"), (now, "kept"), (now + 3 * 3_600_000, "new"))
    assert result["rejectedLogEventsInfo"] == {
        "tooOldLogEventEndIndex": 1,
        "tooNewLogEventStartIndex": 2,
    }
    events = logs.get_log_events(logGroupName=group, logStreamName="s")["events"]
    assert [e["message"] for e in events] == ["kept"]

    with pytest.raises(errors.InvalidParameterException) as order:
        put((now, "b"), (now - 1, "a"))
    assert "chronological order" in order.value.response["Error"]["Message"]
    with pytest.raises(errors.InvalidParameterException) as span:
        put((now - 2 * DAY, "a"), (now, "b"))
    assert "cannot span more than 24 hours" in span.value.response["Error"]["Message"]
    with pytest.raises(errors.InvalidParameterException) as large:
        put(*[(now, "x" * 100_000)] * 11)
    assert large.value.response["Error"]["Message"] == (
        "Upload too large: 1100286 bytes exceeds limit of 1048576"
    )


def test_get_log_events_reads_from_the_tail_unless_asked_for_the_head(server: Server) -> None:
    logs, group = server.client("logs"), _group()
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    now = _now()

    def put(numbers: range) -> None:
        events = [{"timestamp": now + n, "message": f"m{n}"} for n in numbers]
        logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=events)

    def read(**params: Any) -> tuple[list[str], str, str]:
        got = logs.get_log_events(logGroupName=group, logStreamName="s", limit=10, **params)
        messages = [e["message"] for e in got["events"]]
        return messages, got["nextBackwardToken"], got["nextForwardToken"]

    def names(numbers: range) -> list[str]:
        return [f"m{n}" for n in numbers]

    put(range(25))
    # As on AWS: without startFromHead, the newest page, oldest first within it...
    tail, backward, forward = read()
    assert tail == names(range(15, 25))
    # ...and going backwards, the pages before it, down to an empty page at the start,
    # which gives the same backward token again.
    before, backward, _ = read(nextToken=backward)
    assert before == names(range(5, 15))
    first, backward, _ = read(nextToken=backward)
    assert first == names(range(5))
    empty, again, _ = read(nextToken=backward)
    assert (empty, again) == ([], backward)
    # Forwards from the tail: nothing yet (the same token), then what is added later.
    assert read(nextToken=forward)[0] == []
    assert read(nextToken=forward)[2] == forward
    put(range(25, 28))
    assert read(nextToken=forward)[0] == names(range(25, 28))
    # startFromHead: from the oldest event on.
    head, _, forward = read(startFromHead=True)
    assert head == names(range(10))
    assert read(nextToken=forward, startFromHead=True)[0] == names(range(10, 20))


def test_request_body_is_bounded(server: Server) -> None:
    group = _group()
    body = json.dumps(
        {"logGroupName": group, "logStreamName": "s",
         "logEvents": [{"timestamp": _now(), "message": "y" * 3_000_000}]}
    ).encode()  # fmt: skip
    status, doc = _raw(server, "PutLogEvents", body)
    assert status == 400
    assert doc["__type"] == "InvalidParameterException"
    assert doc["message"].startswith("Upload too large: ")
    status, doc = _raw(server, "CreateLogGroup", b"{not json")
    assert (status, doc["__type"]) == (400, "SerializationException")


def test_aws_cli_manages_and_writes_logs(server: Server) -> None:
    group, endpoint = _group(), server.endpoint
    aws_cli(endpoint, "logs", "create-log-group", "--log-group-name", group)
    aws_cli(endpoint, "logs", "create-log-stream", "--log-group-name", group,
            "--log-stream-name", "cli")  # fmt: skip
    out = aws_cli(endpoint, "logs", "put-log-events", "--log-group-name", group,
                  "--log-stream-name", "cli",
                  "--log-events", f"timestamp={_now()},message=from the cli")  # fmt: skip
    assert json.loads(out.stdout)["nextSequenceToken"]
    read = aws_cli(endpoint, "logs", "get-log-events", "--log-group-name", group,
                   "--log-stream-name", "cli")  # fmt: skip
    assert [e["message"] for e in json.loads(read.stdout)["events"]] == ["from the cli"]

    again = aws_cli(endpoint, "logs", "create-log-group", "--log-group-name", group, check=False)
    assert again.returncode != 0
    assert "ResourceAlreadyExistsException" in again.stderr
    bad = aws_cli(endpoint, "logs", "create-log-group", "--log-group-name", "no spaces",
                  check=False)  # fmt: skip
    assert bad.returncode != 0
    assert "InvalidParameterException" in bad.stderr
    order = aws_cli(endpoint, "logs", "put-log-events", "--log-group-name", group,
                    "--log-stream-name", "cli", "--log-events",
                    f"timestamp={_now()},message=b", f"timestamp={_now() - 10},message=a",
                    check=False)  # fmt: skip
    assert "chronological order" in order.stderr

    aws_cli(endpoint, "logs", "delete-log-stream", "--log-group-name", group,
            "--log-stream-name", "cli")  # fmt: skip
    gone = aws_cli(endpoint, "logs", "delete-log-stream", "--log-group-name", group,
                   "--log-stream-name", "cli", check=False)  # fmt: skip
    assert "ResourceNotFoundException" in gone.stderr
    aws_cli(endpoint, "logs", "delete-log-group", "--log-group-name", group)
    missing = aws_cli(endpoint, "logs", "delete-log-group", "--log-group-name", group,
                      check=False)  # fmt: skip
    assert "ResourceNotFoundException" in missing.stderr


def test_a_deleted_function_group_comes_back_with_its_next_invoke(server: Server, lam: Any) -> None:
    logs, name = server.client("logs"), f"regroup-{uuid.uuid4().hex[:8]}"
    create_function(lam, name, "def handler(e, c):\n    print('hello')\n    return 1\n")
    lam.invoke(FunctionName=name, Payload=b"{}")
    group = f"/aws/lambda/{name}"
    logs.delete_log_group(logGroupName=group)
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.describe_log_streams(logGroupName=group)
    lam.invoke(FunctionName=name, Payload=b"{}")  # the same warm environment writes again
    (stream,) = logs.describe_log_streams(logGroupName=group)["logStreams"]
    events = logs.get_log_events(logGroupName=group, logStreamName=stream["logStreamName"])
    messages = [e["message"] for e in events["events"]]
    assert messages[0].startswith("START RequestId:")
    assert messages.count("hello\n") == 1


def test_deleting_a_function_deletes_its_logs(server: Server, lam: Any) -> None:
    logs, name = server.client("logs"), f"forget-{uuid.uuid4().hex[:8]}"
    create_function(lam, name, "def handler(e, c):\n    print('bye')\n    return 1\n")
    lam.invoke(FunctionName=name, Payload=b"{}")
    group = f"/aws/lambda/{name}"
    assert logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    lam.delete_function(FunctionName=name)
    assert logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"] == []
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.describe_log_streams(logGroupName=group)
    # Its files go too (the writer removes them in the background).
    wait_until(lambda: not any(name in str(p) for p in (server.data_dir / "logs").rglob("*")))


def test_logs_survive_a_restart(fresh_dir: Path) -> None:
    name = f"restart-{uuid.uuid4().hex[:8]}"
    with run_server(fresh_dir) as first:
        create_function(first.client(), name, "def handler(e, c):\n    print('kept')\n")
        first.client().invoke(FunctionName=name, Payload=b"{}")
    with run_server(fresh_dir) as second:  # the writer flushed everything at the stop
        logs = second.client("logs")
        group = f"/aws/lambda/{name}"
        events = logs.filter_log_events(logGroupName=group)["events"]
        messages = [e["message"] for e in events]
        assert "kept\n" in messages
        assert any(m.startswith("REPORT RequestId:") for m in messages)
        (stream,) = logs.describe_log_streams(logGroupName=group)["logStreams"]
        assert stream["storedBytes"] > 0
        assert stream["firstEventTimestamp"] <= stream["lastEventTimestamp"]
