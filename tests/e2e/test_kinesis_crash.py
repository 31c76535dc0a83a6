"""Nothing a stream accepted is lost, and order per partition key holds, when the server is
killed while a mapping consumes the stream.

10,000 records across 4 shards (40 partition keys) wait in a stream; a mapping (BatchSize
100) feeds them to a function that reports every batch to the host; the server gets SIGKILL
once part of them is processed and restarts on the same data dir. Every record must be
processed at least once, and each key's records first seen in the order they were put;
replays (batches processed after the last checkpoint before the kill) are printed."""

from __future__ import annotations

import collections
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.batch_reports import KINESIS_HANDLER, listening, variables
from tests.e2e.harness import create_function, free_port, run_server, wait_until
from tests.e2e.test_kinesis_mappings import ordered

pytestmark = pytest.mark.e2e

TOTAL = 10_000
KEYS = 40
KILL_AFTER = 3_000  # processed records before the SIGKILL


def _put_all(kinesis: Any) -> None:
    """Each key's records in order: a call holds 12 rounds of all keys; refused records
    (throughput) are put again before the next call, so no later one of a key overtakes."""
    items = [(f"key-{k}", f"key-{k}:{i}") for i in range(TOTAL // KEYS) for k in range(KEYS)]
    for start in range(0, len(items), 480):
        chunk = items[start : start + 480]
        while chunk:
            answer = kinesis.put_records(
                StreamName="crash-stream",
                Records=[{"PartitionKey": k, "Data": d.encode()} for k, d in chunk],
            )
            chunk = [c for c, r in zip(chunk, answer["Records"], strict=True) if "ErrorCode" in r]
            if chunk:
                time.sleep(0.2)


@pytest.mark.timeout(300)
def test_sigkill_loses_no_record(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    data = tmp_path / "data"
    access = ("--host-access", str(port))
    with listening(port) as reports:
        with run_server(data, *access) as server:
            lam, kinesis = server.client(), server.client("kinesis")
            create_function(lam, "kin-crash", KINESIS_HANDLER, Environment=variables(port))
            kinesis.create_stream(StreamName="crash-stream", ShardCount=4)
            arn = kinesis.describe_stream_summary(StreamName="crash-stream")[
                "StreamDescriptionSummary"
            ]["StreamARN"]
            _put_all(kinesis)  # all of them wait in the stream, so the kill comes mid-way
            lam.create_event_source_mapping(
                FunctionName="kin-crash", EventSourceArn=arn, BatchSize=100,
                StartingPosition="TRIM_HORIZON",
            )  # fmt: skip
            wait_until(
                lambda: len(reports.records("kin-crash")) >= KILL_AFTER, limit=120, interval=0.01
            )
            server.process.send_signal(signal.SIGKILL)
            server.process.wait()
        before = len(reports.records("kin-crash"))
        with run_server(data, *access):
            wanted = {f"key-{k}:{i}" for k in range(KEYS) for i in range(TOTAL // KEYS)}
            wait_until(lambda: wanted <= set(reports.bodies("kin-crash")), limit=180, interval=0.2)
    bodies = [r["body"] for r in ordered(reports, "kin-crash")]
    by_key: dict[str, list[int]] = collections.defaultdict(list)
    for body in bodies:
        key, index = body.split(":")
        by_key[key].append(int(index))
    for key, seen in by_key.items():
        first = list(dict.fromkeys(seen))  # each record's first delivery, in delivery order
        assert first == list(range(TOTAL // KEYS)), key
    replays = len(bodies) - TOTAL
    with capsys.disabled():
        print(f"\nkinesis crash: {before} processed before SIGKILL, {replays} replayed after")
