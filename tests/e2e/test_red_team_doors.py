"""Red team, the new front doors: SQS, SNS, EventBridge, Kinesis, CloudWatch, Prometheus and
the console share Ember's one port with Lambda's API (ember/doors.py), and the SigV4 guard
(api/auth.py) judges each request before a door serves it. Every attack here is one request
that the guard judged as one thing while a door served it as another, or that came from a
place the door trusts by mistake. Driven for real against `ember serve --auth sigv4`, with
an environment's own temporary credentials (what a function's code holds) or unsigned, and
against the default open server on loopback as a web page in its user's browser would.
Pure-logic holes found alongside have unit tests: wildcard patterns
(tests/unit/test_wildcard_glob.py), authorizer policies
(tests/unit/gateway/test_policy_wildcards.py), the guard's readings
(tests/unit/api/test_guard_readings.py).
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.e2e.harness import (
    Server,
    create_function,
    create_key,
    make_zip,
    raw_request,
    run_server,
)

pytestmark = pytest.mark.e2e

CREDENTIALS = """
import os

def handler(event, context):
    return {k: os.environ[k] for k in
            ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")}
"""


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str, str]]:
    data = tmp_path_factory.mktemp("red-team-doors") / "data"
    key, secret = create_key(data)
    with run_server(data, "--auth", "sigv4", "--idle-timeout", "120") as srv:
        yield srv, key, secret


@pytest.fixture(scope="module")
def operator(signed: tuple[Server, str, str]) -> Any:
    srv, key, secret = signed
    return lambda service: srv.client(service, access_key=key, secret_key=secret)


@pytest.fixture(scope="module")
def role(signed: tuple[Server, str, str], operator: Any) -> Credentials:
    """A function's temporary credentials, as its code reads them from its environment."""
    lam = operator("lambda")
    name = f"holder-{uuid.uuid4().hex[:6]}"
    create_function(lam, name, CREDENTIALS)
    found = json.loads(lam.invoke(FunctionName=name)["Payload"].read())
    return Credentials(
        found["AWS_ACCESS_KEY_ID"], found["AWS_SECRET_ACCESS_KEY"], found["AWS_SESSION_TOKEN"]
    )


def _send(
    srv: Server,
    credentials: Credentials,
    path: str,
    body: bytes,
    headers: dict[str, str],
    service: str,
) -> tuple[int, bytes]:
    """One POST signed with `credentials` exactly as given (botocore would not send these)."""
    request = AWSRequest("POST", srv.endpoint + path, data=body, headers=headers)
    SigV4Auth(credentials, service, "us-east-1").add_auth(request)
    status, _, answer = raw_request(srv.endpoint, "POST", path, body, dict(request.headers))
    return status, answer


# -- an execution role's scope, judged on one reading and served on another ----------------


@pytest.mark.parametrize(
    ("target", "service", "params"),
    [
        ("AmazonSQS.CreateQueue", "sqs", {"QueueName": "smuggled-queue"}),
        ("AWSEvents.PutRule", "events", {"Name": "smuggled-rule",
                                         "ScheduleExpression": "rate(1 minute)"}),
        ("Kinesis_20131202.CreateStream", "kinesis", {"StreamName": "smuggled-stream",
                                                       "ShardCount": 1}),
    ],
    ids=["sqs-create-queue", "events-put-rule", "kinesis-create-stream"],
)  # fmt: skip
def test_target_on_an_invoke_path_is_judged_as_its_target(
    signed: tuple[Server, str, str],
    operator: Any,
    role: Credentials,
    target: str,
    service: str,
    params: dict[str, Any],
) -> None:
    """The guard judged an X-Amz-Target request by its path unless the path was "/", while
    the dispatcher routes every X-Amz-Target to its service whatever the path: a function
    POSTing `AmazonSQS.CreateQueue` to `/2015-03-31/functions/x/invocations` passed as an
    Invoke and created a queue. It must be refused and create nothing."""
    srv, _, _ = signed
    headers = {"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.0"}
    path = "/2015-03-31/functions/anything/invocations"
    status, answer = _send(srv, role, path, json.dumps(params).encode(), headers, service)
    assert status in (400, 403), answer  # JSON protocols answer AccessDenied with a 400
    assert b"AccessDeniedException" in answer
    if service == "sqs":
        assert not operator("sqs").list_queues(QueueNamePrefix="smuggled").get("QueueUrls")
    elif service == "events":
        assert not operator("events").list_rules(NamePrefix="smuggled")["Rules"]
    else:
        assert "smuggled-stream" not in operator("kinesis").list_streams()["StreamNames"]


def test_sns_form_with_two_actions_is_refused(
    signed: tuple[Server, str, str], operator: Any, role: Credentials
) -> None:
    """`Action=Publish&Action=CreateTopic`: the guard read the first Action (Publish, which a
    role may call) while the SNS door acted on the last (CreateTopic, which it may not)."""
    srv, _, _ = signed
    body = b"Action=Publish&Action=CreateTopic&Name=smuggled-topic&Version=2010-03-31"
    headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    status, answer = _send(srv, role, "/", body, headers, "sns")
    assert status == 403, answer
    topics = operator("sns").list_topics()["Topics"]
    assert not [t for t in topics if t["TopicArn"].endswith(":smuggled-topic")]


def test_role_publishes_with_one_action(
    signed: tuple[Server, str, str], operator: Any, role: Credentials
) -> None:
    """The control: a role's plain Publish still passes the guard (the topic is unknown, so
    the SNS door answers NotFound, not the guard AccessDenied)."""
    srv, _, _ = signed
    body = (
        b"Action=Publish&TopicArn=arn%3Aaws%3Asns%3Aus-east-1%3A000000000000%3Anone"
        b"&Message=hi&Version=2010-03-31"
    )
    headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    status, answer = _send(srv, role, "/", body, headers, "sns")
    assert b"AuthorizationError" not in answer, answer
    assert b"AccessDenied" not in answer, answer
    assert status == 404, answer


# -- unsigned on loopback: only for clients that name the host as loopback -----------------


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/console/"), ("GET", "/console/api/functions"), ("GET", "/metrics")],
)
def test_rebound_hostname_does_not_reach_loopback_pages(
    signed: tuple[Server, str, str], method: str, path: str
) -> None:
    """DNS rebinding: a web page at http://attacker.example:PORT/ whose name later resolves
    to 127.0.0.1 reads Ember's console (function configurations, environment variables,
    logs) and metrics as same-origin: the request comes from loopback, unsigned, with
    `Host: attacker.example:PORT`. Loopback pages must answer only to loopback names."""
    srv, _, _ = signed
    host = f"attacker.example:{srv.port}"
    status, _, answer = raw_request(srv.endpoint, method, path, headers={"Host": host})
    assert status == 403, answer[:300]
    status, _, answer = raw_request(
        srv.endpoint, method, path, headers={"Host": f"localhost:{srv.port}"}
    )
    assert status == 200, answer[:300]


