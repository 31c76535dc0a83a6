"""Response streaming end to end: a custom runtime (`provided.al2023`) streams its response
through the Runtime API, boto3's `invoke_with_response_stream` reads the event stream.

Whether the first chunk reaches the client before the function finishes is shown by the
function itself, not by a clock: after its first chunk it waits at a gate on the host that
the test opens only once it holds that chunk.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.harness import (
    ROLE,
    Server,
    create_function,
    function_host,
    make_zip,
    run_server,
)

# A custom runtime: each event says how to answer. `buffered`: one ordinary response;
# otherwise a stream "first " … "second", waiting at `gate` (a URL) in between, `big` MiB
# more in between, and error trailers when `fail` (the message) is set.
RUNTIME = r"""
import base64, http.client, json, os, urllib.request

HOST, PORT = os.environ["AWS_LAMBDA_RUNTIME_API"].rsplit(":", 1)
BASE = "/2018-06-01/runtime/invocation/"
HEADERS = {
    "Lambda-Runtime-Function-Response-Mode": "streaming",
    "Transfer-Encoding": "chunked",
    "Content-Type": "text/plain",
    "Trailer": "Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body",
}


def stream(request_id, event):
    conn = http.client.HTTPConnection(HOST, int(PORT))
    conn.putrequest("POST", BASE + request_id + "/response")
    for name, value in HEADERS.items():
        conn.putheader(name, value)
    conn.endheaders()

    def send(data):
        conn.send(b"%x\r\n%s\r\n" % (len(data), data))

    send(b"first ")
    if event.get("gate"):
        urllib.request.urlopen(event["gate"], timeout=60).read()
    for _ in range(event.get("big", 0)):
        send(b"x" * (1 << 20))
    send(b"second")
    trailers = b""
    if event.get("fail"):
        error = {"errorType": "Custom.Broken", "errorMessage": event["fail"]}
        trailers = (
            b"Lambda-Runtime-Function-Error-Type: Custom.Broken\r\n"
            b"Lambda-Runtime-Function-Error-Body: "
            + base64.b64encode(json.dumps(error).encode()) + b"\r\n"
        )
    conn.send(b"0\r\n" + trailers + b"\r\n")
    answer = conn.getresponse()
    answer.read()
    conn.close()
    print("stream answered", answer.status, flush=True)


while True:
    conn = http.client.HTTPConnection(HOST, int(PORT))
    conn.request("GET", BASE + "next")
    answer = conn.getresponse()
    event = json.loads(answer.read())
    request_id = answer.getheader("Lambda-Runtime-Aws-Request-Id")
    conn.close()
    if event.get("buffered"):
        conn = http.client.HTTPConnection(HOST, int(PORT))
        conn.request("POST", BASE + request_id + "/response", json.dumps({"whole": True}))
        conn.getresponse().read()
        conn.close()
    else:
        stream(request_id, event)
