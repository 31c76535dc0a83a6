"""LoggingConfig (JSON platform records and application logs, levels, a custom log group),
log retention (PutRetentionPolicy, expiry), and following logs with FilterLogEvents."""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.apicalls import unique
from tests.e2e.harness import Server, aws_cli, create_function, run_server, wait_until

pytestmark = pytest.mark.e2e

HANDLER = """
import logging
logger = logging.getLogger("app")
def handler(event, context):
    logger.debug("debug line")
    logger.info("info line")
    logger.warning("warning line %s", 7)
    print("plain print")
    # JSON lines of its own (as a custom runtime writes them): Lambda filters these too.
    print('{"level": "DEBUG", "message": "raw debug"}')
    print('{"level": "ERROR", "message": "raw error"}')
    return {"ok": True}
"""


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with run_server(tmp_path_factory.mktemp("logcfg") / "data", "--idle-timeout", "60") as server:
        yield server


@pytest.fixture(scope="module")
def lam(srv: Server) -> Any:
    return srv.client()


@pytest.fixture(scope="module")
def logs(srv: Server) -> Any:
    return srv.client("logs")


def _messages(logs: Any, group: str) -> list[str]:
    events = logs.filter_log_events(logGroupName=group)["events"]
    return [e["message"].rstrip("\n") for e in events]


def _json_records(messages: list[str]) -> list[dict[str, Any]]:
    out = []
    for message in messages:
        if message.startswith("{"):
            out.append(json.loads(message))
    return out


def test_json_format_levels_and_custom_group(lam: Any, logs: Any) -> None:
    name, group = unique("jsonlog"), f"/custom/{unique('group')}"
    created = create_function(
        lam, name, HANDLER,
        LoggingConfig={"LogFormat": "JSON", "ApplicationLogLevel": "WARN", "LogGroup": group},
    )  # fmt: skip
    assert created["LoggingConfig"] == {
        "LogFormat": "JSON",
        "ApplicationLogLevel": "WARN",
        "SystemLogLevel": "INFO",
        "LogGroup": group,
    }
    response = lam.invoke(FunctionName=name, Payload=b"{}")
    request_id = response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
    assert json.loads(response["Payload"].read()) == {"ok": True}

    messages = wait_until(
        lambda: (m := _messages(logs, group)) and any("platform.report" in x for x in m) and m
    )
    records = _json_records(messages)
    kinds = [r["type"] for r in records if "type" in r]
    assert kinds[:1] == ["platform.initStart"] or "platform.initStart" in kinds
    start = next(r for r in records if r.get("type") == "platform.start")
    assert start["record"] == {
        "requestId": request_id,
        "functionArn": created["FunctionArn"],
        "version": "$LATEST",
    }
    report = next(r for r in records if r.get("type") == "platform.report")
    assert report["record"]["requestId"] == request_id
    assert report["record"]["status"] == "success"
    metrics = report["record"]["metrics"]
    assert {"durationMs", "billedDurationMs", "memorySizeMB", "maxMemoryUsedMB"} <= set(metrics)
    assert metrics["memorySizeMB"] == 128
    assert "initDurationMs" in metrics  # a cold start
    # No text platform lines, no DEBUG-level runtimeDone at SystemLogLevel INFO.
    assert not any(m.startswith(("START RequestId", "END RequestId", "REPORT")) for m in messages)
    assert "platform.runtimeDone" not in kinds
    # Application logs: JSON from the runtime's logging, filtered at WARN.
    app = [r for r in records if "logger" in r]
    assert [(r["level"], r["message"], r["logger"]) for r in app] == [
        ("WARNING", "warning line 7", "app")
    ]
    raw = [r["message"] for r in records if "level" in r and "logger" not in r]
    assert raw == ["raw error"]
    assert app[0]["requestId"] == request_id
    assert "timestamp" in app[0]
    assert "plain print" in messages
    # The custom group exists; the default one was never made.
    names = [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]]
    assert group in names
    assert f"/aws/lambda/{name}" not in names


def test_system_level_warn_hides_platform_records(lam: Any, logs: Any) -> None:
    name = unique("syswarn")
    create_function(
        lam, name, HANDLER,
        LoggingConfig={
            "LogFormat": "JSON", "SystemLogLevel": "WARN", "ApplicationLogLevel": "DEBUG"
        },
    )  # fmt: skip
    lam.invoke(FunctionName=name, Payload=b"{}")
    group = f"/aws/lambda/{name}"
    messages = wait_until(lambda: (m := _messages(logs, group)) and "plain print" in m and m)
    records = _json_records(messages)
    assert not [r for r in records if str(r.get("type", "")).startswith("platform.")]
    levels = [r["level"] for r in records if "level" in r]
    assert levels == ["DEBUG", "INFO", "WARNING", "DEBUG", "ERROR"]


