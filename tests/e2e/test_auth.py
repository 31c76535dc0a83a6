"""Signed requests: `ember serve --auth sigv4` with keys from `ember keys`, driven by boto3
and the AWS CLI; AWS's refusals in each protocol's shape; the code download link; the
non-loopback bind rule; environments' own credentials, scoped like an execution role."""

from __future__ import annotations

import datetime
import json
import os
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.e2e.harness import (
    REPO,
    Server,
    create_function,
    create_key,
    free_port,
    make_zip,
    raw_request,
    run_server,
    wait_until,
)

ECHO = "def handler(event, context):\n    return {'echo': event}\n"


def ember(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ember", *args],
        capture_output=True, text=True, cwd=REPO, timeout=60, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str, str]]:
    data = tmp_path_factory.mktemp("auth") / "data"
    key, secret = create_key(data)
    with run_server(data, "--auth", "sigv4", "--idle-timeout", "60") as srv:
        yield srv, key, secret


@pytest.fixture(scope="module")
def lam(signed: tuple[Server, str, str]) -> Any:
    srv, key, secret = signed
    return srv.client(access_key=key, secret_key=secret)


def _error(call: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as caught:
        call(*args, **kwargs)
    response: dict[str, Any] = caught.value.response
    return response


def test_boto3_with_a_key_from_ember_keys(lam: Any, signed: tuple[Server, str, str]) -> None:
    assert "auth: sigv4 (1 access key;" in signed[0].output()
    create_function(lam, "signed-echo", ECHO)
    result = lam.invoke(FunctionName="signed-echo", Payload=b'{"a": 1}')
    assert json.loads(result["Payload"].read()) == {"echo": {"a": 1}}
    names = [f["FunctionName"] for f in lam.list_functions()["Functions"]]
    assert "signed-echo" in names


def test_aws_cli_with_a_key_from_ember_keys(signed: tuple[Server, str, str]) -> None:
    srv, key, secret = signed
    env = {**os.environ, "AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret,
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_PAGER": ""}  # fmt: skip
    aws = str(Path(sys.executable).parent / "aws")
    done = subprocess.run(
        [aws, "--endpoint-url", srv.endpoint, "lambda", "get-account-settings"],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "AccountLimit" in done.stdout
    env["AWS_SECRET_ACCESS_KEY"] = "wrong"
    done = subprocess.run(
        [aws, "--endpoint-url", srv.endpoint, "lambda", "list-functions"],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode != 0
    assert "InvalidSignatureException" in done.stderr


def test_wrong_secret_is_an_invalid_signature(signed: tuple[Server, str, str]) -> None:
    srv, key, _ = signed
    response = _error(srv.client(access_key=key, secret_key="not-the-secret").list_functions)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert response["Error"]["Code"] == "InvalidSignatureException"
    assert response["Error"]["Message"].startswith(
        "The request signature we calculated does not match the signature you provided."
    )


def test_unknown_key_is_an_unrecognized_client(signed: tuple[Server, str, str]) -> None:
    srv, _, _ = signed
    response = _error(srv.client().list_functions)  # the harness's "test" key
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert response["Error"] == {
        "Code": "UnrecognizedClientException",
        "Message": "The security token included in the request is invalid.",
    }


def test_unsigned_requests_are_refused_invoke_too(signed: tuple[Server, str, str]) -> None:
    srv, _, _ = signed
    for method, path in [
        ("GET", "/2015-03-31/functions/"),
        ("POST", "/2015-03-31/functions/signed-echo/invocations"),
        ("GET", "/_ember/async-queues"),
    ]:
        status, headers, body = raw_request(srv.endpoint, method, path, b"{}")
        assert status == 403
        assert headers["x-amzn-errortype"] == "MissingAuthenticationTokenException"
        assert json.loads(body) == {"message": "Missing Authentication Token"}


def test_a_signature_off_by_more_than_fifteen_minutes_is_refused(
    signed: tuple[Server, str, str],
) -> None:
    srv, key, secret = signed
    client = srv.client(access_key=key, secret_key=secret)
    now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    for shift, wording in [(-20, "Signature expired: "), (20, "Signature not yet current: ")]:
        at = now + datetime.timedelta(minutes=shift)
        with mock.patch("botocore.auth.get_current_datetime", return_value=at):
            response = _error(client.list_functions)
        assert response["Error"]["Code"] == "InvalidSignatureException"
        assert response["Error"]["Message"].startswith(wording + at.strftime("%Y%m%dT%H%M%SZ"))
    with mock.patch(
        "botocore.auth.get_current_datetime", return_value=now - datetime.timedelta(minutes=10)
    ):
        client.list_functions()  # inside the window


def test_presigned_urls_work_and_expire(lam: Any, signed: tuple[Server, str, str]) -> None:
    create_function(lam, "presigned-fn", ECHO)
    url = lam.generate_presigned_url(
        "get_function_configuration", Params={"FunctionName": "presigned-fn"}, ExpiresIn=3600
    )
    assert "X-Amz-Signature=" in url
    with urllib.request.urlopen(url, timeout=30) as resp:
        assert json.loads(resp.read())["FunctionName"] == "presigned-fn"
    short = lam.generate_presigned_url(
        "get_function_configuration", Params={"FunctionName": "presigned-fn"}, ExpiresIn=1
    )

    def refused() -> str | None:
        try:
            with urllib.request.urlopen(short, timeout=30):
                return None
        except urllib.error.HTTPError as exc:
            with exc:
                return f"{exc.code} {exc.headers['x-amzn-errortype']} {exc.read().decode()}"

    answer = wait_until(refused, limit=10, interval=0.2)
    assert answer.startswith("403 InvalidSignatureException ")
    assert "Signature expired" in answer


def test_cloudwatch_logs_refusals_are_json_1_1(signed: tuple[Server, str, str]) -> None:
    srv, key, secret = signed
    assert (
        "logGroups" in srv.client("logs", access_key=key, secret_key=secret).describe_log_groups()
    )
    logs = srv.client("logs", access_key=key, secret_key="wrong")
    response = _error(logs.describe_log_groups)
    assert response["Error"]["Code"] == "InvalidSignatureException"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    status, headers, body = raw_request(
        srv.endpoint, "POST", "/", b"{}",
        {"x-amz-target": "Logs_20140328.DescribeLogGroups",
         "content-type": "application/x-amz-json-1.1"},
    )  # fmt: skip
    assert status == 400
    assert headers["content-type"] == "application/x-amz-json-1.1"
    assert json.loads(body) == {
        "__type": "MissingAuthenticationTokenException",
        "message": "Missing Authentication Token",
    }


def _signed_headers(srv: Server, key: str, secret: str, target: str, body: bytes) -> str:
    """The head of a signed CloudWatch Logs request for `body` (which is not in it)."""
    request = AWSRequest(
        "POST", srv.endpoint + "/", data=body,
        headers={"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1"},
    )  # fmt: skip
    SigV4Auth(Credentials(key, secret), "logs", "us-east-1").add_auth(request)
    lines = [f"{name}: {value}" for name, value in request.headers.items()]
    lines += [f"Host: 127.0.0.1:{srv.port}", f"Content-Length: {len(body)}"]
    return "POST / HTTP/1.1\r\n" + "\r\n".join(lines) + "\r\n\r\n"


def test_a_signed_logs_request_past_the_logs_bound_is_refused_unread(
    signed: tuple[Server, str, str],
) -> None:
    srv, key, secret = signed
    logs = srv.client("logs", access_key=key, secret_key=secret)
    group = "/test/bound"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    body = json.dumps(
        {"logGroupName": group, "logStreamName": "s",
         "logEvents": [{"timestamp": 1, "message": "y" * (3 << 20)}]}
    ).encode()  # fmt: skip
    # Only the head goes out: a server that read the body before the Logs front door's
    # bound applied would wait for the 3 MiB forever (until this socket's deadline).
    head = _signed_headers(srv, key, secret, "Logs_20140328.PutLogEvents", body)
    with socket.create_connection(("127.0.0.1", srv.port), timeout=60) as sock:
        sock.sendall(head.encode())
        answer = sock.makefile("rb")
        status = answer.readline().split()[1]
        headers = {}
        while (line := answer.readline().strip()) != b"":
            name, _, value = line.decode().partition(":")
            headers[name.lower()] = value.strip()
        doc = json.loads(answer.read(int(headers["content-length"])))
    assert (status, headers["content-type"]) == (b"400", "application/x-amz-json-1.1")
    assert doc == {
        "__type": "InvalidParameterException",
        "message": f"Upload too large: {len(body)} bytes exceeds limit of 1048576",
    }


def test_code_location_is_a_signed_link(lam: Any) -> None:
    create_function(lam, "code-link", ECHO)
    location = lam.get_function(FunctionName="code-link")["Code"]["Location"]
    assert "Signature=" in location
    with urllib.request.urlopen(location, timeout=30) as resp:
        assert resp.read()[:2] == b"PK"
    unsigned = location.split("?")[0]
    tampered = location[:-1] + ("0" if location[-1] != "0" else "1")
    later = location.replace("Expires=", "Expires=9")
    for url in (unsigned, tampered, later):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(url, timeout=30)
        with refused.value as error:
            assert error.code == 403
            assert error.headers["x-amzn-errortype"] == "AccessDeniedException"
    layer = lam.publish_layer_version(
        LayerName="signed-layer", Content={"ZipFile": make_zip({"python/m.py": "x = 1\n"})}
    )
    with urllib.request.urlopen(layer["Content"]["Location"], timeout=30) as resp:
        assert resp.read()[:2] == b"PK"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(layer["Content"]["Location"].split("?")[0], timeout=30)
    with refused.value as error:
        assert error.code == 403


def test_keys_list_and_delete(signed: tuple[Server, str, str]) -> None:
    srv, _, _ = signed
    key, secret = create_key(srv.data_dir)
    listed = ember("keys", "list", "--data-dir", str(srv.data_dir))
    assert key in listed.stdout
    assert secret not in listed.stdout
    client = srv.client(access_key=key, secret_key=secret)
    wait_until(lambda: _works(client), limit=5)
    deleted = ember("keys", "delete", key, "--data-dir", str(srv.data_dir))
    assert deleted.returncode == 0, deleted.stderr
    assert key not in ember("keys", "list", "--data-dir", str(srv.data_dir)).stdout
    wait_until(lambda: not _works(client), limit=5)
    response = _error(client.list_functions)
    assert response["Error"]["Code"] == "UnrecognizedClientException"
    missing = ember("keys", "delete", key, "--data-dir", str(srv.data_dir))
    assert missing.returncode == 1
    assert f"no access key {key}" in missing.stderr


def _works(client: Any) -> bool:
    try:
        client.list_functions()
    except ClientError:
        return False
    return True


def test_non_loopback_bind_needs_auth_said(tmp_path: Path) -> None:
    port = str(free_port())
    done = ember("serve", "--host", "0.0.0.0", "--port", port, "--data-dir", str(tmp_path / "d"))
    assert done.returncode == 1
    assert "refusing to serve on 0.0.0.0 without authentication" in done.stderr
    with run_server(tmp_path / "open", "--host", "0.0.0.0", "--auth", "none") as srv:
        srv.client().list_functions()
        assert "auth: none (OPEN to anyone who reaches 0.0.0.0:" in srv.output()


def test_loopback_is_open_by_default(tmp_path: Path) -> None:
    with run_server(tmp_path / "d") as srv:
        srv.client().list_functions()
        status, _, _ = raw_request(srv.endpoint, "GET", "/2015-03-31/functions/")
        assert status == 200
        assert "auth: none (open on loopback)" in srv.output()


CALLER = """
import json, os, urllib.request, urllib.error
import boto3
from botocore.exceptions import ClientError

def handler(event, context):
    client = boto3.client("lambda")
    out = {"key": os.environ["AWS_ACCESS_KEY_ID"][:4],
           "token": bool(os.environ.get("AWS_SESSION_TOKEN"))}
    result = client.invoke(FunctionName=event["target"], Payload=b'{"from": "caller"}')
    out["invoked"] = json.loads(result["Payload"].read())
    try:
        client.get_function(FunctionName=event["target"])
        out["get_function"] = "allowed"
    except ClientError as exc:
        out["get_function"] = [exc.response["Error"]["Code"], exc.response["Error"]["Message"]]
    return out
"""


def test_a_function_invokes_another_with_its_role_credentials(lam: Any) -> None:
    create_function(lam, "callee", ECHO)
    create_function(lam, "caller", CALLER, Timeout=60)
    result = lam.invoke(FunctionName="caller", Payload=json.dumps({"target": "callee"}))
    body = json.loads(result["Payload"].read())
    assert "FunctionError" not in result, body
    assert body["key"] == "ASIA"
    assert body["token"] is True
    assert body["invoked"] == {"echo": {"from": "caller"}}
    assert body["get_function"] == [
        "AccessDeniedException",
        "User: arn:aws:sts::000000000000:assumed-role/lambda-role/caller is not authorized "
        "to perform: lambda:GetFunction on resource: "
        "arn:aws:lambda:us-east-1:000000000000:function:callee because no identity-based "
        "policy allows the lambda:GetFunction action",
    ]


KNOCKER = """
import json, os, urllib.request, urllib.error
import boto3
from botocore.exceptions import ClientError

def handler(event, context):
    endpoint = os.environ["AWS_ENDPOINT_URL"]
    try:
        with urllib.request.urlopen(endpoint + "/2015-03-31/functions/", timeout=10) as resp:
            unsigned = resp.status
    except urllib.error.HTTPError as exc:
        unsigned = [exc.code, exc.headers["x-amzn-errortype"]]
    client = boto3.client("lambda")
    try:
        client.list_functions()
        listed = "allowed"
    except ClientError as exc:
        listed = exc.response["Error"]["Code"]
    return {"endpoint": endpoint, "unsigned": unsigned, "listed": listed}
"""


def test_environment_credentials_are_scoped_without_auth_too(tmp_path: Path) -> None:
    with run_server(tmp_path / "d", "--idle-timeout", "60") as srv:
        client = srv.client()
        create_function(client, "knocker", KNOCKER, Timeout=30)
        result = client.invoke(FunctionName="knocker", Payload=b"{}")
        body = json.loads(result["Payload"].read())
        assert "FunctionError" not in result, body
        assert body["listed"] == "AccessDeniedException"
        if "host.ember.internal" in body["endpoint"]:
            # Through the environments' door, credentials are required even with auth none.
            assert body["unsigned"] == [403, "MissingAuthenticationTokenException"]


def test_ember_client_commands_sign_with_the_usual_variables(
    lam: Any, signed: tuple[Server, str, str]
) -> None:
    srv, key, secret = signed
    create_function(lam, "cli-signed", ECHO)
    base = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    command = [sys.executable, "-m", "ember", "--endpoint", srv.endpoint, "invoke", "cli-signed"]
    env = {**base, "AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret}
    done = subprocess.run([*command, '{"n": 2}'], capture_output=True, text=True, env=env,
                          cwd=REPO, timeout=60, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"echo": {"n": 2}}
    done = subprocess.run(command, capture_output=True, text=True, env=base,
                          cwd=REPO, timeout=60, check=False)  # fmt: skip
    assert done.returncode == 1
    assert "MissingAuthenticationTokenException" in done.stderr
