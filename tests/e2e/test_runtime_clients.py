"""AWS's own runtime interface client runs unmodified under `provided.al2023`."""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import REPO, Server

APP = """
import os
def handler(event, context):
    print("hello from awslambdaric")
    return {
        "event": event,
        "function_name": context.function_name,
        "request_id": context.aws_request_id,
        "remaining": context.get_remaining_time_in_millis(),
        "runtime_api": os.environ["AWS_LAMBDA_RUNTIME_API"],
    }

def fail(event, context):
    raise KeyError("missing")
"""
WHEELS = REPO / ".venv" / "share" / "ember" / "test-wheels"
BOOTSTRAP = '#!/bin/sh\nexec python3 -m awslambdaric "$_HANDLER"\n'


@pytest.fixture(scope="module")
def ric_zip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """awslambdaric from PyPI vendored into the function, as a user would do it."""
    target = tmp_path_factory.mktemp("ric")
    install = [sys.executable, "-m", "pip", "install", "--quiet", "--target", str(target)]
    if WHEELS.is_dir():  # `make install` downloaded it: no network during the suite
        install += ["--no-index", "--find-links", str(WHEELS)]
    subprocess.run([*install, "awslambdaric"], check=True, timeout=300)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for root, _, files in os.walk(target):
            for name in files:
                path = Path(root) / name
                archive.write(path, path.relative_to(target).as_posix())
        info = zipfile.ZipInfo("bootstrap")
        info.external_attr = 0o100755 << 16
        archive.writestr(info, BOOTSTRAP)
        archive.writestr("app.py", APP)
    return buffer.getvalue()


def _create(lam: Any, name: str, code: bytes, handler: str) -> None:
    lam.create_function(
        FunctionName=name,
        Runtime="provided.al2023",
        Role="arn:aws:iam::000000000000:role/x",
        Handler=handler,
        Code={"ZipFile": code},
    )
    lam.get_waiter("function_active_v2").wait(FunctionName=name)


def test_awslambdaric_result(lam: Any, ric_zip: bytes) -> None:
    _create(lam, "ric-ok", ric_zip, "app.handler")
    for attempt in (1, 2):  # cold, then warm
        resp = lam.invoke(FunctionName="ric-ok", Payload=b'{"n": %d}' % attempt, LogType="Tail")
        doc = json.loads(resp["Payload"].read())
        assert "FunctionError" not in resp
        assert doc["event"] == {"n": attempt}
        assert doc["function_name"] == "ric-ok"
        assert 0 < doc["remaining"] <= 3000
        assert doc["runtime_api"].startswith("127.0.0.1:")
        assert "hello from awslambdaric" in base64.b64decode(resp["LogResult"]).decode()


def test_awslambdaric_error(lam: Any, ric_zip: bytes) -> None:
    _create(lam, "ric-fail", ric_zip, "app.fail")
    resp = lam.invoke(FunctionName="ric-fail", Payload=b"{}")
    doc = json.loads(resp["Payload"].read())
    assert resp["FunctionError"] == "Unhandled"
    assert doc["errorType"] == "KeyError"
    assert doc["errorMessage"] == "'missing'"


def test_provided_without_bootstrap_is_an_exit_error(lam: Any, server: Server) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", APP)
    _create(lam, "no-bootstrap", buffer.getvalue(), "app.handler")
    resp = lam.invoke(FunctionName="no-bootstrap", Payload=b"{}")
    doc = json.loads(resp["Payload"].read())
    assert resp["FunctionError"] == "Unhandled"
    assert doc["errorType"] == "Runtime.InvalidEntrypoint"
