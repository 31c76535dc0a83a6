"""Invoke through boto3 and the AWS CLI: results, function errors, headers, bad input."""

from __future__ import annotations

import base64
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import Server, aws_cli, create_function, raw_request

ECHO = """
import os
def handler(event, context):
    print("event received")
    return {
        "event": event,
        "request_id": context.aws_request_id,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "remaining": context.get_remaining_time_in_millis(),
        "client_context": context.client_context.custom if context.client_context else None,
        "env": {
            k: v
            for k, v in os.environ.items()
            if k.startswith(("AWS_", "LAMBDA_", "_", "TZ", "MY_"))
        },
    }
"""

FAIL = """
def handler(event, context):
    raise ValueError("bad input: " + str(event.get("x")))
"""


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def echo(server: Server) -> str:
    name = _name("echo")
    create_function(
        server.client(),
        name,
        ECHO,
        MemorySize=256,
        Timeout=7,
        Environment={"Variables": {"MY_SETTING": "on"}},
    )
    return name


def _invoke(lam: Any, name: str, payload: Any = None, **kwargs: Any) -> tuple[dict[str, Any], Any]:
    body = json.dumps(payload).encode() if payload is not None else b""
    resp = lam.invoke(FunctionName=name, Payload=body, **kwargs)
    return resp, json.loads(resp["Payload"].read() or b"null")


