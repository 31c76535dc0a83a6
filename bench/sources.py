"""Event source mappings: messages/s a mapping (BatchSize 10) drains into a trivial
function, and send-to-handler latency with no batching window.

Runs its own `ember serve` (its handler reports to a listener on the host, which needs
`--host-access`). `python -m bench.sources` prints the rows alone.
"""

from __future__ import annotations

import socket
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.measure import percentile
from bench.reports import REPORTER, Reports, report_variables
from bench.server import BenchServer, deploy, serve

Row = tuple[str, str, str]
MESSAGES = 20_000
LATENCY_SAMPLES = 200
TRIVIAL = "def handler(event, context):\n    return {}\n"
# Reports (its clock at entry, each body) over one connection per environment.
TIMED = (
    REPORTER
    + """
def handler(event, context):
    now = time.time()
    _report("".join(f"{now} {r['body']}\\n" for r in event["Records"]))
    return {}
"""
)


def _sqs(server: BenchServer) -> Any:
    return server.client("sqs", max_pool_connections=16)


def _queue(sqs: Any, name: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return url, attributes["Attributes"]["QueueArn"]


def _left(sqs: Any, url: str) -> int:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    got = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return sum(int(got[n]) for n in names)


def throughput(server: BenchServer) -> float:
    """Messages/s: MESSAGES wait in the queue, then the mapping is enabled; the clock
    stops once every one is processed and deleted."""
    lam, sqs = server.client(), _sqs(server)
    deploy(lam, "bench-esm", TRIVIAL)
    url, arn = _queue(sqs, "bench-esm")

    def send(start: int) -> None:
        entries = [{"Id": str(i), "MessageBody": f"m{start + i}"} for i in range(10)]
        sqs.send_message_batch(QueueUrl=url, Entries=entries)

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(send, range(0, MESSAGES, 10)))
    uuid = lam.create_event_source_mapping(
        FunctionName="bench-esm", EventSourceArn=arn, BatchSize=10, Enabled=False
    )["UUID"]
    while lam.get_event_source_mapping(UUID=uuid)["State"] != "Disabled":
        time.sleep(0.01)
    start = time.perf_counter()
    lam.update_event_source_mapping(UUID=uuid, Enabled=True)
    while _left(sqs, url):
        if time.perf_counter() - start > 600:
            raise RuntimeError("the mapping did not drain the queue in 600 s")
        time.sleep(0.02)
    return MESSAGES / (time.perf_counter() - start)


def latency(server: BenchServer, port: int, listener: socket.socket) -> list[float]:
    """ms from SendMessage's start to the handler's first line, one message at a time."""
    lam, sqs = server.client(), _sqs(server)
    variables = report_variables(port)
    deploy(lam, "bench-esm-latency", TIMED, Environment={"Variables": variables})
    url, arn = _queue(sqs, "bench-esm-latency")
    lam.create_event_source_mapping(FunctionName="bench-esm-latency", EventSourceArn=arn)
    arrived: dict[str, float] = {}

    def take(line: str) -> None:
        stamp, body = line.split()
        arrived[body] = float(stamp)

    reports = Reports(listener, take)
    samples = []
    for i in range(LATENCY_SAMPLES + 5):  # the first few warm the environment up
        body = f"t{i}"
        sent = time.time()
        sqs.send_message(QueueUrl=url, MessageBody=body)
        reports.wait_for(
            lambda b=body: b in arrived,  # type: ignore[misc]
            30, "a message did not reach the handler in 30 s",
        )  # fmt: skip
        if i >= 5:
            samples.append((arrived[body] - sent) * 1000)
    return samples


def sources_rows() -> list[Row]:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        with (
            tempfile.TemporaryDirectory() as tmp,
            serve(Path(tmp) / "data", "--host-access", str(port)) as server,
        ):
            rate = throughput(server)
            samples = latency(server, port, listener)
    return [
        ("SQS mapping throughput, BatchSize 10, trivial function", f"{rate:,.0f} messages/s",
         f"target ≥ 10,000/s; {MESSAGES:,} queued, then the mapping enabled"),
        ("SQS send-to-handler latency p50, no batching window",
         f"{percentile(samples, 0.5):.1f} ms",
         f"target ≤ 20 ms; p99 {percentile(samples, 0.99):.1f} ms, one message at a time"),
    ]  # fmt: skip


if __name__ == "__main__":
    for name, value, detail in sources_rows():
        print(f"{name:58}  {value:>20}  {detail}")