def test_rules_as_aws_applies_them(lam: Any) -> None:
    name = unique("logrules")
    with pytest.raises(ClientError) as caught:
        create_function(
            lam, name, HANDLER, LoggingConfig={"LogFormat": "Text", "ApplicationLogLevel": "INFO"}
        )
    error = caught.value.response["Error"]
    assert error["Code"] == "InvalidParameterValueException"
    assert error["Message"].startswith('LogLevel is not supported when LogFormat is set to "Text".')
    with pytest.raises(ClientError) as caught:
        create_function(lam, name, HANDLER, LoggingConfig={"LogFormat": "XML"})
    assert caught.value.response["Error"]["Code"] == "ValidationException"

    create_function(lam, name, HANDLER)
    config = lam.get_function_configuration(FunctionName=name)
    assert config["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{name}"}
    # To JSON: both levels INFO; a partial update keeps the rest.
    updated = lam.update_function_configuration(
        FunctionName=name, LoggingConfig={"LogFormat": "JSON"}
    )
    assert updated["LoggingConfig"]["ApplicationLogLevel"] == "INFO"
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    updated = lam.update_function_configuration(
        FunctionName=name, LoggingConfig={"ApplicationLogLevel": "DEBUG"}
    )
    assert updated["LoggingConfig"] == {
        "LogFormat": "JSON",
        "ApplicationLogLevel": "DEBUG",
        "SystemLogLevel": "INFO",
        "LogGroup": f"/aws/lambda/{name}",
    }
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    # Back to Text: the levels go.
    updated = lam.update_function_configuration(
        FunctionName=name, LoggingConfig={"LogFormat": "Text", "LogGroup": "cool_lambda"}
    )
    assert updated["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": "cool_lambda"}
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    assert lam.get_function_configuration(FunctionName=name)["LoggingConfig"] == {
        "LogFormat": "Text",
        "LogGroup": "cool_lambda",
    }


def test_retention_policy_expires_old_events(logs: Any) -> None:
    group = f"/retention/{unique('g')}"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    now = int(time.time() * 1000)
    old = now - 3 * 86_400_000
    logs.put_log_events(
        logGroupName=group, logStreamName="s",
        logEvents=[{"timestamp": old, "message": "three days old"}],
    )  # fmt: skip
    logs.put_log_events(
        logGroupName=group, logStreamName="s", logEvents=[{"timestamp": now, "message": "fresh"}]
    )
    assert _messages(logs, group) == ["three days old", "fresh"]

    with pytest.raises(ClientError) as caught:
        logs.put_retention_policy(logGroupName=group, retentionInDays=2)
    assert caught.value.response["Error"]["Code"] == "InvalidParameterException"
    with pytest.raises(ClientError) as caught:
        logs.put_retention_policy(logGroupName="/no/such/group", retentionInDays=1)
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"

    logs.put_retention_policy(logGroupName=group, retentionInDays=1)
    described = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert described[0]["retentionInDays"] == 1
    assert _messages(logs, group) == ["fresh"]
    stream = logs.describe_log_streams(logGroupName=group)["logStreams"][0]
    assert stream["storedBytes"] < 100  # the expired segment is gone, not only hidden

    # Events older than the retention are not taken (CloudWatch's expiredLogEventEndIndex).
    answer = logs.put_log_events(
        logGroupName=group, logStreamName="s",
        logEvents=[{"timestamp": old, "message": "old"}, {"timestamp": old + 1, "message": "x"}],
    )  # fmt: skip
    assert answer["rejectedLogEventsInfo"] == {"expiredLogEventEndIndex": 2}
    assert _messages(logs, group) == ["fresh"]

    logs.delete_retention_policy(logGroupName=group)
    described = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert "retentionInDays" not in described[0]


def test_following_logs_by_polling_filter_log_events(srv: Server, lam: Any, logs: Any) -> None:
    """What `aws logs tail --follow` does (CLI v2); v1 users poll FilterLogEvents with
    startTime, as here through the installed CLI."""
    name = unique("follow")
    create_function(lam, name, HANDLER)
    group = f"/aws/lambda/{name}"
    since = int(time.time() * 1000) - 1000
    seen: list[str] = []

    def new_lines(since: int) -> list[str]:
        out = aws_cli(
            srv.endpoint, "logs", "filter-log-events", "--log-group-name", group,
            "--start-time", str(since), "--output", "json",
        )  # fmt: skip
        events = json.loads(out.stdout)["events"]
        return [e["message"] for e in events if e["timestamp"] >= since]

    for _ in range(2):
        lam.invoke(FunctionName=name, Payload=b"{}")
        lines = wait_until(
            functools.partial(lambda s: [m for m in new_lines(s) if m.startswith("REPORT")], since)
        )
        seen.extend(lines)
        since = max(e["timestamp"] for e in logs.filter_log_events(logGroupName=group)["events"])
        since += 1
    assert len(seen) == 2


def test_start_live_tail_streams_new_events(srv: Server, lam: Any) -> None:
    """StartLiveTail, as boto3 calls it (without the `stream-` host prefix, which no local
    name resolves)."""
    name = unique("livetail")
    create_function(lam, name, HANDLER)
    group = f"/aws/lambda/{name}"
    tail = srv.client("logs", inject_host_prefix=False)
    with pytest.raises(ClientError) as caught:
        tail.start_live_tail(logGroupIdentifiers=["/no/such/group"])
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"

    lam.invoke(FunctionName=name, Payload=b"{}")  # makes the group
    response = tail.start_live_tail(
        logGroupIdentifiers=[f"arn:aws:logs:us-east-1:000000000000:log-group:{group}"],
        logEventFilterPattern="plain print",
    )
    stream = response["responseStream"]
    try:
        events = iter(stream)
        first = next(events)
        assert first["sessionStart"]["logGroupIdentifiers"][0].endswith(group)
        request_id = lam.invoke(FunctionName=name, Payload=b"{}")["ResponseMetadata"]["RequestId"]
        messages: list[str] = []
        deadline = time.monotonic() + 15
        while not messages and time.monotonic() < deadline:
            update = next(events)["sessionUpdate"]
            messages = [r["message"] for r in update["sessionResults"]]
        assert messages == ["plain print\n"]
        assert request_id
    finally:
        stream.close()


def test_retention_survives_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with run_server(data) as server:
        logs = server.client("logs")
        logs.create_log_group(logGroupName="kept")
        logs.put_retention_policy(logGroupName="kept", retentionInDays=7)
    with run_server(data) as server:
        described = server.client("logs").describe_log_groups(logGroupNamePrefix="kept")
        assert described["logGroups"][0]["retentionInDays"] == 7