"""
BOOTSTRAP = "#!/bin/sh\nexec python3 runtime.py\n"
STREAMER = "streamer"
STREAMER_SHORT = "streamer-2s"  # the same, with a 2 s timeout
BUFFERED = "buffered-py"


@dataclass
class Gate:
    """A GET on the host that answers only once the test opens it."""

    url: str
    arrived: threading.Event = field(default_factory=threading.Event)
    opened: threading.Event = field(default_factory=threading.Event)


@dataclass
class Gates:
    """The host service behind every gate of this module; the last gate is the current."""

    port: int
    gates: list[Gate] = field(default_factory=list)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, gate_server: Gates) -> Iterator[Server]:
    root: Path = tmp_path_factory.mktemp("streaming")
    with run_server(root / "data", "--host-access", str(gate_server.port)) as srv:
        lam = srv.client()
        package = make_zip(
            {"runtime.py": RUNTIME, "bootstrap": BOOTSTRAP}, modes={"bootstrap": 0o755}
        )
        for name, timeout in ((STREAMER, 30), (STREAMER_SHORT, 2)):
            lam.create_function(
                FunctionName=name,
                Runtime="provided.al2023",
                Role=ROLE,
                Handler="unused",
                Timeout=timeout,
                Code={"ZipFile": package},
            )
            lam.get_waiter("function_active_v2").wait(FunctionName=name)
        create_function(
            lam,
            BUFFERED,
            "def handler(event, context):\n"
            "    print('buffered handler ran')\n"
            "    if event.get('fail'):\n"
            "        raise ValueError(event['fail'])\n"
            "    return {'whole': event}\n",
        )
        yield srv


@pytest.fixture(scope="module")
def gate_server() -> Iterator[Gates]:
    """Listens for the whole module, on a port bound before the server lets functions
    reach it (so it stays ours)."""
    holder: Gates | None = None

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            assert holder is not None
            gate = holder.gates[-1]
            gate.arrived.set()
            gate.opened.wait(60)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"go")

        def log_message(self, *args: Any) -> None:
            pass

    with ThreadingHTTPServer(("127.0.0.1", 0), Handler) as http:
        holder = Gates(http.server_address[1])
        http.daemon_threads = True
        thread = threading.Thread(target=http.serve_forever, name="gate", daemon=True)
        thread.start()
        try:
            yield holder
        finally:
            for gate in holder.gates:
                gate.opened.set()
            http.shutdown()
            thread.join()


@pytest.fixture
def gate(gate_server: Gates) -> Iterator[Gate]:
    """A fresh, shut gate for one test; opened when the test ends."""
    gate = Gate(f"http://{function_host()}:{gate_server.port}/")
    gate_server.gates.append(gate)
    try:
        yield gate
    finally:
        gate.opened.set()


@pytest.fixture(scope="module")
def lam(server: Server) -> Any:
    return server.client()


def _invoke(lam: Any, name: str, event: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    response: dict[str, Any] = lam.invoke_with_response_stream(
        FunctionName=name, Payload=json.dumps(event).encode(), **kwargs
    )
    return response


def test_the_first_chunk_arrives_before_the_function_finishes(lam: Any, gate: Gate) -> None:
    response = _invoke(lam, STREAMER, {"gate": gate.url})
    assert response["StatusCode"] == 200
    assert response["ExecutedVersion"] == "$LATEST"
    assert response["ResponseStreamContentType"] == "application/vnd.amazon.eventstream"
    events = iter(response["EventStream"])
    assert next(events) == {"PayloadChunk": {"Payload": b"first "}}
    # The function cannot have finished: it waits at the gate, which is still shut.
    assert not gate.opened.is_set()
    assert gate.arrived.wait(60)
    gate.opened.set()
    assert list(events) == [
        {"PayloadChunk": {"Payload": b"second"}},
        {"InvokeComplete": {}},
    ]


def _body_and_complete(response: dict[str, Any]) -> tuple[bytes, dict[str, Any]]:
    """The chunks joined (the server may send what arrived together as one), and the
    InvokeComplete event, which must come last."""
    *chunks, last = list(response["EventStream"])
    return b"".join(c["PayloadChunk"]["Payload"] for c in chunks), last["InvokeComplete"]


def test_error_trailers_end_the_stream_with_invoke_complete(lam: Any) -> None:
    body, complete = _body_and_complete(_invoke(lam, STREAMER, {"fail": "it broke mid-stream"}))
    assert body == b"first second"
    assert complete == {"ErrorCode": "Custom.Broken", "ErrorDetails": "it broke mid-stream"}


def test_a_timeout_mid_stream_ends_it_with_sandbox_timedout(lam: Any, gate: Gate) -> None:
    # The gate stays shut: the function waits there until its 2 s are up.
    body, complete = _body_and_complete(_invoke(lam, STREAMER_SHORT, {"gate": gate.url}))
    assert gate.arrived.is_set()
    assert body == b"first "
    assert complete["ErrorCode"] == "Sandbox.Timedout"
    assert "Task timed out after 2.00 seconds" in complete["ErrorDetails"]


def test_a_function_that_does_not_stream_comes_as_one_chunk(lam: Any) -> None:
    response = _invoke(lam, BUFFERED, {"n": 1}, LogType="Tail")
    events = list(response["EventStream"])
    assert [json.loads(e["PayloadChunk"]["Payload"]) for e in events[:-1]] == [{"whole": {"n": 1}}]
    complete = events[-1]["InvokeComplete"]
    assert "ErrorCode" not in complete
    assert "buffered handler ran" in base64.b64decode(complete["LogResult"]).decode()


def test_a_buffered_error_comes_as_its_document_and_error_code(lam: Any) -> None:
    response = _invoke(lam, BUFFERED, {"fail": "no luck"})
    chunk, complete = list(response["EventStream"])
    assert json.loads(chunk["PayloadChunk"]["Payload"])["errorMessage"] == "no luck"
    assert complete["InvokeComplete"]["ErrorCode"] == "ValueError"
    assert complete["InvokeComplete"]["ErrorDetails"] == "no luck"


def test_a_streaming_function_through_invoke_is_buffered(lam: Any) -> None:
    response = lam.invoke(FunctionName=STREAMER, Payload=b"{}")
    assert "FunctionError" not in response
    assert response["Payload"].read() == b"first second"


def test_a_stream_over_20_mib_fails_with_response_size_too_large(lam: Any) -> None:
    body, complete = _body_and_complete(_invoke(lam, STREAMER, {"big": 21}))
    assert len(body) <= 20 * 1024 * 1024
    assert complete["ErrorCode"] == "Function.ResponseSizeTooLarge"
    assert "20971520 bytes" in complete["ErrorDetails"]
    # The environment serves the next stream as usual.
    assert _body_and_complete(_invoke(lam, STREAMER, {})) == (b"first second", {})


def test_dry_run_and_qualifier(lam: Any) -> None:
    response = lam.invoke_with_response_stream(
        FunctionName=STREAMER, InvocationType="DryRun", Payload=b"{}"
    )
    assert response["StatusCode"] == 204
    response["EventStream"].close()  # nothing in it; its connection goes back
    response = _invoke(lam, STREAMER, {}, Qualifier="$LATEST")
    assert response["ExecutedVersion"] == "$LATEST"
    assert _body_and_complete(response) == (b"first second", {})


def test_unknown_function_is_resource_not_found(lam: Any) -> None:
    with pytest.raises(ClientError) as caught:
        _invoke(lam, "no-such-function", {})
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_a_throttle_is_answered_as_invoke_answers_it(lam: Any) -> None:
    lam.put_function_concurrency(FunctionName=BUFFERED, ReservedConcurrentExecutions=0)
    try:
        with pytest.raises(ClientError) as caught:
            _invoke(lam, BUFFERED, {})
        assert caught.value.response["Error"]["Code"] == "TooManyRequestsException"
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    finally:
        lam.delete_function_concurrency(FunctionName=BUFFERED)


def test_a_function_arn_names_the_function(lam: Any, server: Server) -> None:
    arn = lam.get_function(FunctionName=STREAMER)["Configuration"]["FunctionArn"]
    body, complete = _body_and_complete(_invoke(lam, arn, {}))
    assert (body, complete) == (b"first second", {})
