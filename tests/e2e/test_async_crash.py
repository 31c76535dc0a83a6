"""Nothing accepted is lost: 10,000 asynchronous events across five functions, the server
killed with SIGKILL while it works through them, restarted on the same data directory;
then every accepted event must have run to success, or reached its failure destination or
dead-letter function. Duplicates are allowed (at-least-once) and reported.

The functions run sandboxed, as users' do, and report what they process over loopback TCP
to a collector in the test (see recorder.py), which outlives both servers.
"""

from __future__ import annotations

import http.client
import json
import signal
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import Server, run_server, wait_until
from tests.e2e.recorder import Collector, create_recorder, running_collector

pytestmark = pytest.mark.e2e

EVENTS = 10_000
SENDERS = 16
OK = ("crash-ok-a", "crash-ok-b", "crash-ok-c")
POISON = "crash-poison"  # fails; MaximumRetryAttempts 0; OnFailure -> FAIL_SINK
POISON_DLQ = "crash-poison-dlq"  # fails; MaximumRetryAttempts 1; DeadLetterConfig -> DLQ_SINK
FAIL_SINK = "crash-fail-sink"
DLQ_SINK = "crash-dlq-sink"
TARGETS = (*OK, POISON, POISON_DLQ)
SLEEP_MS = 10  # each invocation's work: intake outpaces the first server's 4 slots


def event_for(n: int) -> tuple[str, bytes]:
    target = TARGETS[n % len(TARGETS)]
    event: dict[str, Any] = {"id": n}
    if target in (POISON, POISON_DLQ):
        event["fail"] = True
    return target, json.dumps(event).encode()


def send_share(port: int, numbers: range) -> list[int]:
    """Send events `numbers` over one keep-alive connection; the ids answered 202."""
    accepted = []
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        for n in numbers:
            target, body = event_for(n)
            conn.request(
                "POST",
                f"/2015-03-31/functions/{target}/invocations",
                body,
                {"X-Amz-Invocation-Type": "Event", "Content-Type": "application/json"},
            )
            response = conn.getresponse()
            response.read()
            if response.status == 202:
                accepted.append(n)
    finally:
        conn.close()
    return accepted


def processed(collector: Collector) -> int:
    return collector.count(*OK, FAIL_SINK, DLQ_SINK)


def completed(collector: Collector) -> Counter[int]:
    """Event id -> how many times it reached its end (ran OK, or was delivered)."""
    ends: Counter[int] = Counter()
    for name in OK:
        ends.update(r["event"]["id"] for r in collector.records(name))
    ends.update(r["event"]["requestPayload"]["id"] for r in collector.records(FAIL_SINK))
    ends.update(r["event"]["id"] for r in collector.records(DLQ_SINK))
    return ends


def setup_functions(srv: Server, collector: Collector) -> None:
    lam = srv.client()
    for name in OK:
        create_recorder(lam, name, collector, sleep_ms=SLEEP_MS)
    fail_sink = create_recorder(lam, FAIL_SINK, collector, sink=True)
    dlq_sink = create_recorder(lam, DLQ_SINK, collector, sink=True)
    create_recorder(lam, POISON, collector, sleep_ms=SLEEP_MS)
    lam.put_function_event_invoke_config(
        FunctionName=POISON,
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": fail_sink}},
    )
    create_recorder(
        lam, POISON_DLQ, collector, sleep_ms=SLEEP_MS, DeadLetterConfig={"TargetArn": dlq_sink}
    )
    lam.put_function_event_invoke_config(FunctionName=POISON_DLQ, MaximumRetryAttempts=1)


@pytest.fixture
def collector() -> Iterator[Collector]:
    with running_collector() as running:
        yield running


def test_no_accepted_event_is_lost_across_a_sigkill(
    tmp_path: Path, collector: Collector, capsys: pytest.CaptureFixture[str]
) -> None:
    started = time.monotonic()
    data = tmp_path / "data"
    scale = ("--async-delay-scale", "0.01")
    with run_server(data, *scale, *collector.access, "--async-concurrency", "4") as first:
        setup_functions(first, collector)
        shares = [range(i, EVENTS, SENDERS) for i in range(SENDERS)]
        send_start = time.monotonic()
        with ThreadPoolExecutor(SENDERS) as pool:
            accepted = sorted(n for ids in pool.map(send_share, [first.port] * SENDERS, shares)
                              for n in ids)  # fmt: skip
        send_seconds = time.monotonic() - send_start
        assert len(accepted) == EVENTS
        wait_until(lambda: processed(collector) >= EVENTS // 10, limit=60)
        first.process.send_signal(signal.SIGKILL)
        first.process.wait()
        done_at_kill = len(completed(collector))
    # The kill must land mid-way, or the restart proves nothing.
    assert EVENTS // 10 <= done_at_kill < EVENTS // 2

    with run_server(data, *scale, *collector.access) as second:
        recovered = "were in flight at the last stop" in second.output()

        def all_done() -> Counter[int] | None:
            ends = completed(collector)
            return ends if len(ends) >= EVENTS else None

        ends = wait_until(all_done, limit=60, interval=0.25)

    missing = sorted(set(accepted) - set(ends))
    assert missing == []
    assert set(ends) == set(accepted)  # nothing ran that was not accepted
    duplicates = sum(count - 1 for count in ends.values())
    wire = collector.statistics()
    with capsys.disabled():
        print(
            f"\ncrash test: {len(accepted)} accepted in {send_seconds:.1f} s "
            f"({len(accepted) / send_seconds:.0f}/s over {SENDERS} connections); "
            f"{done_at_kill} done at SIGKILL; in-flight events rerun after restart: "
            f"{'yes' if recovered else 'none'}; 0 missing; {duplicates} duplicates; "
            f"{wire.records} records over {wire.connections} connections "
            f"({wire.torn} torn lines, {wire.resets} resets); "
            f"{time.monotonic() - started:.1f} s in all"
        )
