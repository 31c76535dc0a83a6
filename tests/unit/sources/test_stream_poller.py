"""The stream poller on a manual clock, against real (file-backed) streams and a fake
invoker: bisection, record age, checkpoints (no sockets, no functions)."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from ember.clock import ManualClock
from ember.config import Settings
from ember.control.mapping_streams import StreamConfig
from ember.control.mappings import Mapping
from ember.patterns import compile as compile_pattern
from ember.scheduler.results import InvocationResult
from ember.sources.kinesis import KinesisShards
from ember.sources.shards import StreamPoller
from ember.streams import Streams
from ember.streams.service import Entry

QUEUE = "arn:aws:sqs:us-east-1:000000000000:failures"


class Invoker:
    """Fails every batch holding a record `fails` picks; remembers each batch's data."""

    def __init__(self, fails: Callable[[bytes], bool]) -> None:
        self.batches: list[list[bytes]] = []
        self._fails = fails

    async def invoke(self, name: str, qualifier: str | None, payload: bytes,
                     **_: Any) -> InvocationResult:  # fmt: skip
        data = [base64.b64decode(r["kinesis"]["data"]) for r in orjson.loads(payload)["Records"]]
        self.batches.append(data)
        if any(self._fails(d) for d in data):
            return InvocationResult(payload=b'{"errorMessage": "no"}', function_error="Unhandled")
        return InvocationResult(payload=b"{}")


class Sink:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    async def send(self, arn: str, body: str, attributes: Any, *, trace_header: Any = None) -> None:
        self.sent.append((arn, orjson.loads(body)))


def _mapping(arn: str, **stream: Any) -> Mapping:
    return Mapping(
        uuid="m-1", arn="arn:aws:lambda:us-east-1:000000000000:event-source-mapping:m-1",
        source_arn=arn, source_kind="kinesis", fifo=False, function_name="f", qualifier=None,
        function_arn="arn:aws:lambda:us-east-1:000000000000:function:f", batch_size=10,
        batching_window=0, stream=StreamConfig("TRIM_HORIZON", on_failure=QUEUE, **stream),
    )  # fmt: skip


async def _until(clock: ManualClock, done: Callable[[], bool], step: float = 0.5) -> None:
    for _ in range(2000):
        if done():
            return
        await asyncio.sleep(0.002)
        clock.advance(step)
    raise AssertionError("never happened")


def _run(tmp: Path, data: list[bytes], invoker: Invoker, sink: Sink, check: Any,
         **stream: Any) -> None:  # fmt: skip
    async def main() -> None:
        clock = ManualClock()
        streams = Streams(Settings(), tmp / "streams.db", clock)
        running = asyncio.create_task(streams.run())
        try:
            state = await streams.create("s", 1, "PROVISIONED")
            await streams.put(state, [Entry(d, "k") for d in data])
            poller = StreamPoller(
                _mapping(state.arn, **stream), KinesisShards(streams), invoker,  # type: ignore[arg-type]
                clock, compile_pattern=compile_pattern, on_result=lambda _: None,
                role=lambda: "role", sink=sink, region="us-east-1",
            )  # fmt: skip
            task = asyncio.create_task(poller.run())
            await check(clock, streams, state)
            poller.stop()
            await _until(clock, task.done)
            await task
        finally:
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)
            streams.close()

    asyncio.run(main())


def test_bisection_isolates_the_failing_record(tmp_path: Path) -> None:
    invoker, sink = Invoker(lambda d: d == b"bad"), Sink()

    async def check(clock: ManualClock, streams: Streams, state: Any) -> None:
        await _until(clock, lambda: streams.checkpoints("m-1", state) == {0: 4})

    _run(tmp_path, [b"a", b"b", b"bad", b"c"], invoker, sink, check,
         bisect=True, maximum_retries=0)  # fmt: skip
    assert invoker.batches == [[b"a", b"b", b"bad", b"c"], [b"a", b"b"], [b"bad", b"c"],
                               [b"bad"], [b"c"]]  # fmt: skip
    ((arn, record),) = sink.sent
    assert arn == QUEUE
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["KinesisBatchInfo"]["batchSize"] == 1


def test_records_past_their_maximum_age_are_given_up(tmp_path: Path) -> None:
    invoker, sink = Invoker(lambda d: True), Sink()

    async def check(clock: ManualClock, streams: Streams, state: Any) -> None:
        await _until(clock, lambda: bool(sink.sent), step=5.0)
        await _until(clock, lambda: streams.checkpoints("m-1", state) == {0: 3})

    _run(tmp_path, [b"x", b"y", b"z"], invoker, sink, check, maximum_record_age=60)
    ((_, record),) = sink.sent
    assert record["requestContext"]["condition"] == "RecordAgeExceeded"
    assert record["KinesisBatchInfo"]["batchSize"] == 3
    assert len(invoker.batches) > 1  # retried (without a limit) until then
    assert all(batch == [b"x", b"y", b"z"] for batch in invoker.batches)
