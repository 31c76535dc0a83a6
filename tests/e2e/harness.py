"""Run a real `ember serve` subprocess on a free port and talk to it as users do."""

from __future__ import annotations

import contextlib
import functools
import io
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from ember.sandbox import Isolation, probe
from ember.sandbox.network import HOST_NAME

ROLE = "arn:aws:iam::000000000000:role/lambda-role"
REPO = Path(__file__).resolve().parents[2]


@functools.cache
def function_host() -> str:
    """How a function reaches a test's service on the host's loopback: host.ember.internal
    where environments have their own network namespace (the server needs
    `--host-access PORT`), 127.0.0.1 where they share the host's network."""
    with tempfile.TemporaryDirectory() as state:
        host = probe(Isolation.AUTO, Path(state))
        host.close()
    return HOST_NAME if host.network else "127.0.0.1"


def create_key(data_dir: Path) -> tuple[str, str]:
    """`ember keys create` on a server's data dir (before or while it runs with `--auth
    sigv4`): the new key's (access key id, secret)."""
    done = subprocess.run(
        [sys.executable, "-m", "ember", "keys", "create", "--data-dir", str(data_dir)],
        capture_output=True, text=True, cwd=REPO, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = dict(line.split("=", 1) for line in done.stdout.split())
    return lines["AWS_ACCESS_KEY_ID"], lines["AWS_SECRET_ACCESS_KEY"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    data_dir: Path
    log_path: Path

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, service: str = "lambda", **config: Any) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=config.pop("access_key", "test"),
            aws_secret_access_key=config.pop("secret_key", "test"),
            aws_session_token=config.pop("session_token", None),
            config=Config(
                retries={"total_max_attempts": 1},
                read_timeout=config.pop("read_timeout", 120),
                connect_timeout=5,
                **config,
            ),
        )

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


def wait_ready(
    port: int, process: subprocess.Popen[bytes], log_path: Path, limit: float = 30
) -> None:
    deadline = time.monotonic() + limit
    url = f"http://127.0.0.1:{port}/2016-08-19/account-settings"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"ember serve exited early:\n{log_path.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except urllib.error.HTTPError:
            return  # it answers (403 when `--auth sigv4` wants a signature)
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"ember serve did not start in {limit}s:\n{log_path.read_text()}")


@contextlib.contextmanager
def run_server(
    data_dir: Path,
    *args: str,
    port: int | None = None,
    cwd: Path = REPO,
    nofile: int | None = None,
) -> Iterator[Server]:
    """`ember serve` on an unused port; SIGTERM and wait on exit. A relative `data_dir`
    is passed as given, relative to `cwd`, as a user would type it. `nofile`: the
    server's RLIMIT_NOFILE, soft and hard."""
    port = port or free_port()
    absolute = cwd / data_dir
    absolute.mkdir(parents=True, exist_ok=True)
    log_path = absolute.parent / f"server-{port}.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "ember", "serve", "--port", str(port),
             "--data-dir", str(data_dir), *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            preexec_fn=None if nofile is None else functools.partial(_limit_files, nofile),
        )  # fmt: skip
    try:
        wait_ready(port, process, log_path)
        yield Server(process, port, absolute, log_path)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _limit_files(count: int) -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (count, count))


def make_zip(files: Mapping[str, str | bytes], modes: Mapping[str, int] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = ((modes or {}).get(name, 0o644) | 0o100000) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content)
    return buffer.getvalue()


def create_function(
    client: Any,
    name: str,
    code: str | Mapping[str, str | bytes],
    *,
    handler: str = "app.handler",
    runtime: str = "python3.11",
    wait: bool = True,
    **kwargs: Any,
) -> dict[str, Any]:
    files = {"app.py": code} if isinstance(code, str) else code
    config: dict[str, Any] = client.create_function(
        FunctionName=name,
        Runtime=runtime,
        Role=ROLE,
        Handler=handler,
        Code={"ZipFile": make_zip(files)},
        **kwargs,
    )
    if wait:
        client.get_waiter("function_active_v2").wait(
            FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
        )
    return config


def wait_until(predicate: Any, limit: float = 10.0, interval: float = 0.05) -> Any:
    """Poll `predicate` until it returns something truthy, or fail after `limit` seconds."""
    deadline = time.monotonic() + limit
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {limit}s")
        time.sleep(interval)


def aws_cli(endpoint: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_PAGER": "",
    }
    aws = str(Path(sys.executable).parent / "aws")
    return subprocess.run(
        [aws, "--endpoint-url", endpoint, *args],
        capture_output=True,
        text=True,
        env=env,
        check=check,
        timeout=120,
    )


def raw_request(
    endpoint: str,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """One plain HTTP request (for what boto3 would refuse to send); always closed."""
    import http.client

    host, port = endpoint.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        conn.request(method, path, body=body, headers=dict(headers or {}))
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()
