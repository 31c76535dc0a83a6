"""Small measuring helpers every benchmark module shares."""

from __future__ import annotations

import time
import urllib.request


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


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
