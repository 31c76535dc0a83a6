"""Code a function no longer uses leaves the data dir: after UpdateFunctionCode once no
environment runs it any more, and all of it with the function; an environment busy on
the old code finishes its invocation first."""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import ROLE, free_port, function_host, make_zip, run_server, wait_until

pytestmark = pytest.mark.e2e

WAIT = 60.0  # seconds the gate holds an invocation at most


def _kept(data_dir: Path) -> tuple[set[str], set[str]]:
    """(digests with an unpacked folder, digests with a blob), temporary files aside."""

    def names(folder: Path) -> set[str]:
        if not folder.is_dir():
            return set()
        return {p.name for p in folder.iterdir() if not p.name.startswith(".")}

    return names(data_dir / "code"), names(data_dir / "blobs")


def _digest(zip_file: bytes) -> str:
    return hashlib.sha256(zip_file).hexdigest()


def _updated(lam: Any, name: str) -> None:
    lam.get_waiter("function_updated_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
    )


def _invoke(lam: Any, name: str, event: dict[str, Any] | None = None) -> Any:
    reply = lam.invoke(FunctionName=name, Payload=json.dumps(event or {}).encode())
    payload = json.loads(reply["Payload"].read())
    assert "FunctionError" not in reply, payload
    return payload


def test_old_code_goes_after_updates_and_all_of_it_with_the_function(tmp_path: Path) -> None:
    with run_server(tmp_path / "data", "--idle-timeout", "600") as server:
        lam = server.client()
        zips = [
            make_zip({"app.py": f"def handler(event, context):\n    return {n}\n"})
            for n in range(6)
        ]
        lam.create_function(
            FunctionName="upd", Runtime="python3.11", Role=ROLE, Handler="app.handler",
            Code={"ZipFile": zips[0]},
        )  # fmt: skip
        assert _invoke(lam, "upd") == 0
        for n in range(1, 6):
            lam.update_function_code(FunctionName="upd", ZipFile=zips[n])
            _updated(lam, "upd")
            assert _invoke(lam, "upd") == n
        current = {_digest(zips[5])}
        # The environments on older code shut down in the background: poll.
        try:
            wait_until(lambda: _kept(server.data_dir) == (current, current), 30)
        except AssertionError:
            raise AssertionError(f"kept {_kept(server.data_dir)}, want {current}") from None
        lam.delete_function(FunctionName="upd")
        try:
            wait_until(lambda: _kept(server.data_dir) == (set(), set()), 30)
        except AssertionError:
            raise AssertionError(f"kept {_kept(server.data_dir)} after delete") from None


@contextmanager
def _gate() -> Iterator[tuple[str, int, threading.Event, threading.Event]]:
    """An endpoint on the host's loopback that holds each GET until `release` is set:
    yields (its URL as functions reach it, its port, `arrived`, `release`)."""
    arrived, release = threading.Event(), threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            arrived.set()
            body = b"go" if release.wait(WAIT) else b"timed out"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    port = free_port()
    with ThreadingHTTPServer(("127.0.0.1", port), Handler) as gate:
        gate.daemon_threads = True
        thread = threading.Thread(target=gate.serve_forever, name="gate", daemon=True)
        thread.start()
        try:
            yield f"http://{function_host()}:{port}/", port, arrived, release
        finally:
            release.set()
            gate.shutdown()
            thread.join()


# Held at the gate mid-invocation; only then reads a module of its package from /var/task.
_GATED = """\
import os
import urllib.request


def handler(event, context):
    urllib.request.urlopen(os.environ["GATE"], timeout=120).read()
    import later

    return later.VALUE
"""


def test_an_environment_busy_on_old_code_finishes_on_it(tmp_path: Path) -> None:
    with _gate() as (url, port, arrived, release):
        data = tmp_path / "data"
        with run_server(data, "--idle-timeout", "600", "--host-access", str(port)) as server:
            lam = server.client()
            old = make_zip({"app.py": _GATED, "later.py": "VALUE = 'old'\n"})
            new = make_zip({"app.py": _GATED, "later.py": "VALUE = 'new'\n"})
            lam.create_function(
                FunctionName="busy", Runtime="python3.11", Role=ROLE, Handler="app.handler",
                Code={"ZipFile": old}, Timeout=120, Environment={"Variables": {"GATE": url}},
            )  # fmt: skip
            with concurrent.futures.ThreadPoolExecutor(1) as pool:
                running = pool.submit(_invoke, lam, "busy")
                try:
                    assert arrived.wait(WAIT), "the invocation never reached the gate"
                    lam.update_function_code(FunctionName="busy", ZipFile=new)
                    _updated(lam, "busy")
                    assert (data / "code" / _digest(old) / "later.py").is_file()  # in use
                finally:
                    release.set()
                assert running.result(timeout=WAIT) == "old"
            assert _invoke(lam, "busy") == "new"
            current = {_digest(new)}
            try:
                wait_until(lambda: _kept(server.data_dir) == (current, current), 30)
            except AssertionError:
                raise AssertionError(f"kept {_kept(server.data_dir)}, want {current}") from None
