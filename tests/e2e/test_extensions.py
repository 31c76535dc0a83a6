"""Extensions API 2020-01-01 and internal extensions: external extensions from a layer's
extensions/ folder, their events, their logs, their failures, and AWS_LAMBDA_EXEC_WRAPPER."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.apicalls import unique
from tests.e2e.harness import Server, create_function, make_zip, run_server, wait_until

pytestmark = pytest.mark.e2e

# An external extension: registers under its file name, prints every event it gets.
RECORDER = """#!/usr/bin/env python3
import json, os, sys, time, urllib.request
API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2020-01-01/extension"
EVENTS = json.loads(os.environ.get("EXT_EVENTS", '["INVOKE", "SHUTDOWN"]'))
request = urllib.request.Request(
    API + "/register", data=json.dumps({"events": EVENTS}).encode(), method="POST",
    headers={"Lambda-Extension-Name": os.path.basename(sys.argv[0])},
)
with urllib.request.urlopen(request) as answer:
    ident = answer.headers["Lambda-Extension-Identifier"]
    print("EXT registered", json.loads(answer.read())["functionName"], flush=True)
while True:
    poll = urllib.request.Request(
        API + "/event/next", headers={"Lambda-Extension-Identifier": ident}
    )
    with urllib.request.urlopen(poll) as answer:
        event = json.loads(answer.read())
    print("EXT", event["eventType"], event.get("requestId") or event["shutdownReason"], flush=True)
    if event["eventType"] == "SHUTDOWN":
        sys.exit(0)
    delay = float(os.environ.get("EXT_DELAY", "0"))
    if delay:
        time.sleep(delay)  # work after the invocation (what the next one must wait for)
        print("EXT done", event["requestId"], flush=True)
"""

# Calls /extension/init/error once registered.
FAILING = """#!/usr/bin/env python3
import json, os, urllib.request
API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2020-01-01/extension"
request = urllib.request.Request(API + "/register", data=b'{"events": ["INVOKE"]}',
                                 method="POST", headers={"Lambda-Extension-Name": "failing"})
with urllib.request.urlopen(request) as answer:
    ident = answer.headers["Lambda-Extension-Identifier"]
urllib.request.urlopen(urllib.request.Request(
    API + "/init/error", data=b"{}", method="POST",
    headers={"Lambda-Extension-Identifier": ident,
             "Lambda-Extension-Function-Error-Type": "Extension.ConfigInvalid"}))
"""

CRASHING = "#!/bin/sh\necho 'EXT about to crash'\nexit 3\n"

HANDLER = """
import os
def handler(event, context):
    print("in handler", context.aws_request_id)
    return {"stream": context.log_stream_name, "wrapped": os.environ.get("WRAPPED")}
"""


def _extension_layer(lam: Any, files: dict[str, str]) -> str:
    content = make_zip(files, modes={name: 0o755 for name in files})
    published = lam.publish_layer_version(LayerName=unique("ext"), Content={"ZipFile": content})
    arn: str = published["LayerVersionArn"]
    return arn


def _invoke(lam: Any, name: str) -> tuple[dict[str, Any], Any]:
    resp = lam.invoke(FunctionName=name, Payload=b"{}")
    return resp, json.loads(resp["Payload"].read())


def _messages(server: Server, name: str, stream: str) -> list[str]:
    logs = server.client("logs")
    events = logs.get_log_events(logGroupName=f"/aws/lambda/{name}", logStreamName=stream)
    return [e["message"].rstrip("\n") for e in events["events"]]


def test_an_extension_gets_invoke_and_shutdown_in_order_and_logs_to_the_stream(
    lam: Any, server: Server
) -> None:
    layer = _extension_layer(lam, {"extensions/recorder": RECORDER})
    name = unique("withext")
    create_function(lam, name, HANDLER, Layers=[layer])
    first, doc = _invoke(lam, name)
    second, _ = _invoke(lam, name)
    ids = [r["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"] for r in (first, second)]
    # A configuration change retires the environment: its Shutdown phase runs.
    lam.update_function_configuration(FunctionName=name, Description="retire it")
    wait_until(lambda: "EXT SHUTDOWN spindown" in _messages(server, name, doc["stream"]), limit=15)
    lines = [m for m in _messages(server, name, doc["stream"]) if m.startswith("EXT ")]
    assert lines == [
        f"EXT registered {name}",
        f"EXT INVOKE {ids[0]}",
        f"EXT INVOKE {ids[1]}",
        "EXT SHUTDOWN spindown",
    ]
    messages = _messages(server, name, doc["stream"])
    # Extension Init, then Runtime Init: registered before the first invocation started.
    assert messages.index(f"EXT registered {name}") < messages.index(
        f"START RequestId: {ids[0]} Version: $LATEST"
    )
    assert "EXTENSION\tName: recorder\tState: Ready\tEvents: [INVOKE, SHUTDOWN]" in messages


def test_the_response_does_not_wait_for_extensions_but_the_next_invocation_does(
    lam: Any, server: Server
) -> None:
    layer = _extension_layer(lam, {"extensions/slow": RECORDER})
    name = unique("slowext")
    create_function(
        lam, name, HANDLER, Layers=[layer], Timeout=10,  # the extension's work counts too
        Environment={"Variables": {"EXT_DELAY": "2", "EXT_EVENTS": '["INVOKE"]'}},
    )  # fmt: skip
    first, doc = _invoke(lam, name)  # cold: Init, then the first invocation
    stream = doc["stream"]
    ids = [first["ResponseMetadata"]["RequestId"]]
    wait_until(lambda: f"EXT done {ids[0]}" in _messages(server, name, stream), 20)
    second, _ = _invoke(lam, name)
    ids.append(second["ResponseMetadata"]["RequestId"])
    # The runtime's response went out while the extension still worked on the invocation
    # (2 s of it): its "done" line is not in the log yet.
    assert f"EXT done {ids[1]}" not in _messages(server, name, stream)
    third, _ = _invoke(lam, name)
    ids.append(third["ResponseMetadata"]["RequestId"])
    messages = _messages(server, name, stream)
    # The third started only once the extension had finished the second.
    assert messages.index(f"EXT done {ids[1]}") < messages.index(
        f"START RequestId: {ids[2]} Version: $LATEST"
    )


def test_an_extension_init_error_fails_init(lam: Any) -> None:
    layer = _extension_layer(lam, {"extensions/failing": FAILING})
    name = unique("failext")
    create_function(lam, name, HANDLER, Layers=[layer])
    resp, doc = _invoke(lam, name)
    assert resp["FunctionError"] == "Unhandled"
    assert doc["errorType"] == "Extension.InitError"


PATIENT_INIT = 3600  # seconds; the client below gives up long before (read timeout 120 s)


@pytest.fixture(scope="module")
def patient(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server whose Init budget outlasts any client's patience: an answer from it about
    a failed Init was not produced by the Init timeout."""
    root = tmp_path_factory.mktemp("patient")
    with run_server(root / "data", "--init-timeout", str(PATIENT_INIT)) as srv:
        yield srv


