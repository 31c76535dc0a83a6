"""Response streaming: time to first byte of InvokeWithResponseStream for a custom runtime
that streams a first chunk, sleeps 1 s, then streams a second (target < 50 ms), warm.

TTFB is from sending the request to reading the first event-stream bytes (the first
PayloadChunk); the whole answer takes the second as well, so it shows the sleep.

    .venv/bin/python -m bench.streaming       # on its own server, prints its rows
"""

from __future__ import annotations

import http.client
import io
import statistics
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

from bench.server import ROLE, BenchServer, serve

Row = tuple[str, str, str]
NAME = "bench-stream"
PATH = f"/2021-11-15/functions/{NAME}/response-streaming-invocations"
ROUNDS = 5

RUNTIME = r"""
import http.client, os, time
HOST, PORT = os.environ["AWS_LAMBDA_RUNTIME_API"].rsplit(":", 1)
BASE = "/2018-06-01/runtime/invocation/"
while True:
    conn = http.client.HTTPConnection(HOST, int(PORT))
    conn.request("GET", BASE + "next")
    answer = conn.getresponse()
    answer.read()
    request_id = answer.getheader("Lambda-Runtime-Aws-Request-Id")
    conn.close()
    conn = http.client.HTTPConnection(HOST, int(PORT))
    conn.putrequest("POST", BASE + request_id + "/response")
    conn.putheader("Lambda-Runtime-Function-Response-Mode", "streaming")
    conn.putheader("Transfer-Encoding", "chunked")
    conn.endheaders()
    conn.send(b"6\r\nfirst \r\n")
    time.sleep(1)
    conn.send(b"6\r\nsecond\r\n0\r\n\r\n")
    conn.getresponse().read()
    conn.close()
"""


def _package() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("runtime.py", RUNTIME)
        bootstrap = zipfile.ZipInfo("bootstrap")
        bootstrap.external_attr = 0o100755 << 16
        archive.writestr(bootstrap, "#!/bin/sh\nexec python3 runtime.py\n")
    return buffer.getvalue()


def _deploy(lam: Any) -> None:
    lam.create_function(
        FunctionName=NAME, Runtime="provided.al2023", Role=ROLE, Handler="unused",
        Timeout=10, Code={"ZipFile": _package()},
    )  # fmt: skip
    lam.get_waiter("function_active_v2").wait(
        FunctionName=NAME, WaiterConfig={"Delay": 0.05, "MaxAttempts": 600}
    )


def _once(port: int) -> tuple[float, float]:
    """(ms to the first body bytes, ms to the end of the answer) of one invocation."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        start = time.perf_counter()
        conn.request("POST", PATH, body=b"{}", headers={"Content-Type": "application/json"})
        answer = conn.getresponse()
        if answer.status != 200:
            raise RuntimeError(f"InvokeWithResponseStream answered {answer.status}")
        first = answer.read1(65536)
        ttfb = time.perf_counter() - start
        rest = answer.read()
        total = time.perf_counter() - start
        if not first or b"second" not in first + rest:
            raise RuntimeError("the stream did not carry both chunks")
        return ttfb * 1000, total * 1000
    finally:
        conn.close()


def streaming_rows(server: BenchServer) -> list[Row]:
    _deploy(server.client())
    _once(server.port)  # cold start: not measured
    samples = [_once(server.port) for _ in range(ROUNDS)]
    ttfb = statistics.median(s[0] for s in samples)
    total = statistics.median(s[1] for s in samples)
    return [
        ("streaming time to first byte, warm (InvokeWithResponseStream)", f"{ttfb:.1f} ms",
         f"target < 50 ms; the function sleeps 1 s after its first chunk: whole answer "
         f"{total:.0f} ms; median of {ROUNDS}, custom runtime (provided.al2023)"),
    ]  # fmt: skip


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, serve(Path(tmp) / "data") as server:
        for name, figure, floor in streaming_rows(server):
            print(f"{name}: {figure}  ({floor})")


if __name__ == "__main__":
    main()
