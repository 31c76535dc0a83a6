"""Traces (TracingConfig, X-Amzn-Trace-Id kept or started, REPORT's XRAY part, spans over
OTLP to a collector the test runs) and the Telemetry API (an extension that subscribes and
forwards every batch it gets to a listener on the host)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.e2e.apicalls import unique
from tests.e2e.harness import (
    Server,
    create_function,
    free_port,
    function_host,
    make_zip,
    run_server,
    wait_until,
)

pytestmark = pytest.mark.e2e

TRACE_HANDLER = """
import os
def handler(event, context):
    return {"trace": os.environ.get("_X_AMZN_TRACE_ID")}
"""

# An extension that subscribes to the Telemetry API and forwards each batch to the host;
# as AWS's samples do, it finishes an invocation once it saw its platform.runtimeDone.
FORWARDER = """#!/usr/bin/env python3
import json, os, sys, threading, urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer
API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"]
SINK = os.environ["TELEMETRY_SINK"]
DONE = set()
CHANGED = threading.Condition()

class Receive(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        urllib.request.urlopen(urllib.request.Request(SINK, data=body, method="POST"))
        self.send_response(200)
        self.end_headers()
        with CHANGED:
            DONE.update(e["record"]["requestId"] for e in json.loads(body)
                        if e["type"] == "platform.runtimeDone")
            CHANGED.notify_all()
    def log_message(self, *args):
        pass

listener = HTTPServer(("sandbox.localdomain", 4243), Receive)
threading.Thread(target=listener.serve_forever, daemon=True).start()
register = urllib.request.Request(
    API + "/2020-01-01/extension/register", data=b'{"events": ["INVOKE", "SHUTDOWN"]}',
    method="POST", headers={"Lambda-Extension-Name": os.path.basename(sys.argv[0])},
)
with urllib.request.urlopen(register) as answer:
    ident = answer.headers["Lambda-Extension-Identifier"]
subscription = {
    "schemaVersion": "2022-12-13",
    "types": ["platform", "function"],
    "buffering": {"maxItems": 1000, "maxBytes": 262144, "timeoutMs": 25},
    "destination": {"protocol": "HTTP", "URI": "http://sandbox.localdomain:4243"},
}
subscribe = urllib.request.Request(
    API + "/2022-07-01/telemetry", data=json.dumps(subscription).encode(), method="PUT",
    headers={"Lambda-Extension-Identifier": ident, "Content-Type": "application/json"},
)
urllib.request.urlopen(subscribe).read()
bad = dict(subscription, buffering={"maxItems": 1})
try:
    urllib.request.urlopen(urllib.request.Request(
        API + "/2022-07-01/telemetry", data=json.dumps(bad).encode(), method="PUT",
        headers={"Lambda-Extension-Identifier": ident}))
except urllib.error.HTTPError as error:
    print("TELEMETRY refused", error.code, json.loads(error.read())["errorType"], flush=True)
while True:
    poll = urllib.request.Request(
        API + "/2020-01-01/extension/event/next", headers={"Lambda-Extension-Identifier": ident}
    )
    with urllib.request.urlopen(poll) as answer:
        event = json.loads(answer.read())
    if event["eventType"] == "SHUTDOWN":
        sys.exit(0)
    with CHANGED:
        CHANGED.wait_for(lambda: event["requestId"] in DONE, timeout=5)
"""

LOGGING_HANDLER = """
def handler(event, context):
    print("hello from", context.aws_request_id)
    return "ok"
"""


class _Receiver:
    """An HTTP receiver on the host's loopback: each POST's body, decoded by
    `decode(path, body)`, adds to `items`."""

    def __init__(
        self, decode: Callable[[str, bytes], list[dict[str, Any]]], content_type: str | None
    ) -> None:
        self.items: list[dict[str, Any]] = []
        self.port = free_port()
        items = self.items

        class Receive(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                items.extend(decode(self.path, body))
                self.send_response(200)
                if content_type:
                    self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", self.port), Receive)
        threading.Thread(target=self.http.serve_forever, daemon=True).start()


@contextmanager
def _receiving(
    decode: Callable[[str, bytes], list[dict[str, Any]]], content_type: str | None = None
) -> Iterator[_Receiver]:
    found = _Receiver(decode, content_type)
    try:
        yield found
    finally:
        found.http.shutdown()
        found.http.server_close()


def _spans(path: str, body: bytes) -> list[dict[str, Any]]:
    """An OTLP/HTTP ExportTraceServiceRequest protobuf as span dicts."""
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    return [
        {
            "path": path,
            "name": span.name,
            "trace_id": span.trace_id.hex(),
            "span_id": span.span_id.hex(),
            "parent": span.parent_span_id.hex(),
            "start": span.start_time_unix_nano,
            "end": span.end_time_unix_nano,
            "attributes": {
                a.key: a.value.string_value or a.value.bool_value for a in span.attributes
            },
        }
        for resource in request.resource_spans
        for scope in resource.scope_spans
        for span in scope.spans
    ]


@pytest.fixture(scope="module")
def collector() -> Iterator[_Receiver]:
    """The OTLP collector: `items` are the spans it got."""
    with _receiving(_spans, "application/x-protobuf") as found:
        yield found


@pytest.fixture(scope="module")
def sink() -> Iterator[_Receiver]:
    """The host's listener the extension forwards Telemetry API batches to: `items` are
    the events."""
    with _receiving(lambda path, body: list(json.loads(body))) as found:
        yield found


@pytest.fixture(scope="module")
def srv(
    tmp_path_factory: pytest.TempPathFactory, collector: _Receiver, sink: _Receiver
) -> Iterator[Server]:
    with run_server(
        tmp_path_factory.mktemp("traces") / "data",
        "--otlp-endpoint", f"http://127.0.0.1:{collector.port}",
        "--host-access", str(sink.port),
    ) as server:  # fmt: skip
        yield server


@pytest.fixture(scope="module")
def lam(srv: Server) -> Any:
    return srv.client()


def _invoke(lam: Any, name: str, trace: str | None = None) -> tuple[str, Any]:
    def add_header(request: Any, **_: Any) -> None:
        request.headers["X-Amzn-Trace-Id"] = trace

    if trace is not None:
        lam.meta.events.register_first("before-sign.lambda.Invoke", add_header)
    try:
        response = lam.invoke(FunctionName=name, Payload=b"{}")
    finally:
        if trace is not None:
            lam.meta.events.unregister("before-sign.lambda.Invoke", add_header)
    request_id = response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
    return request_id, json.loads(response["Payload"].read())


def _fields(header: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in header.split(";"))


def _report(srv: Server, name: str, request_id: str) -> str:
    logs = srv.client("logs")

    def find() -> str | None:
        events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
        for event in events:
            if event["message"].startswith(f"REPORT RequestId: {request_id}"):
                return str(event["message"])
        return None

    found: str = wait_until(find)
    return found


def test_active_tracing_samples_reports_and_exports_spans(
    srv: Server, lam: Any, collector: _Receiver
) -> None:
    name = unique("active")
    create_function(lam, name, TRACE_HANDLER, TracingConfig={"Mode": "Active"})
    request_id, doc = _invoke(lam, name)
    header = _fields(doc["trace"])
    assert header["Sampled"] == "1"
    root, segment = header["Root"], header["Parent"]
    assert root.startswith("1-")
    assert (len(root), len(segment)) == (35, 16)

    report = _report(srv, name, request_id)
    assert f"\nXRAY TraceId: {root}\tSegmentId: {segment}\tSampled: true" in report

    trace_id = root[2:].replace("-", "")
    spans = wait_until(
        lambda: [s for s in collector.items if s["trace_id"] == trace_id] or None, limit=15
    )
    wait_until(lambda: len([s for s in collector.items if s["trace_id"] == trace_id]) >= 3)
    spans = [s for s in collector.items if s["trace_id"] == trace_id]
    request = next(s for s in spans if s["name"] == name)
    assert request["path"] == "/v1/traces"
    assert request["span_id"] == segment  # the function's segment, as REPORT names it
    assert request["attributes"]["faas.invocation_id"] == request_id
    assert request["attributes"]["faas.coldstart"] is True
    children = {s["name"]: s for s in spans if s["parent"] == request["span_id"]}
    assert {"Init", "Invoke"} <= set(children)
    assert children["Init"]["end"] <= children["Invoke"]["start"]
    assert request["start"] <= children["Init"]["start"]
    assert children["Invoke"]["end"] <= request["end"]


def test_an_incoming_trace_header_is_kept(srv: Server, lam: Any, collector: _Receiver) -> None:
    name = unique("passthrough")
    create_function(lam, name, TRACE_HANDLER)  # PassThrough
    incoming = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    request_id, doc = _invoke(lam, name, incoming)
    assert doc["trace"] == incoming
    report = _report(srv, name, request_id)
    assert "XRAY" not in report  # only Active functions report their segment
    # Sampled by the caller: its spans go to the collector under the caller's span.
    spans = wait_until(
        lambda: [s for s in collector.items if s["attributes"].get("faas.name") == name] or None,
        limit=15,
    )
    assert spans[0]["trace_id"] == "5759e988bd862e3fe1be46a994272793"
    assert spans[0]["parent"] == "53995c3f42cd8ad8"

    # Without a header, PassThrough starts an unsampled trace: nothing is exported.
    request_id, doc = _invoke(lam, name)
    fields = _fields(doc["trace"])
    assert fields["Sampled"] == "0"
    assert fields["Root"][11:] == request_id.replace("-", "")[:24]

    # Active keeps the caller's Root, makes its own segment, honours Sampled=0.
    active = unique("activein")
    create_function(lam, active, TRACE_HANDLER, TracingConfig={"Mode": "Active"})
    _, doc = _invoke(lam, active, incoming.replace("Sampled=1", "Sampled=0"))
    fields = _fields(doc["trace"])
    assert fields["Root"] == "1-5759e988-bd862e3fe1be46a994272793"
    assert fields["Parent"] != "53995c3f42cd8ad8"
    assert fields["Sampled"] == "0"


def test_an_extension_receives_telemetry_batches(srv: Server, lam: Any, sink: _Receiver) -> None:
    content = make_zip({"extensions/forwarder": FORWARDER}, modes={"extensions/forwarder": 0o755})
    layer = lam.publish_layer_version(LayerName=unique("tel"), Content={"ZipFile": content})
    name = unique("telemetry")
    sink_url = f"http://{function_host()}:{sink.port}/"
    create_function(
        lam, name, LOGGING_HANDLER, Layers=[layer["LayerVersionArn"]],
        Environment={"Variables": {"TELEMETRY_SINK": sink_url}},
    )  # fmt: skip
    first, _ = _invoke(lam, name)
    second, _ = _invoke(lam, name)

    def of(request_id: str, kind: str) -> list[dict[str, Any]]:
        return [
            e for e in sink.items
            if e["type"] == kind and isinstance(e["record"], dict)
            and e["record"].get("requestId") == request_id
        ]  # fmt: skip

    wait_until(lambda: of(first, "platform.report") and of(second, "platform.report"))
    kinds = [e["type"] for e in sink.items]
    assert "platform.telemetrySubscription" in kinds
    assert "platform.initRuntimeDone" in kinds
    assert "platform.initReport" in kinds
    extension = next(e for e in sink.items if e["type"] == "platform.extension")
    assert extension["record"] == {
        "name": "forwarder", "state": "Ready", "events": ["INVOKE", "SHUTDOWN"]
    }  # fmt: skip
    start = of(first, "platform.start")[0]
    assert start["record"]["version"] == "$LATEST"
    assert of(first, "platform.runtimeDone")[0]["record"]["status"] == "success"
    report = of(first, "platform.report")[0]["record"]
    assert report["status"] == "success"
    assert {"durationMs", "billedDurationMs", "memorySizeMB", "maxMemoryUsedMB"} <= set(
        report["metrics"]
    )
    assert all(e["time"].endswith("Z") for e in sink.items)
    lines = [e["record"] for e in sink.items if e["type"] == "function"]
    assert f"hello from {first}" in lines

    assert f"hello from {second}" in lines

    # The refused subscription (maxItems below 25) was a 400 ValidationError.
    messages = srv.client("logs").filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
    assert "TELEMETRY refused 400 ValidationError\n" in [m["message"] for m in messages]
