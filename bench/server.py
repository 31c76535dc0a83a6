"""The bench's own `ember serve`: a subprocess on a free port, a boto3 client, a deploy.

Kept apart from the test package on purpose: `make bench` must run from the project
alone, and what it measures must not change when a test helper does.
"""

from __future__ import annotations

import contextlib
import io
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from bench.measure import invoke_once

ROLE = "arn:aws:iam::000000000000:role/bench"
RUNTIME = f"python{sys.version_info.major}.{sys.version_info.minor}"


@dataclass
class BenchServer:
    process: subprocess.Popen[bytes]
    port: int

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, service: str = "lambda", **config: Any) -> Any:
        """A boto3 client of `service` on this server (no retries: a bench counts every
        call); `config`: more botocore Config options (max_pool_connections=…)."""
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
            config=Config(retries={"total_max_attempts": 1}, read_timeout=300, **config),
        )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def serve(data_dir: Path, *args: str) -> Iterator[BenchServer]:
    """`ember serve` until the block ends (SIGTERM, then wait)."""
    port = _free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    log = open(data_dir.parent / f"server-{port}.log", "ab")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [sys.executable, "-m", "ember", "serve", "--port", str(port),
         "--data-dir", str(data_dir), *args],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}/2016-08-19/account-settings"
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"ember serve did not start (see {log.name})")
            with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1):
                break
            time.sleep(0.05)
        yield BenchServer(process, port)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.close()


def zipped(source: str) -> bytes:
    """A deployment package holding `source` as app.py."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", source)
    return buffer.getvalue()


def deploy(lam: Any, name: str, source: str, **config: Any) -> None:
    """Create `name` (handler app.handler) and wait until it is Active."""
    lam.create_function(
        FunctionName=name, Runtime=config.pop("runtime", RUNTIME), Role=ROLE,
        Handler="app.handler", Code={"ZipFile": zipped(source)}, **config,
    )  # fmt: skip
    lam.get_waiter("function_active_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.05, "MaxAttempts": 600}
    )


def new_revision(lam: Any, name: str, i: int) -> None:
    """A configuration change: the next invoke needs a new environment (a cold start)."""
    lam.update_function_configuration(
        FunctionName=name, Environment={"Variables": {"ROUND": str(i)}}
    )
    lam.get_waiter("function_updated_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.05, "MaxAttempts": 600}
    )


def cold_starts(server: BenchServer, name: str, rounds: int) -> list[float]:
    """ms of the first invoke after each of `rounds` configuration changes (each a new
    revision, so each a new environment's Init)."""
    lam = server.client()
    samples = []
    for i in range(rounds):
        new_revision(lam, name, i)
        samples.append(invoke_once(server.endpoint, name))
    return samples
