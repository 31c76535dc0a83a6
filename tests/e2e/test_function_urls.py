"""Function URLs end to end: configs through boto3 (shapes and errors as AWS recorded them in
shared/conformance), and requests to the FunctionUrl exactly as returned — with curl (which
resolves *.localhost to loopback) and with a plain HTTP client sending the Host header."""

from __future__ import annotations

import base64
import csv
import http.client
import json
import subprocess
import threading
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.e2e.apicalls import ARN_PREFIX, deploy, expect_error, unique, wait_settled
from tests.e2e.aws_answers import TSV, aws_row
from tests.e2e.harness import ROLE, Server, create_key, function_host, make_zip, run_server

pytestmark = pytest.mark.e2e

FORBIDDEN = {
    "Message": "Forbidden. For troubleshooting Function URL authorization issues, see: "
    "https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html"
}
# Echoes the event, or answers with what the request body says to return (`/return`), or
# fails (`/boom`).
CODE = """
import json

def handler(event, context):
    path = event["rawPath"]
    if path == "/return":
        return json.loads(event["body"])
    if path == "/boom":
        raise RuntimeError("boom")
    return {"event": event}
"""


def call(
    url: str,
    method: str = "GET",
    path: str = "",
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """A request to the URL's host and port, Host header as in the URL (for clients that
    cannot resolve *.localhost: connect to 127.0.0.1, send the Host)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection("127.0.0.1", parts.port, timeout=60)
    try:
        conn.request(
            method, "/" + path, body=body, headers={"Host": parts.netloc, **(headers or {})}
        )
        response = conn.getresponse()
        got = {k.lower(): v for k, v in response.getheaders()}
        return response.status, got, response.read()
    finally:
        conn.close()


def curl(url: str, *args: str) -> tuple[int, bytes]:
    done = subprocess.run(
        ["curl", "-s", "-o", "-", "-w", "\n%{http_code}", *args, url],
        capture_output=True,
        timeout=60,
        check=True,
    )
    body, _, status = done.stdout.rpartition(b"\n")
    return int(status), body


def allow_public(lam: Any, name: str, qualifier: str | None = None) -> None:
    extra = {"Qualifier": qualifier} if qualifier else {}
    lam.add_permission(
        FunctionName=name,
        StatementId=unique("url"),
        Action="lambda:InvokeFunctionUrl",
        Principal="*",
        FunctionUrlAuthType="NONE",
        **extra,
    )


@pytest.fixture(scope="module")
def fn(server: Server) -> str:
    """A function with version 1 and aliases `live` and `bare` (never given a URL)."""
    lam = server.client()
    name = unique("url")
    deploy(lam, name, {"app.py": CODE})
    lam.publish_version(FunctionName=name)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    lam.create_alias(FunctionName=name, Name="bare", FunctionVersion="1")
    return name


@pytest.fixture(scope="module")
def public_url(server: Server, fn: str) -> str:
    """The function's own URL, AuthType NONE, with the permission the CLI user adds."""
    lam = server.client()
    url: str = lam.create_function_url_config(FunctionName=fn, AuthType="NONE")["FunctionUrl"]
    allow_public(lam, fn)
    return url


# -- configs ------------------------------------------------------------------------------


def test_config_lifecycle_shapes(server: Server) -> None:
    lam = server.client()
    name = unique("url-life")
    deploy(lam, name)
    created = lam.create_function_url_config(FunctionName=name, AuthType="NONE")
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    # AWS's recorded Create answer: no LastModifiedTime, no InvokeMode when none was given.
    keys = set(created) - {"ResponseMetadata"}
    assert keys == {"AuthType", "CreationTime", "FunctionArn", "FunctionUrl"}
    assert created["FunctionArn"] == ARN_PREFIX + name
    url = created["FunctionUrl"]
    host = urlsplit(url).hostname or ""
    url_id, _, rest = host.partition(".")
    assert len(url_id) == 32
    assert url_id.isalnum()
    assert url_id.islower() or url_id.isdigit()
    assert rest == "lambda-url.us-east-1.localhost"
    assert url == f"http://{host}:{server.port}/"

    got = lam.get_function_url_config(FunctionName=name)
    assert got["InvokeMode"] == "BUFFERED"
    assert got["FunctionUrl"] == url
    assert got["LastModifiedTime"] == got["CreationTime"]

    with pytest.raises(lam.exceptions.ResourceConflictException):
        lam.create_function_url_config(FunctionName=name, AuthType="NONE")

    updated = lam.update_function_url_config(
        FunctionName=name,
        AuthType="AWS_IAM",
        Cors={"AllowOrigins": ["https://a.example"], "MaxAge": 60},
    )
    assert updated["AuthType"] == "AWS_IAM"
    assert "InvokeMode" not in updated  # as recorded: never given
    assert updated["Cors"] == {"AllowOrigins": ["https://a.example"], "MaxAge": 60}
    assert updated["FunctionUrl"] == url  # the url-id never changes

    # Update keeps what it is not given; InvokeMode once given is shown (recorded).
    streamed = lam.update_function_url_config(FunctionName=name, InvokeMode="RESPONSE_STREAM")
    assert streamed["InvokeMode"] == "RESPONSE_STREAM"
    again = lam.update_function_url_config(FunctionName=name)
    assert again["InvokeMode"] == "RESPONSE_STREAM"
    assert again["AuthType"] == "AWS_IAM"
    assert again["Cors"]["MaxAge"] == 60

    listed = lam.list_function_url_configs(FunctionName=name)["FunctionUrlConfigs"]
    assert [c["FunctionUrl"] for c in listed] == [url]
    assert (
        lam.delete_function_url_config(FunctionName=name)["ResponseMetadata"]["HTTPStatusCode"]
        == 204
    )
    expect_error(
        lambda: lam.get_function_url_config(FunctionName=name),
        *aws_row("TestLambdaUrl::test_url_config_lifecycle", "failed_getter"),
    )
    recreated = lam.create_function_url_config(FunctionName=name, AuthType="NONE")
    assert recreated["FunctionUrl"] != url  # AWS: a new URL is a new address


def test_alias_url_and_list_order(server: Server, fn: str) -> None:
    lam = server.client()
    name = unique("url-list")
    deploy(lam, name)
    lam.publish_version(FunctionName=name)
    lam.create_alias(FunctionName=name, Name="urlalias", FunctionVersion="1")
    assert lam.list_function_url_configs(FunctionName=name)["FunctionUrlConfigs"] == []
    plain = lam.create_function_url_config(FunctionName=name, AuthType="NONE")
    aliased = lam.create_function_url_config(
        FunctionName=name, Qualifier="urlalias", AuthType="NONE", InvokeMode="BUFFERED"
    )
    assert aliased["FunctionArn"] == f"{ARN_PREFIX}{name}:urlalias"
    assert aliased["InvokeMode"] == "BUFFERED"
    assert aliased["FunctionUrl"] != plain["FunctionUrl"]
    listed = lam.list_function_url_configs(FunctionName=name)["FunctionUrlConfigs"]
    assert [c["FunctionArn"] for c in listed] == [ARN_PREFIX + name, f"{ARN_PREFIX}{name}:urlalias"]
    # Deleting the function's own URL leaves the alias's (recorded).
    lam.delete_function_url_config(FunctionName=name)
    assert lam.get_function_url_config(FunctionName=name, Qualifier="urlalias")
    # The alias's URL goes with the alias, all of them with the function.
    lam.delete_alias(FunctionName=name, Name="urlalias")
    lam.create_alias(FunctionName=name, Name="urlalias", FunctionVersion="1")
    expect_error(
        lambda: lam.get_function_url_config(FunctionName=name, Qualifier="urlalias"),
        "ResourceNotFoundException", 404, "The resource you requested does not exist.",
    )  # fmt: skip
    lam.create_function_url_config(FunctionName=name, AuthType="NONE")
    lam.delete_function(FunctionName=name)
    deploy(lam, name)
    assert lam.list_function_url_configs(FunctionName=name)["FunctionUrlConfigs"] == []


def url_rows() -> list[str]:
    """Every recorded row of the URL operations (`<test>/<snapshot_key>`): all replayed here
    (tests/e2e/test_conformance.py counts them as replayed in another module)."""
    with TSV.open(newline="") as f:
        return [
            f"{row['test']}/{row['snapshot_key']}"
            for row in csv.DictReader(f, delimiter="\t")
            if "url" in row["test"].lower()
        ]


# test_url_config_exceptions' calls: the case (the key after the operation's name) -> the
# arguments besides the function's own name.
EXCEPTION_CASES: dict[str, dict[str, str]] = {
    "name_doesnotexist": {"FunctionName": "{missing}"},
    "arn_doesnotexist": {"FunctionName": "{missing_arn}"},
    "name_doesnotexist_qualifier": {"FunctionName": "{missing}", "Qualifier": "1"},
    "qualifier_version": {"Qualifier": "1"},
    "qualifier_version_doesnotexist": {"Qualifier": "2"},
    "qualifier_alias_doesnotexist": {"Qualifier": "nope"},
    "qualifier_alias_doesnotmatch_arn": {"FunctionName": "{arn}:live", "Qualifier": "other"},
    "qualifier_latest": {"Qualifier": "$LATEST"},
    "config_doesnotexist": {"Qualifier": "bare"},  # an alias without a URL
}


def replay(lam: Any, fn: str, key: str) -> tuple[Any, dict[str, str]]:
    """The call the recording made for row `key`, as a thunk, and the placeholders it names."""
    test, _, step = key.partition("/")
    missing = unique("url-missing")
    if test.endswith("test_url_config_exceptions"):
        operation, _, case = step.partition("_function_url_config_")
        values = {
            k: v.format(missing=missing, missing_arn=ARN_PREFIX + missing, arn=ARN_PREFIX + fn)
            for k, v in {"FunctionName": fn, **EXCEPTION_CASES[case]}.items()
        }
        if operation == "create":
            values["AuthType"] = "NONE"
        method = getattr(lam, f"{operation}_function_url_config")
        return lambda: method(**values), {}
    if key.endswith("test_url_config_lifecycle/failed_duplication"):
        name = unique("url-dup")
        deploy(lam, name)
        lam.create_function_url_config(FunctionName=name, AuthType="NONE")
        thunk = lambda: lam.create_function_url_config(FunctionName=name, AuthType="NONE")  # noqa: E731
        return thunk, {"<resource:1>": name}
    if key.endswith(("/failed_getter", "/get_url_config_after_deletion")):
        name = unique("url-gone")
        deploy(lam, name)
        lam.create_function_url_config(FunctionName=name, AuthType="NONE")
        lam.delete_function_url_config(FunctionName=name)
        return lambda: lam.get_function_url_config(FunctionName=name), {}
    if key.endswith("/list_function_notfound"):
        return lambda: lam.list_function_url_configs(FunctionName=missing), {}
    if key.endswith("/invoke_function_invalid_invoke_type"):
        return lambda: lam.create_function_url_config(
            FunctionName=fn, Qualifier="bare", AuthType="NONE", InvokeMode="UNKNOWN"
        ), {}
    if "test_ops_on_nonexisting_fn" in key:
        return lambda: lam.get_function_url_config(FunctionName=missing), {}
    if "test_get_function_wrong_region" in key:
        other = f"arn:aws:lambda:eu-west-1:000000000000:function:{fn}"
        return lambda: lam.get_function_url_config(FunctionName=other), {
            "<wrong-region>": "eu-west-1"
        }
    raise KeyError(key)


@pytest.mark.parametrize("key", url_rows())
def test_errors_as_aws_recorded(server: Server, fn: str, key: str) -> None:
    test, _, step = key.partition("/")
    code, status, message = aws_row(test, step)
    thunk, names = replay(server.client(), fn, key)
    for placeholder, value in names.items():
        message = message.replace(placeholder, value)
    expect_error(thunk, code, status, message)


def test_configs_survive_a_restart_and_follow_the_domain(tmp_path: Path) -> None:
    with run_server(tmp_path / "data") as srv:
        lam = srv.client()
        name = unique("url-keep")
        deploy(lam, name, {"app.py": CODE})
        url = lam.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"]
        allow_public(lam, name)
    with run_server(tmp_path / "data", port=srv.port) as srv:
        assert srv.client().get_function_url_config(FunctionName=name)["FunctionUrl"] == url
        status, _, body = call(url, "GET", "after")
        assert status == 200
        assert json.loads(body)["event"]["rawPath"] == "/after"
    # Served under a real wildcard domain: same url-id, the domain's name.
    with run_server(tmp_path / "data", "--domain", "ember.test", port=srv.port) as srv:
        moved = srv.client().get_function_url_config(FunctionName=name)["FunctionUrl"]
        url_id = urlsplit(url).netloc.split(".")[0]
        assert moved == f"http://{url_id}.lambda-url.us-east-1.ember.test:{srv.port}/"
        status, _, body = call(moved, "GET", "x")
        assert status == 200
        assert json.loads(body)["event"]["requestContext"]["domainName"] == urlsplit(moved).hostname


# -- serving ------------------------------------------------------------------------------


def test_curl_with_the_url_as_returned(public_url: str) -> None:
    status, body = curl(public_url + "some/path?a=1&a=2&b=x%20y", "-H", "Cookie: c1=1; c2=2")
    assert status == 200
    event = json.loads(body)["event"]
    assert event["version"] == "2.0"
    assert event["rawPath"] == "/some/path"
    assert event["rawQueryString"] == "a=1&a=2&b=x%20y"
    assert event["queryStringParameters"] == {"a": "1,2", "b": "x y"}
    assert event["cookies"] == ["c1=1", "c2=2"]
    assert "cookie" not in event["headers"]
    assert "body" not in event
    assert event["isBase64Encoded"] is False
    context = event["requestContext"]
    url_id = urlsplit(public_url).hostname.split(".")[0]  # type: ignore[union-attr]
    assert context["apiId"] == context["domainPrefix"] == url_id
    assert context["domainName"] == urlsplit(public_url).hostname
    assert context["accountId"] == "anonymous"  # AWS's value for NONE URLs
    assert context["http"]["method"] == "GET"
    assert context["http"]["path"] == "/some/path"
    assert context["http"]["sourceIp"] == "127.0.0.1"
    assert context["http"]["userAgent"].startswith("curl/")
    assert context["routeKey"] == context["stage"] == "$default"
    assert "authorizer" not in context


def test_host_header_client_text_and_binary_bodies(public_url: str) -> None:
    status, headers, body = call(
        public_url, "POST", "p", b"text", {"Content-Type": "text/plain", "X-Two": "a"}
    )
    assert status == 200
    assert headers["content-type"] == "application/json"
    assert "x-amzn-requestid" in headers
    event = json.loads(body)["event"]
    assert event["body"] == "text"
    assert event["isBase64Encoded"] is False
    assert event["headers"]["x-two"] == "a"
    assert event["requestContext"]["requestId"] == headers["x-amzn-requestid"]
    raw = bytes(range(256))
    status, _, body = call(
        public_url, "POST", "", raw, {"Content-Type": "application/octet-stream"}
    )
    event = json.loads(body)["event"]
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == raw


@pytest.mark.parametrize(
    ("returned", "status", "content_type", "body"),
    [
        # AWS's recorded answers (test_lambda_url_invocation): everything but a response
        # object is a 200 application/json body; a JSON string is its text.
        ({"hello": "world"}, 200, "application/json", None),
        ("hello", 200, "application/json", b"hello"),
        (3, 200, "application/json", b"3"),
        ([1, "a"], 200, "application/json", None),
        ({"statusCode": 200, "body": "body123"}, 200, "application/json", b"body123"),
        # As recorded by test_lambda_url_headers_and_status: a string status code works.
        ({"statusCode": "418", "body": "i'm a teapot"}, 418, "application/json", b"i'm a teapot"),
        (
            {"statusCode": 201, "headers": {"Content-Type": "text/html"}, "body": "<p>"},
            201,
            "text/html",
            b"<p>",
        ),
    ],
)
def test_answers_read_as_aws_reads_them(
    public_url: str, returned: Any, status: int, content_type: str, body: bytes | None
) -> None:
    got_status, headers, got_body = call(
        public_url, "POST", "return", json.dumps(returned).encode(),
        {"Content-Type": "application/json"},
    )  # fmt: skip
    assert got_status == status
    assert headers["content-type"] == content_type
    if body is None:
        assert json.loads(got_body) == returned
    else:
        assert got_body == body


def test_cookies_and_base64_answers(public_url: str) -> None:
    answer = {
        "statusCode": 200,
        "cookies": ["a=1; Max-Age=60", "b=2"],
        "headers": {"Content-Type": "image/png", "X-Custom": "v"},
        "body": base64.b64encode(b"\x89PNG\x00").decode(),
        "isBase64Encoded": True,
    }
    conn_status, headers, body = call(
        public_url, "POST", "return", json.dumps(answer).encode(),
        {"Content-Type": "application/json"},
    )  # fmt: skip
    assert conn_status == 200
    assert body == b"\x89PNG\x00"
    assert headers["x-custom"] == "v"
    assert headers["content-type"] == "image/png"


def test_function_error_is_502(public_url: str) -> None:
    status, _, body = call(public_url, "GET", "boom")
    assert (status, body) == (502, b"Internal Server Error")  # AWS's recorded answer


def test_an_answer_aws_cannot_map_is_502(public_url: str) -> None:
    answer = json.dumps({"statusCode": "teapot", "body": "x"}).encode()
    status, _, body = call(
        public_url, "POST", "return", answer, {"Content-Type": "application/json"}
    )
    assert (status, body) == (502, b"Internal Server Error")


def test_unknown_url_id_is_refused(server: Server) -> None:
    url = f"http://{'0' * 32}.lambda-url.us-east-1.localhost:{server.port}/"
    status, headers, body = call(url)
    # AWS's recorded answer (test_lambda_url_non_existing_url).
    assert (status, json.loads(body)) == (403, {"Message": None})
    assert headers["x-amzn-errortype"] == "AccessDeniedException"
    assert headers["content-type"] == "application/json"


def test_none_url_needs_the_public_permission(server: Server, fn: str) -> None:
    lam = server.client()
    url = lam.create_function_url_config(FunctionName=fn, Qualifier="live", AuthType="NONE")[
        "FunctionUrl"
    ]
    status, headers, body = call(url)
    assert (status, json.loads(body)) == (403, FORBIDDEN)  # recorded
    assert headers["x-amzn-errortype"] == "AccessDeniedException"
    # A permission on the function itself is not one on the alias.
    allow_public(lam, fn, "live")
    status, _, body = call(url, "GET", "x")
    assert status == 200
    assert json.loads(body)["event"]["rawPath"] == "/x"


def test_body_over_6_mb_is_413(public_url: str) -> None:
    status, _, _ = call(
        public_url, "POST", "", b"x" * (6 * 1024 * 1024 + 1), {"Content-Type": "text/plain"}
    )
    assert status == 413


def test_throttled_url_is_429(server: Server) -> None:
    lam = server.client()
    name = unique("url-throttle")
    deploy(lam, name, {"app.py": CODE})
    url = lam.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"]
    allow_public(lam, name)
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    status, headers, _ = call(url)
    assert status == 429  # AWS: "your function URL returns an HTTP 429 status code"
    assert headers["x-amzn-errortype"] == "TooManyRequestsException"
    lam.delete_function_concurrency(FunctionName=name)
    assert call(url)[0] == 200


# -- CORS ---------------------------------------------------------------------------------


def test_cors_preflight_and_headers(server: Server) -> None:
    lam = server.client()
    name = unique("url-cors")
    deploy(lam, name, {"app.py": CODE})
    url = lam.create_function_url_config(
        FunctionName=name,
        AuthType="NONE",
        Cors={
            "AllowOrigins": ["https://app.example"],
            "AllowMethods": ["GET", "POST"],
            "AllowHeaders": ["content-type", "x-custom"],
            "ExposeHeaders": ["x-out"],
            "MaxAge": 300,
        },
    )["FunctionUrl"]
    # A preflight as a browser sends it: answered without invoking and without the
    # public permission (the browser cannot sign it; nothing runs).
    status, headers, body = curl_preflight(url)
    assert status == 200
    assert body == b""
    assert headers["access-control-allow-origin"] == "https://app.example"
    assert headers["access-control-allow-methods"] == "GET,POST"
    assert headers["access-control-allow-headers"] == "content-type,x-custom"
    assert headers["access-control-max-age"] == "300"
    # Refusals carry the CORS headers too, so the browser's page can read them.
    status, headers, _ = call(url, "GET", "", None, {"Origin": "https://app.example"})
    assert status == 403
    assert headers["access-control-allow-origin"] == "https://app.example"
    allow_public(lam, name)
    status, headers, _ = call(url, "GET", "", None, {"Origin": "https://app.example"})
    assert status == 200
    assert headers["access-control-allow-origin"] == "https://app.example"
    assert headers["access-control-expose-headers"] == "x-out"
    status, headers, _ = call(url, "GET", "", None, {"Origin": "https://evil.example"})
    assert status == 200
    assert "access-control-allow-origin" not in headers


def curl_preflight(url: str) -> tuple[int, dict[str, str], bytes]:
    done = subprocess.run(
        [
            "curl", "-s", "-i", "-X", "OPTIONS", url,
            "-H", "Origin: https://app.example",
            "-H", "Access-Control-Request-Method: POST",
            "-H", "Access-Control-Request-Headers: content-type,x-custom",
        ],
        capture_output=True, timeout=60, check=True,
    )  # fmt: skip
    head, _, body = done.stdout.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return status, headers, body


# -- AWS_IAM ------------------------------------------------------------------------------


def signed_call(
    url: str, key: str, secret: str, service: str = "lambda", body: bytes = b""
) -> tuple[int, dict[str, str], bytes]:
    request = AWSRequest(method="POST", url=url + "signed?x=1", data=body)
    SigV4Auth(Credentials(key, secret), service, "us-east-1").add_auth(request)
    parts = urlsplit(url)
    headers = {"Host": parts.netloc, **dict(request.headers.items())}
    conn = http.client.HTTPConnection("127.0.0.1", parts.port, timeout=60)
    try:
        conn.request("POST", "/signed?x=1", body=body, headers=headers)
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def test_aws_iam_url_wants_a_sigv4_signature(server: Server) -> None:
    lam = server.client()
    name = unique("url-iam")
    deploy(lam, name, {"app.py": CODE})
    url = lam.create_function_url_config(FunctionName=name, AuthType="AWS_IAM")["FunctionUrl"]
    status, _, body = call(url, "POST", "signed?x=1", b"")
    assert (status, json.loads(body)) == (403, FORBIDDEN)
    key, secret = create_key(server.data_dir)
    status, _, body = signed_call(url, key, secret, body=b'{"a":1}')
    assert status == 200, body
    event = json.loads(body)["event"]
    iam = event["requestContext"]["authorizer"]["iam"]
    assert iam["accessKey"] == key
    assert iam["accountId"] == event["requestContext"]["accountId"] == "000000000000"
    assert iam["userArn"] == "arn:aws:iam::000000000000:root"
    assert event["isBase64Encoded"] is True  # no Content-Type: binary
    assert base64.b64decode(event["body"]) == b'{"a":1}'
    # A known key with the wrong secret, or signed for another service: refused.
    assert signed_call(url, key, "wrong" + secret)[0] == 403
    assert signed_call(url, key, secret, service="execute-api")[0] == 403


# -- RESPONSE_STREAM ----------------------------------------------------------------------

# A custom runtime that streams an HTTP integration response: the prelude, "first ", then
# (after waiting at the event's `gate` URL on the host) "second".
STREAM_RUNTIME = r"""
import http.client, json, os, urllib.request

HOST, PORT = os.environ["AWS_LAMBDA_RUNTIME_API"].rsplit(":", 1)
BASE = "/2018-06-01/runtime/invocation/"

while True:
    conn = http.client.HTTPConnection(HOST, int(PORT))
    conn.request("GET", BASE + "next")
    answer = conn.getresponse()
    event = json.loads(answer.read())
    request_id = answer.getheader("Lambda-Runtime-Aws-Request-Id")
    conn.close()
    gate = json.loads(event.get("body") or "{}").get("gate")
    conn = http.client.HTTPConnection(HOST, int(PORT))
    conn.putrequest("POST", BASE + request_id + "/response")
    conn.putheader("Lambda-Runtime-Function-Response-Mode", "streaming")
    conn.putheader("Transfer-Encoding", "chunked")
    conn.putheader("Content-Type", "application/vnd.awslambda.http-integration-response")
    conn.endheaders()

    def send(data):
        conn.send(b"%x\r\n%s\r\n" % (len(data), data))

    prelude = {"statusCode": 201, "headers": {"Content-Type": "text/plain", "X-S": "1"}}
    send(json.dumps(prelude).encode() + b"\0" * 8 + b"first ")
    if gate:
        urllib.request.urlopen(gate, timeout=60).read()
    send(b"second")
    conn.send(b"0\r\n\r\n")
    conn.getresponse().read()
    conn.close()
"""


@pytest.fixture
def gate(host_service_port: int) -> Iterator[tuple[str, threading.Event, threading.Event]]:
    """A GET on the host (the shared server's --host-access port) that answers only once
    the test opens it: (url, arrived, opened)."""
    arrived, opened = threading.Event(), threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            arrived.set()
            opened.wait(60)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"go")

        def log_message(self, *args: Any) -> None:
            pass

    with ThreadingHTTPServer(("127.0.0.1", host_service_port), Handler) as http_server:
        http_server.daemon_threads = True
        thread = threading.Thread(target=http_server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://{function_host()}:{host_service_port}/", arrived, opened
        finally:
            opened.set()
            http_server.shutdown()
            thread.join()


def test_response_stream_reaches_the_client_before_the_function_ends(
    server: Server, gate: tuple[str, threading.Event, threading.Event]
) -> None:
    gate_url, arrived, opened = gate
    lam = server.client()
    name = unique("url-stream")
    lam.create_function(
        FunctionName=name,
        Runtime="provided.al2023",
        Role=ROLE,
        Handler="unused",
        Code={
            "ZipFile": make_zip(
                {"runtime.py": STREAM_RUNTIME, "bootstrap": "#!/bin/sh\nexec python3 runtime.py\n"},
                modes={"bootstrap": 0o755},
            )
        },
    )
    wait_settled(lam, name)
    url = lam.create_function_url_config(
        FunctionName=name, AuthType="NONE", InvokeMode="RESPONSE_STREAM"
    )["FunctionUrl"]
    allow_public(lam, name)
    parts = urlsplit(url)
    conn = http.client.HTTPConnection("127.0.0.1", parts.port, timeout=60)
    try:
        body = json.dumps({"gate": gate_url}).encode()
        conn.request(
            "POST",
            "/",
            body=body,
            headers={"Host": parts.netloc, "Content-Type": "application/json"},
        )
        response = conn.getresponse()
        assert response.status == 201  # from the stream's prelude
        assert response.getheader("content-type") == "text/plain"
        assert response.getheader("x-s") == "1"
        assert response.getheader("transfer-encoding") == "chunked"
        assert response.read1(64) == b"first "
        # The function cannot have finished: it waits at the gate, still shut.
        assert not opened.is_set()
        assert arrived.wait(60)
        opened.set()
        assert response.read() == b"second"
    finally:
        conn.close()


def test_response_stream_of_a_function_that_does_not_stream(server: Server, fn: str) -> None:
    lam = server.client()
    name = unique("url-stream-py")
    deploy(lam, name, {"app.py": CODE})
    url = lam.create_function_url_config(
        FunctionName=name, AuthType="NONE", InvokeMode="RESPONSE_STREAM"
    )["FunctionUrl"]
    allow_public(lam, name)
    answer = {"statusCode": 200, "body": "x"}
    status, _, body = call(url, "POST", "return", json.dumps(answer).encode(),
                           {"Content-Type": "application/json"})  # fmt: skip
    # As AWS answers it (recorded by test_lambda_url_echo_invoke[RESPONSE_STREAM]): the
    # payload itself, unread.
    assert status == 200
    assert json.loads(body) == answer