def test_an_extension_that_exits_during_init_is_a_crash(patient: Server) -> None:
    lam = patient.client()
    layer = _extension_layer(lam, {"extensions/crashing": CRASHING})
    name = unique("crashext")
    create_function(lam, name, HANDLER, Layers=[layer])
    # Reported as soon as the extension exits: had Ember waited for the Init timeout
    # instead, this call would end in a ReadTimeoutError, never in this answer.
    resp, doc = _invoke(lam, name)
    assert resp["FunctionError"] == "Unhandled"
    assert doc["errorType"] == "Extension.Crash"
    assert doc["errorMessage"].endswith("Error: exit status 3")


WRAPPER = '#!/bin/sh\necho "wrapper got: $@"\nexport WRAPPED=yes\nexec "$@"\n'


def test_exec_wrapper_runs_with_the_runtimes_command_line(lam: Any, server: Server) -> None:
    name = unique("wrapped")
    lam.create_function(
        FunctionName=name, Runtime="python3.11", Role="arn:aws:iam::000000000000:role/x",
        Handler="app.handler",
        Code={"ZipFile": make_zip({"app.py": HANDLER, "wrap.sh": WRAPPER}, {"wrap.sh": 0o755})},
        Environment={"Variables": {"AWS_LAMBDA_EXEC_WRAPPER": "/var/task/wrap.sh"}},
    )  # fmt: skip
    lam.get_waiter("function_active_v2").wait(FunctionName=name)
    resp, doc = _invoke(lam, name)
    assert "FunctionError" not in resp, doc
    assert doc["wrapped"] == "yes"
    wrapper_lines = [m for m in _messages(server, name, doc["stream"]) if "wrapper got" in m]
    assert len(wrapper_lines) == 1
    assert wrapper_lines[0].endswith("-S /var/runtime/bootstrap.py")


INTERNAL = """
import json, os, threading, urllib.error, urllib.request
API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2020-01-01/extension"
SEEN = []

def _register(name, events):
    body = json.dumps({"events": events}).encode()
    request = urllib.request.Request(API + "/register", data=body, method="POST",
                                     headers={"Lambda-Extension-Name": name})
    try:
        with urllib.request.urlopen(request) as answer:
            return answer.headers["Lambda-Extension-Identifier"], None
    except urllib.error.HTTPError as exc:
        return None, (exc.code, json.loads(exc.read()))

REFUSED = _register("internal-shutdown", ["SHUTDOWN"])[1]
IDENT, _ = _register("internal", ["INVOKE"])

def _loop():
    while True:
        headers = {"Lambda-Extension-Identifier": IDENT}
        poll = urllib.request.Request(API + "/event/next", headers=headers)
        with urllib.request.urlopen(poll) as answer:
            SEEN.append(json.loads(answer.read())["requestId"])

threading.Thread(target=_loop, daemon=True).start()

def handler(event, context):
    return {"seen": list(SEEN), "refused": REFUSED, "me": context.aws_request_id}
"""


def test_internal_extensions_register_from_the_runtime_and_get_invoke(lam: Any) -> None:
    name = unique("internal")
    create_function(lam, name, INTERNAL)
    _, first = _invoke(lam, name)
    _, second = _invoke(lam, name)
    assert first["refused"] == [
        403,
        {
            "errorMessage": "SHUTDOWN: ShutdownEventNotSupportedForInternalExtension",
            "errorType": "Extension.InvalidEventType",
        },
    ]
    # The INVOKE event reaches the extension as the invocation starts.
    assert first["me"] in second["seen"]
