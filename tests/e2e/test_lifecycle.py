"""The environment lifecycle: Init, warm reuse, errors, timeouts, crashes, Shutdown."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.barrier import running_barrier
from tests.e2e.harness import (
    Server,
    create_function,
    function_host,
    make_zip,
    run_server,
    wait_until,
)


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _invoke(lam: Any, name: str, payload: Any = None) -> tuple[dict[str, Any], Any]:
    resp = lam.invoke(FunctionName=name, Payload=json.dumps(payload or {}).encode())
    return resp, json.loads(resp["Payload"].read() or b"null")


def _alive(stream: str) -> bool:
    """Whether any process of the environment with this log stream still runs. Inside a
    sandbox every runtime is pid 2 of its own PID namespace, so environments are told
    apart by their log stream, which their processes carry in their environment."""
    marker = f"AWS_LAMBDA_LOG_STREAM_NAME={stream}".encode() + b"\0"
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker in (entry / "environ").read_bytes():  # a zombie's is empty
                return True
        except OSError:
            continue
    return False


WARM = """
import os
COUNT = 0
def handler(event, context):
    global COUNT
    COUNT += 1
    path = "/tmp/ember-lifecycle-" + context.log_stream_name.replace("/", "_")
    with open(path, "a") as f:
        f.write("x")
    with open(path) as f:
        files = len(f.read())
    return {"count": COUNT, "files": files, "stream": context.log_stream_name}
"""


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server with short idle, init and shutdown budgets."""
    root = tmp_path_factory.mktemp("quick")
    with run_server(
        root / "data",
        "--idle-timeout", "1", "--init-timeout", "2", "--shutdown-grace", "0.5",
    ) as srv:  # fmt: skip
        yield srv


def test_cold_then_warm_keeps_globals_and_tmp(lam: Any) -> None:
    name = _name("warm")
    create_function(lam, name, WARM)
    _, first = _invoke(lam, name)
    _, second = _invoke(lam, name)
    assert (first["count"], first["files"]) == (1, 1)
    assert (second["count"], second["files"]) == (2, 2)
    assert first["stream"] == second["stream"]


def test_concurrent_invokes_get_their_own_environments(lam: Any, host_service_port: int) -> None:
    name = _name("conc")
    create_function(
        lam,
        name,
        "import urllib.request\n"
        "def handler(e, c):\n"
        "    urllib.request.urlopen(e['barrier'], timeout=90).read()\n"
        "    return c.log_stream_name\n",
    )
    # Each invocation returns only once all four run at the same moment.
    with running_barrier(host_service_port, 4) as url, ThreadPoolExecutor(4) as pool:
        streams = list(pool.map(lambda _: _invoke(lam, name, {"barrier": url})[1], range(4)))
    assert len(set(streams)) == 4


def test_update_replaces_warm_environments(lam: Any) -> None:
    name = _name("upd")
    create_function(lam, name, WARM)
    _, before = _invoke(lam, name)
    lam.update_function_configuration(FunctionName=name, Description="changed")
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    _, after = _invoke(lam, name)
    assert after["count"] == 1
    assert after["stream"] != before["stream"]
    wait_until(lambda: not _alive(before["stream"]))


@pytest.mark.parametrize(
    ("files", "handler", "error_type", "message"),
    [
        ({"app.py": "x = 1\n"}, "nope.handler", "Runtime.ImportModuleError",
         "Unable to import module 'nope': No module named 'nope'"),
        ({"app.py": "x = 1\n"}, "app.handler", "Runtime.HandlerNotFound",
         "Handler 'handler' missing on module 'app'"),
        ({"app.py": "def handler(:\n"}, "app.handler", "Runtime.UserCodeSyntaxError", None),
        ({"app.py": "x = 1\n"}, "apphandler", "Runtime.MalformedHandlerName", None),
        ({"app.py": "raise RuntimeError('startup fails')\n"}, "app.handler", "RuntimeError",
         "startup fails"),
    ],
)  # fmt: skip
def test_init_errors_are_reported_as_lambda_does(
    lam: Any, files: dict[str, str], handler: str, error_type: str, message: str | None
) -> None:
    name = _name("initerr")
    create_function(lam, name, files, handler=handler)
    resp, doc = _invoke(lam, name)
    assert resp["FunctionError"] == "Unhandled"
    assert doc["errorType"] == error_type
    if message is not None:
        assert doc["errorMessage"] == message
    assert doc["requestId"] == ""


