"""EventBridge rows: schedule firing lateness (due time -> handler start) over 25 firings
of a rate(1 minute) rule on a server whose rate periods are scaled by 0.01 (one firing
every 0.6 s), and PutEvents -> handler latency.

Runs its own `ember serve` (`--schedule-scale`, and `--host-access` for the handler's
reports). A rate schedule's times count from the rule's creation, which happens inside
PutRule: lateness is taken against the time just before PutRule was sent, so each figure
is an upper bound (it includes up to one PutRule round trip). `python -m bench.rules`
prints the rows alone.
"""

from __future__ import annotations

import json
import math
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.measure import percentile
from bench.reports import REPORTER, Reports, report_variables
from bench.server import BenchServer, deploy, serve

Row = tuple[str, str, str]
SCALE = 0.01
PERIOD = 60 * SCALE  # rate(1 minute), scaled
FIRINGS = 25
WARMUP = 2  # the first firings may pay a cold start
EVENTS = 100
# Reports (its clock at entry, the event's detail-type and id) over one connection.
TIMED = (
    REPORTER
    + """
def handler(event, context):
    now = time.time()
    line = json.dumps({"t": now, "type": event["detail-type"], "id": event["id"]})
    _report(line + "\\n")
    return {}
"""
)


class _Reports:
    """Lines the handler sends, gathered by a thread; `wait(n)` for the first n."""

    def __init__(self, listener: socket.socket) -> None:
        self._lines: list[dict[str, Any]] = []
        self._reports = Reports(listener, lambda line: self._lines.append(json.loads(line)))

    def wait(self, kind: str, count: int, limit: float = 60) -> list[dict[str, Any]]:
        def enough() -> bool:
            return len(self.of(kind)) >= count

        with self._reports.ready:
            if not self._reports.ready.wait_for(enough, timeout=limit):
                raise RuntimeError(f"{kind}: {len(self.of(kind))} of {count} reports arrived")
            return self.of(kind)

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [line for line in self._lines if line["type"] == kind]


def schedule_lateness(server: BenchServer, reports: _Reports, arn: str) -> list[float]:
    """ms from each firing's due time to the handler's start."""
    events = server.client("events")
    before = time.time()
    events.put_rule(Name="bench-tick", ScheduleExpression="rate(1 minute)")
    events.put_targets(Rule="bench-tick", Targets=[{"Id": "fn", "Arn": arn}])
    fired = reports.wait("Scheduled Event", FIRINGS, limit=FIRINGS * PERIOD + 30)
    events.disable_rule(Name="bench-tick")
    samples = []
    for report in fired[WARMUP:FIRINGS]:
        since = report["t"] - before
        due = before + math.floor(since / PERIOD) * PERIOD
        samples.append((report["t"] - due) * 1000)
    return samples


def put_events_latency(server: BenchServer, reports: _Reports, arn: str) -> list[float]:
    """ms from sending PutEvents to the handler's start, one event at a time."""
    events = server.client("events")
    events.put_rule(Name="bench-match", EventPattern=json.dumps({"source": ["bench"]}))
    events.put_targets(Rule="bench-match", Targets=[{"Id": "fn", "Arn": arn}])
    samples = []
    for i in range(EVENTS + WARMUP):
        sent = time.time()
        events.put_events(Entries=[{"Source": "bench", "DetailType": "put", "Detail": "{}"}])
        (report,) = reports.wait("put", i + 1)[i:]
        if i >= WARMUP:
            samples.append((report["t"] - sent) * 1000)
    return samples


def rules_rows() -> list[Row]:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        reports = _Reports(listener)
        with (
            tempfile.TemporaryDirectory() as tmp,
            serve(Path(tmp) / "data", "--host-access", str(port),
                  "--schedule-scale", str(SCALE)) as server,
        ):  # fmt: skip
            variables = report_variables(port)
            lam = server.client()
            deploy(lam, "bench-rules", TIMED, Environment={"Variables": variables})
            arn = lam.get_function(FunctionName="bench-rules")["Configuration"]["FunctionArn"]
            lateness = schedule_lateness(server, reports, arn)
            latency = put_events_latency(server, reports, arn)
    return [
        ("schedule firing lateness p99 (due -> handler start)",
         f"{percentile(lateness, 0.99):.1f} ms",
         f"target ≤ 1,000 ms; p50 {percentile(lateness, 0.5):.1f} ms over "
         f"{len(lateness)} firings of rate(1 minute) at --schedule-scale {SCALE}"),
        ("EventBridge PutEvents -> handler latency p50", f"{percentile(latency, 0.5):.1f} ms",
         f"p99 {percentile(latency, 0.99):.1f} ms, {EVENTS} events one at a time, warm"),
    ]  # fmt: skip


if __name__ == "__main__":
    for name, value, detail in rules_rows():
        print(f"{name:58}  {value:>20}  {detail}")
