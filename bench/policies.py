"""Rows for resource-policy checks and the fair asynchronous claim, measured in process.

- `PolicyService.allows`'s evaluation (what every NONE function URL request and every
  HTTP API integration pays) over a 20-statement policy whose last statement matches.
- One dispatcher claim of 32 due events (round robin over functions, store.queue.Claim) on
  a 20,000-event backlog spread over 1, 100 and 1,000 functions, fsync included.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from ember.control.policies import Permission, build_statement, statements_allow
from ember.store.events import NewEvent
from ember.store.queue import Claim, Enqueue, EventQueue

Row = tuple[str, str, str]
FN = "arn:aws:lambda:us-east-1:000000000000:function:bench"
API = "arn:aws:execute-api:us-east-1:000000000000:abc123"


def _policy() -> tuple[dict[str, object], ...]:
    others = [
        build_statement(
            Permission(f"s{n}", "lambda:InvokeFunction", "s3.amazonaws.com",
                       source_arn=f"arn:aws:s3:::bucket-{n}"),
            FN,
        )
        for n in range(18)
    ]  # fmt: skip
    api = Permission("api", "lambda:InvokeFunction", "apigateway.amazonaws.com",
                     source_arn=f"{API}/*/GET/items/*")  # fmt: skip
    url = Permission("url", "lambda:InvokeFunctionUrl", "*", function_url_auth_type="NONE")
    return (*others, build_statement(api, FN), build_statement(url, FN))


def _allows_us(rounds: int) -> tuple[float, float]:
    statements = _policy()
    start = time.process_time()
    for _ in range(rounds):
        assert statements_allow(statements, "lambda:InvokeFunctionUrl", "*", url_auth_type="NONE")
    url = (time.process_time() - start) / rounds * 1e6
    source = f"{API}/prod/GET/items/42"
    start = time.process_time()
    for _ in range(rounds):
        assert statements_allow(
            statements, "lambda:InvokeFunction", "apigateway.amazonaws.com", source_arn=source
        )
    api = (time.process_time() - start) / rounds * 1e6
    return url, api


def _claim_ms(functions: int, events: int = 20_000, claims: int = 50) -> float:
    with tempfile.TemporaryDirectory(prefix="ember-bench-claim-") as folder:
        queue = EventQueue(Path(folder) / "queue.db")
        try:
            queue.apply([Enqueue([
                NewEvent(f"r{n}", f"fn{n % functions}", None, b"{}", float(n))
                for n in range(events)
            ])])  # fmt: skip
            after = None
            start = time.perf_counter()
            for _ in range(claims):
                ((claimed, _),) = queue.apply([Claim(now=1e12, limit=32, after=after)])
                after = claimed[-1].target
            return (time.perf_counter() - start) / claims * 1000
        finally:
            queue.close()


def policies_rows(rounds: int = 20_000) -> list[Row]:
    url, api = _allows_us(rounds)
    claims = {n: _claim_ms(n) for n in (1, 100, 1000)}
    return [
        ("resource policy check, NONE function URL, CPU", f"{url:.1f} µs",
         f"20 statements, the last one matching; API Gateway ArnLike on the same policy: "
         f"{api:.1f} µs; {rounds:,} each, in process"),
        ("async claim of 32, round robin over functions", f"{claims[1000]:.1f} ms",
         f"1,000 functions' backlogs (20,000 events), fsync'd; 100 functions: "
         f"{claims[100]:.1f} ms; 1 function: {claims[1]:.1f} ms"),
    ]  # fmt: skip


if __name__ == "__main__":  # pragma: no cover - python -m bench.policies
    for row in policies_rows():
        print(" | ".join(row))
