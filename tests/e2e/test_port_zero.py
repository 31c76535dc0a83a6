"""`ember serve --port 0`: the system picks the port, and Ember names the one it got, on its
start-up line and to its functions (AWS_ENDPOINT_URL, through the environments' relay)."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import REPO, Server, create_function

pytestmark = pytest.mark.e2e

LISTENING = re.compile(r"ember: listening on http://127\.0\.0\.1:(\d+) ")

CALLEE = "def handler(event, context):\n    return {'echo': event}\n"
CALLER = """
import json, os
import boto3

def handler(event, context):
    result = boto3.client("lambda").invoke(FunctionName=event["target"], Payload=b'{"a": 1}')
    return {"endpoint": os.environ["AWS_ENDPOINT_URL"],
            "invoked": json.loads(result["Payload"].read())}
"""


def _started_port(process: subprocess.Popen[bytes], log_path: Path) -> int:
    """The port on the start-up line, polled for until it appears (or the server dies)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = LISTENING.search(log_path.read_text(errors="replace"))
        if found:
            return int(found[1])
        assert process.poll() is None, f"ember serve exited:\n{log_path.read_text()}"
        time.sleep(0.05)
    raise AssertionError(f"no start-up line:\n{log_path.read_text()}")


@pytest.fixture(scope="module")
def picked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("port0")
    log_path = root / "server.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "ember", "serve", "--port", "0",
             "--data-dir", str(root / "data"), "--idle-timeout", "60"],
            stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
        )  # fmt: skip
    try:
        yield Server(process, _started_port(process, log_path), root / "data", log_path)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_the_start_up_line_names_the_port_it_got(picked: Server) -> None:
    assert picked.port != 0
    assert "listening on http://127.0.0.1:0 " not in picked.output()
    assert picked.client().list_functions()["Functions"] == []


def test_a_function_reaches_ember_on_the_port_it_got(picked: Server) -> None:
    lam = picked.client()
    create_function(lam, "callee", CALLEE)
    create_function(lam, "caller", CALLER, Timeout=60)
    result = lam.invoke(FunctionName="caller", Payload=json.dumps({"target": "callee"}))
    body = json.loads(result["Payload"].read())
    assert "FunctionError" not in result, body
    assert body["invoked"] == {"echo": {"a": 1}}
    assert body["endpoint"].endswith(f":{picked.port}")