def test_rebound_hostname_cannot_post_to_the_console(signed: tuple[Server, str, str]) -> None:
    """The console's same-origin check compares Origin with Host, which a rebound page
    controls both of: a POST from it must still be refused."""
    srv, _, _ = signed
    origin = f"attacker.example:{srv.port}"
    status, _, answer = raw_request(
        srv.endpoint, "POST", "/console/functions/anything/invoke", b"payload=%7B%7D",
        {"Host": origin, "Origin": f"http://{origin}",
         "Content-Type": "application/x-www-form-urlencoded"},
    )  # fmt: skip
    assert status == 403, answer[:300]


# -- the default, open server on loopback, and the web pages its user visits ---------------


@pytest.fixture(scope="module")
def open_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`ember serve` as a developer starts it: `--auth none` (the default) on 127.0.0.1."""
    with run_server(tmp_path_factory.mktemp("red-team-open") / "data") as srv:
        yield srv


def _create_function_body(name: str) -> bytes:
    code = make_zip({"app.py": "def handler(event, context):\n    return 'planted'\n"})
    return json.dumps({
        "FunctionName": name, "Runtime": "python3.11", "Handler": "app.handler",
        "Role": "arn:aws:iam::000000000000:role/lambda-role",
        "Code": {"ZipFile": base64.b64encode(code).decode()},
    }).encode()  # fmt: skip


def test_a_web_page_cannot_create_functions_across_sites(open_server: Server) -> None:
    """Any page a developer visits could `fetch("http://127.0.0.1:9001/2015-03-31/functions",
    {method: "POST", mode: "no-cors", body: JSON})`: text/plain is a CORS simple request (no
    preflight), the page cannot read the answer but the function was created, and Invoke
    and SNS's form protocol (form-encoded: simple too) the same way. The browser names the
    page's site in Origin: such a request must be refused."""
    srv = open_server
    own = f"127.0.0.1:{srv.port}"
    page = {"Host": own, "Origin": "http://attacker.example", "Content-Type": "text/plain"}
    status, _, answer = raw_request(
        srv.endpoint, "POST", "/2015-03-31/functions", _create_function_body("planted"), page
    )
    assert status == 403, answer[:300]
    form = {**page, "Content-Type": "application/x-www-form-urlencoded"}
    status, _, answer = raw_request(srv.endpoint, "POST", "/", b"Action=CreateTopic&Name=p", form)
    assert status == 403, answer[:300]
    assert b"<ErrorResponse" in answer  # refused in SNS's own words
    lam = srv.client()
    assert [f["FunctionName"] for f in lam.list_functions()["Functions"]] == []
    assert srv.client("sns").list_topics()["Topics"] == []
    # The control: the same request from the server's own origin (the console) passes.
    same = {**page, "Origin": f"http://{own}"}
    status, _, answer = raw_request(
        srv.endpoint, "POST", "/2015-03-31/functions", _create_function_body("own"), same
    )
    assert status == 201, answer[:300]
    lam.delete_function(FunctionName="own")


