"""Nothing a queue accepted is lost when the server is killed while a mapping consumes it.

10,000 messages go to a queue (SendMessageBatch) consumed by a mapping into a function
that reports every batch to the host; the server gets SIGKILL once part of them is
processed and restarts on the same data dir. Every message must be processed at least
once; duplicates (batches processed but not yet deleted at the kill) are counted and
printed."""

from __future__ import annotations

import collections
import signal
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.batch_reports import REPORTING_HANDLER, listening, variables
from tests.e2e.harness import create_function, free_port, run_server, wait_until

pytestmark = pytest.mark.e2e

TOTAL = 10_000
KILL_AFTER = 3_000  # processed messages before the SIGKILL
VISIBILITY = 3  # seconds: in-flight messages come back soon after the restart


def _send_all(sqs: Any, url: str) -> None:
    for start in range(0, TOTAL, 10):
        entries = [{"Id": str(i), "MessageBody": f"m-{start + i}"} for i in range(10)]
        answer = sqs.send_message_batch(QueueUrl=url, Entries=entries)
        assert not answer.get("Failed"), answer


@pytest.mark.timeout(300)
def test_sigkill_loses_no_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    data = tmp_path / "data"
    access = ("--host-access", str(port))
    with listening(port) as reports:
        with run_server(data, *access) as server:
            lam, sqs = server.client(), server.client("sqs")
            create_function(lam, "crash-worker", REPORTING_HANDLER, Environment=variables(port))
            url = sqs.create_queue(
                QueueName="crash-queue", Attributes={"VisibilityTimeout": str(VISIBILITY)}
            )["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
            # All 10,000 wait in the queue first, so that the kill comes mid-way.
            uuid = lam.create_event_source_mapping(
                FunctionName="crash-worker", EventSourceArn=arn, BatchSize=10, Enabled=False
            )["UUID"]
            _send_all(sqs, url)
            wait_until(lambda: lam.get_event_source_mapping(UUID=uuid)["State"] == "Disabled")
            lam.update_event_source_mapping(UUID=uuid, Enabled=True)
            wait_until(
                lambda: len(reports.bodies("crash-worker")) >= KILL_AFTER, limit=120, interval=0.01
            )
            server.process.send_signal(signal.SIGKILL)
            server.process.wait()
            before = len(reports.bodies("crash-worker"))
        with run_server(data, *access):
            wanted = {f"m-{i}" for i in range(TOTAL)}
            reports.wait_bodies("crash-worker", wanted, limit=180)
        counts = collections.Counter(reports.bodies("crash-worker"))
    duplicates = sum(n - 1 for n in counts.values())
    with capsys.disabled():
        print(
            f"\nsqs crash: {TOTAL} sent, {before} processed before SIGKILL, all {len(counts)} "
            f"processed, {duplicates} duplicate deliveries "
            f"({len([n for n in counts.values() if n > 1])} messages twice or more)"
        )
    assert set(counts) == wanted