def test_init_is_retried_on_the_next_invoke(lam: Any, host_service_port: int) -> None:
    # Each environment's files are its own (a fresh /tmp), so the test counts the Init
    # attempts: its little HTTP server answers the attempt's number.
    attempts: list[int] = []

    class Counter(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            attempts.append(1)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(str(len(attempts)).encode())

        def log_message(self, *args: Any) -> None:
            pass

    with ThreadingHTTPServer(("127.0.0.1", host_service_port), Counter) as counter:
        threading.Thread(target=counter.serve_forever, daemon=True).start()
        url = f"http://{function_host()}:{host_service_port}/"
        code = (
            "import urllib.request\n"
            f"N = urllib.request.urlopen({url!r}).read()\n"
            "if N == b'1':\n"
            "    raise RuntimeError('first init fails')\n"
            "def handler(e, c):\n    return 'recovered'\n"
        )
        name = _name("retry")
        create_function(lam, name, code)
        resp, doc = _invoke(lam, name)
        assert resp["FunctionError"] == "Unhandled"
        assert doc["errorMessage"] == "first init fails"
        resp, doc = _invoke(lam, name)
        counter.shutdown()
    assert "FunctionError" not in resp
    assert doc == "recovered"
    assert len(attempts) == 2


def test_init_error_then_fixed_code(lam: Any) -> None:
    name = _name("fix")
    create_function(lam, name, "import missing_dependency\n")
    _, doc = _invoke(lam, name)
    assert doc["errorType"] == "Runtime.ImportModuleError"
    lam.update_function_code(
        FunctionName=name, ZipFile=make_zip({"app.py": "def handler(e, c):\n    return 'ok'\n"})
    )
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    assert _invoke(lam, name)[1] == "ok"


def test_timeout_destroys_the_environment(lam: Any) -> None:
    name = _name("slow")
    code = (
        "import os, time\n"
        "def handler(e, c):\n"
        "    if e.get('sleep'):\n        time.sleep(3600)\n"
        "    return c.log_stream_name\n"
    )
    create_function(lam, name, code, Timeout=1)
    _, env = _invoke(lam, name)
    # The handler never returns by itself within the client's read timeout: an answer at
    # all means Ember ended the invocation at its timeout.
    resp, doc = _invoke(lam, name, {"sleep": True})
    assert resp["FunctionError"] == "Unhandled"
    assert doc["errorType"] == "Sandbox.Timedout"
    assert doc["errorMessage"].endswith("Task timed out after 1.00 seconds")
    wait_until(lambda: not _alive(env))
    _, new_env = _invoke(lam, name)
    assert new_env != env


def test_crash_answers_exit_error_and_is_replaced(lam: Any) -> None:
    name = _name("crash")
    code = (
        "import os\n"
        "def handler(e, c):\n"
        "    if e.get('crash'):\n        os._exit(3)\n"
        "    return c.log_stream_name\n"
    )
    create_function(lam, name, code)
    _, env = _invoke(lam, name)
    resp, doc = _invoke(lam, name, {"crash": True})
    assert resp["FunctionError"] == "Unhandled"
    assert doc["errorType"] == "Runtime.ExitError"
    assert doc["errorMessage"].endswith("Error: Runtime exited with error: exit status 3")
    _, new_env = _invoke(lam, name)
    assert new_env != env


def test_init_timeout(quick: Server) -> None:
    lam = quick.client()
    name = _name("slowinit")
    create_function(lam, name, "import time\ntime.sleep(3600)\ndef handler(e, c):\n    return 1\n")
    # Init never ends by itself within the client's read timeout: an answer at all means
    # Ember ended it at the Init timeout.
    resp, doc = _invoke(lam, name)
    assert resp["FunctionError"] == "Unhandled"
    assert doc["errorType"] == "Sandbox.Timedout"


def test_idle_environments_are_shut_down(quick: Server) -> None:
    lam = quick.client()
    name = _name("idle")
    create_function(lam, name, "def handler(e, c):\n    return c.log_stream_name\n")
    _, env = _invoke(lam, name)
    assert _alive(env)
    wait_until(lambda: not _alive(env), limit=15)
    _, new_env = _invoke(lam, name)
    assert new_env != env


def test_shutdown_kills_a_runtime_that_ignores_sigterm(quick: Server) -> None:
    lam = quick.client()
    name = _name("stubborn")
    code = (
        "import os, signal\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "def handler(e, c):\n    return c.log_stream_name\n"
    )
    create_function(lam, name, code)
    _, env = _invoke(lam, name)
    wait_until(lambda: not _alive(env), limit=15)