def test_result_and_context(lam: Any, echo: str) -> None:
    resp, doc = _invoke(lam, echo, {"a": 1})
    assert resp["StatusCode"] == 200
    assert resp["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in resp
    assert doc["event"] == {"a": 1}
    assert (
        doc["request_id"] == resp["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
        or doc["request_id"]
    )
    assert doc["function_name"] == echo
    assert doc["function_version"] == "$LATEST"
    assert doc["invoked_function_arn"] == f"arn:aws:lambda:us-east-1:000000000000:function:{echo}"
    assert int(doc["memory_limit_in_mb"]) == 256
    assert doc["log_group_name"] == f"/aws/lambda/{echo}"
    assert doc["log_stream_name"].startswith(tuple("0123456789"))
    assert "[$LATEST]" in doc["log_stream_name"]
    assert 5000 < doc["remaining"] <= 7000


def test_reserved_environment_variables(lam: Any, echo: str) -> None:
    _, doc = _invoke(lam, echo, {})
    env = doc["env"]
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == echo
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == f"/aws/lambda/{echo}"
    assert env["AWS_LAMBDA_LOG_STREAM_NAME"] == doc["log_stream_name"]
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["_HANDLER"] == "app.handler"
    # Lambda's paths: the environment's code and runtime are mounted there.
    assert env["LAMBDA_TASK_ROOT"] == "/var/task"
    assert env["LAMBDA_RUNTIME_DIR"] == "/var/runtime"
    assert env["AWS_LAMBDA_RUNTIME_API"].startswith("127.0.0.1:")
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.11"
    assert env["AWS_LAMBDA_INITIALIZATION_TYPE"] == "on-demand"
    assert env["TZ"] == ":UTC"
    assert env["MY_SETTING"] == "on"
    assert env["_X_AMZN_TRACE_ID"].startswith("Root=1-")


def test_empty_payload_is_an_empty_object(lam: Any, echo: str) -> None:
    _, doc = _invoke(lam, echo)
    assert doc["event"] == {}


def test_client_context_reaches_the_function(lam: Any, echo: str) -> None:
    ctx = base64.b64encode(json.dumps({"custom": {"k": "v"}}).encode()).decode()
    _, doc = _invoke(lam, echo, {}, ClientContext=ctx)
    assert doc["client_context"] == {"k": "v"}


def test_function_error_is_unhandled_with_the_runtime_payload(lam: Any, server: Server) -> None:
    name = _name("fail")
    create_function(lam, name, FAIL)
    resp, doc = _invoke(lam, name, {"x": 42})
    assert resp["StatusCode"] == 200
    assert resp["FunctionError"] == "Unhandled"
    assert doc["errorType"] == "ValueError"
    assert doc["errorMessage"] == "bad input: 42"
    assert doc["requestId"]
    assert any("raise ValueError" in frame for frame in doc["stackTrace"])


def test_log_tail(lam: Any, echo: str) -> None:
    resp, doc = _invoke(lam, echo, {}, LogType="Tail")
    tail = base64.b64decode(resp["LogResult"]).decode()
    assert f"START RequestId: {doc['request_id']} Version: $LATEST" in tail
    assert "event received" in tail
    assert f"END RequestId: {doc['request_id']}" in tail
    assert f"REPORT RequestId: {doc['request_id']}" in tail
    assert "Billed Duration:" in tail
    assert "Memory Size: 256 MB" in tail


def test_log_tail_is_at_most_4kb(lam: Any) -> None:
    name = _name("chatty")
    create_function(lam, name, "def handler(e, c):\n    print('x' * 10000)\n    return 1\n")
    resp, _ = _invoke(lam, name, {}, LogType="Tail")
    tail = base64.b64decode(resp["LogResult"])
    assert len(tail) == 4096
    assert tail.rstrip().split(b"\n")[-1].startswith(b"REPORT RequestId:")


def test_dry_run(lam: Any, echo: str) -> None:
    resp = lam.invoke(FunctionName=echo, InvocationType="DryRun")
    assert resp["StatusCode"] == 204


def test_unknown_function_is_404(lam: Any) -> None:
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as info:
        lam.invoke(FunctionName="no-such-function", Payload=b"{}")
    assert info.value.response["Error"]["Message"] == (
        "Function not found: arn:aws:lambda:us-east-1:000000000000:function:no-such-function"
    )
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_unknown_qualifier_is_404(lam: Any, echo: str) -> None:
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.invoke(FunctionName=echo, Qualifier="7", Payload=b"{}")


def test_payload_over_6mb_is_413(lam: Any, echo: str) -> None:
    payload = json.dumps({"x": "a" * (6 * 1024 * 1024)}).encode()
    with pytest.raises(lam.exceptions.RequestTooLargeException) as info:
        lam.invoke(FunctionName=echo, Payload=payload)
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert "6291456" in info.value.response["Error"]["Message"]


def test_invalid_json_payload(lam: Any, echo: str) -> None:
    with pytest.raises(lam.exceptions.InvalidRequestContentException) as info:
        lam.invoke(FunctionName=echo, Payload=b"{not json")
    assert info.value.response["Error"]["Message"].startswith(
        "Could not parse request body into json: Could not parse payload into json:"
    )


def test_invalid_client_context(server: Server, echo: str) -> None:
    status, headers, _ = raw_request(
        server.endpoint,
        "POST",
        f"/2015-03-31/functions/{echo}/invocations",
        b"{}",
        {"X-Amz-Client-Context": "%%%not-base64"},
    )
    assert status == 400
    assert headers["x-amzn-errortype"] == "InvalidRequestContentException"


def test_invalid_invocation_type_is_a_validation_error(server: Server, echo: str) -> None:
    status, headers, raw = raw_request(
        server.endpoint,
        "POST",
        f"/2015-03-31/functions/{echo}/invocations",
        b"{}",
        {"X-Amz-Invocation-Type": "Sometimes"},
    )
    body = json.loads(raw)
    assert status == 400
    assert headers["x-amzn-errortype"] == "ValidationException"
    assert "Type" not in body  # AWS's framework errors carry a bare `message`
    assert "Member must satisfy enum value set: [RequestResponse, Event, DryRun]" in body["message"]


def test_response_over_6mb_is_a_function_error(lam: Any) -> None:
    name = _name("huge")
    create_function(lam, name, "def handler(e, c):\n    return 'x' * (7 * 1024 * 1024)\n")
    resp, doc = _invoke(lam, name, {})
    assert resp["FunctionError"] == "Unhandled"
    assert doc == {
        "errorMessage": (
            "Response payload size exceeded maximum allowed payload size (6291556 bytes)."
        ),
        "errorType": "Function.ResponseSizeTooLarge",
    }


def test_aws_cli_invoke(server: Server, echo: str, tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    result = aws_cli(
        server.endpoint,
        "lambda", "invoke", "--function-name", echo, "--payload", '{"a":1}', str(out),
    )  # fmt: skip
    meta = json.loads(result.stdout)
    assert meta["StatusCode"] == 200
    assert meta["ExecutedVersion"] == "$LATEST"
    assert json.loads(out.read_text())["event"] == {"a": 1}