def test_a_rebound_name_does_not_reach_the_open_api(open_server: Server) -> None:
    """DNS rebinding: http://attacker.example:PORT/ re-resolved to 127.0.0.1 makes the page
    same-origin with an open Ember (no Origin check helps: Origin and Host agree), and it
    reads and drives the whole API. An open server on loopback answers to loopback names
    and its --domain only."""
    srv = open_server
    rebound = {"Host": f"attacker.example:{srv.port}"}
    status, _, answer = raw_request(srv.endpoint, "GET", "/2015-03-31/functions", None, rebound)
    assert status == 421, answer[:300]  # Misdirected Request, as the console answers it
    status, _, answer = raw_request(srv.endpoint, "GET", "/console/", None, rebound)
    assert status == 421, answer[:300]
    for host in (f"localhost:{srv.port}", f"127.0.0.1:{srv.port}", f"[::1]:{srv.port}"):
        status, _, answer = raw_request(
            srv.endpoint, "GET", "/2015-03-31/functions", None, {"Host": host}
        )
        assert status == 200, (host, answer[:300])


LOOKER = """
import os, urllib.error, urllib.request
import boto3
from botocore.exceptions import ClientError

def handler(event, context):
    base = os.environ["AWS_ENDPOINT_URL"]
    seen = {}
    for path in ("/metrics", "/console/", "/console/api/functions", "/_ember/cost"):
        for host in ("", "localhost", "127.0.0.1"):
            request = urllib.request.Request(base + path, headers={"Host": host} if host else {})
            try:
                with urllib.request.urlopen(request, timeout=30) as answer:
                    seen[f"{path} {host}"] = answer.status
            except urllib.error.HTTPError as exc:
                seen[f"{path} {host}"] = exc.code
    try:
        boto3.client("cloudwatch").list_metrics()
        seen["cloudwatch"] = "allowed"
    except ClientError as exc:
        seen["cloudwatch"] = exc.response["Error"]["Code"]
    return seen
"""


def test_functions_reach_no_loopback_page_nor_cloudwatch(operator: Any) -> None:
    """A function, through its own door and whatever Host it names, gets neither the pages
    served unsigned to loopback (metrics, console) nor CloudWatch's metrics API."""
    lam = operator("lambda")
    name = f"looker-{uuid.uuid4().hex[:6]}"
    create_function(lam, name, LOOKER, Timeout=60)
    seen = json.loads(lam.invoke(FunctionName=name)["Payload"].read())
    assert seen.pop("cloudwatch") != "allowed"
    assert seen, "nothing tried"
    assert {key: code for key, code in seen.items() if code != 403} == {}
