"""Function logs through CloudWatch Logs' API (boto3, AWS CLI) and the `ember` command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import REPO, Server, aws_cli, create_function, wait_until

CODE = (
    "def handler(event, context):\n"
    "    print('line one')\n    print('line two')\n    return 'done'\n"
)


def ember(server: Server, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ember", "--endpoint", server.endpoint, *args],
        capture_output=True,
        text=True,
        check=check,
        timeout=60,
        cwd=REPO,
    )


def test_log_stream_per_environment_with_start_end_report(server: Server, lam: Any) -> None:
    name = f"logs-{uuid.uuid4().hex[:8]}"
    create_function(lam, name, CODE)
    first = lam.invoke(FunctionName=name, Payload=b"{}")["ResponseMetadata"]
    lam.invoke(FunctionName=name, Payload=b"{}")
    logs = server.client("logs")
    group = f"/aws/lambda/{name}"
    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert len(streams) == 1
    stream = streams[0]["logStreamName"]
    assert stream.split("]")[0].endswith("[$LATEST")
    events = wait_until(
        lambda: [
            e["message"]
            for e in logs.get_log_events(logGroupName=group, logStreamName=stream)["events"]
        ]
    )
    starts = [m for m in events if m.startswith("START RequestId:")]
    reports = [m for m in events if m.startswith("REPORT RequestId:")]
    assert len(starts) == 2
    assert len(reports) == 2
    assert events.count("line one\n") == 2
    assert "Init Duration:" in reports[0]
    assert "Init Duration:" not in reports[1]
    for field in ("Duration:", "Billed Duration:", "Memory Size: 128 MB", "Max Memory Used:"):
        assert field in reports[0]
    assert first["HTTPStatusCode"] == 200
    filtered = logs.filter_log_events(logGroupName=group, filterPattern="line two")["events"]
    assert len(filtered) == 2


def test_unknown_log_group(server: Server) -> None:
    logs = server.client("logs")
    with pytest.raises(logs.exceptions.ResourceNotFoundException) as info:
        logs.describe_log_streams(logGroupName="/aws/lambda/none-such")
    assert info.value.response["Error"]["Message"] == "The specified log group does not exist."


def test_aws_cli_reads_logs(server: Server, lam: Any) -> None:
    name = f"clilogs-{uuid.uuid4().hex[:8]}"
    create_function(lam, name, CODE)
    lam.invoke(FunctionName=name, Payload=b"{}")
    out = aws_cli(
        server.endpoint, "logs", "filter-log-events", "--log-group-name", f"/aws/lambda/{name}"
    )
    messages = [e["message"] for e in json.loads(out.stdout)["events"]]
    assert "line one\n" in messages


def test_ember_deploy_invoke_ls_logs(server: Server, tmp_path: Path) -> None:
    folder = tmp_path / "fn"
    folder.mkdir()
    (folder / "app.py").write_text(
        "import os\ndef handler(event, context):\n"
        "    print('from cli')\n    return {'got': event, 'mode': os.environ['MODE']}\n"
    )
    name = f"cli-{uuid.uuid4().hex[:8]}"
    created = ember(server, "deploy", str(folder), "--name", name, "--handler", "app.handler",
                    "--runtime", "python3.11", "--env", "MODE=one", "--memory", "256")  # fmt: skip
    assert created.stdout.startswith(
        f"created arn:aws:lambda:us-east-1:000000000000:function:{name}"
    )
    result = ember(server, "invoke", name, '{"k": 1}')
    assert json.loads(result.stdout) == {"got": {"k": 1}, "mode": "one"}
    updated = ember(server, "deploy", str(folder), "--name", name, "--handler", "app.handler",
                    "--runtime", "python3.11", "--env", "MODE=two")  # fmt: skip
    assert updated.stdout.startswith("updated ")
    assert json.loads(ember(server, "invoke", name).stdout)["mode"] == "two"
    listing = ember(server, "ls").stdout.splitlines()
    assert listing[0].split() == [
        "NAME",
        "RUNTIME",
        "MEMORY",
        "TIMEOUT",
        "LAST",
        "MODIFIED",
    ]
    row = next(line.split() for line in listing if line.startswith(name + " "))
    assert row[1:4] == ["python3.11", "256", "3"]  # update keeps what it omits
    logs = ember(server, "logs", name).stdout
    assert logs.count("from cli") == 2
    assert "REPORT RequestId:" in logs


def test_ember_errors_are_one_line_and_non_zero(server: Server) -> None:
    missing = ember(server, "invoke", "no-such-fn", check=False)
    assert missing.returncode == 1
    assert missing.stderr.strip().splitlines() == [
        "ember: ResourceNotFoundException: Function not found: "
        "arn:aws:lambda:us-east-1:000000000000:function:no-such-fn"
    ]
    unreachable = subprocess.run(
        [sys.executable, "-m", "ember", "--endpoint", "http://127.0.0.1:9", "ls"],
        capture_output=True, text=True, timeout=30, cwd=REPO,
    )  # fmt: skip
    assert unreachable.returncode == 1
    assert "cannot reach Ember" in unreachable.stderr


def test_function_error_exit_code(server: Server, lam: Any) -> None:
    name = f"clifail-{uuid.uuid4().hex[:8]}"
    create_function(lam, name, "def handler(e, c):\n    raise Exception('nope')\n")
    result = ember(server, "invoke", name, check=False)
    assert result.returncode == 1
    assert json.loads(result.stdout)["errorMessage"] == "nope"


def test_help_everywhere() -> None:
    for command in ([], ["serve"], ["deploy"], ["invoke"], ["logs"], ["ls"]):
        out = subprocess.run(
            [sys.executable, "-m", "ember", *command, "--help"],
            capture_output=True, text=True, check=True, cwd=REPO,
            env={**os.environ, "COLUMNS": "100"},
        )  # fmt: skip
        assert "Usage: " in out.stdout
