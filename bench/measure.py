"""Small measuring helpers every benchmark module shares."""

from __future__ import annotations

import base64
import http.client
import json
import statistics
import subprocess
import sys
import time
import urllib.request


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def spread(values: list[float], unit: str, digits: int = 0) -> str:
    """`median [p25..p75]` of repeated samples, so a row shows its own noise."""
    return (
        f"{statistics.median(values):.{digits}f} {unit} "
        f"[{percentile(values, 0.25):.{digits}f}..{percentile(values, 0.75):.{digits}f}]"
    )


def invoke_once(endpoint: str, name: str) -> float:
    """ms for one synchronous invoke on a new connection (a cold start when the function
    has no idle environment)."""
    request = urllib.request.Request(
        f"{endpoint}/2015-03-31/functions/{name}/invocations", data=b"{}", method="POST"
    )
    start = time.perf_counter()
    with urllib.request.urlopen(request) as response:
        response.read()
        assert "X-Amz-Function-Error" not in response.headers
    return (time.perf_counter() - start) * 1000


def invoke_tail(
    endpoint: str, name: str, field: str, qualifier: str | None = None
) -> tuple[float, float | None]:
    """(ms of one synchronous invoke on a new connection, the REPORT line's `field` in ms,
    e.g. "Init Duration" or "Restore Duration", read from its LogType Tail; None when the
    REPORT has no such field)."""
    query = f"?Qualifier={qualifier}" if qualifier else ""
    request = urllib.request.Request(
        f"{endpoint}/2015-03-31/functions/{name}/invocations{query}",
        data=b"{}",
        method="POST",
        headers={"X-Amz-Log-Type": "Tail"},
    )
    start = time.perf_counter()
    with urllib.request.urlopen(request) as response:
        response.read()
        elapsed = (time.perf_counter() - start) * 1000
        if "X-Amz-Function-Error" in response.headers:
            raise RuntimeError(f"{name}{':' + qualifier if qualifier else ''} failed")
        tail = base64.b64decode(response.headers.get("X-Amz-Log-Result", "")).decode()
    reported = None
    for line in tail.splitlines():
        if line.startswith("REPORT") and f"{field}:" in line:
            reported = float(line.split(f"{field}:")[1].split("ms")[0])
    return elapsed, reported


def paced_invokes(port: int, name: str, count: int, gap: float) -> list[float]:
    """µs per invoke on ONE keep-alive connection, each `gap` seconds after the last
    answer: the invoke path after an idle gap, without connection set-up in the sample."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    path = f"/2015-03-31/functions/{name}/invocations"
    samples = []
    try:
        for i in range(count + 1):
            time.sleep(gap)
            start = time.perf_counter()
            connection.request("POST", path, body=b"{}")
            response = connection.getresponse()
            response.read()
            if response.status != 200 or response.getheader("X-Amz-Function-Error"):
                raise RuntimeError(f"invoke failed: {response.status}")
            if i:  # the first may be a cold start
                samples.append((time.perf_counter() - start) * 1e6)
    finally:
        connection.close()
    return samples


def loadgen(
    port: int, path: str, clients: int, seconds: float, invocation_type: str | None = None
) -> dict[str, float]:
    """bench.loadgen in its own process (its CPU is not the server's): rate, p50, p99."""
    out = subprocess.run(
        [sys.executable, "-m", "bench.loadgen", "127.0.0.1", str(port), path, str(clients),
         str(seconds), *([invocation_type] if invocation_type else [])],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    result: dict[str, float] = json.loads(out.stdout)
    return result
