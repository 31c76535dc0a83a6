"""One mapping's poller against an in-memory source and invoker: what it acknowledges."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import orjson

from ember.clock import SystemClock
from ember.control.mappings import Mapping
from ember.errors import TooManyRequestsError
from ember.scheduler import InvocationResult
from ember.sources.poller import MappingPoller
from ember.sources.source import Record


def _records(*ids: str) -> list[Record]:
    return [Record(i, None, 1, {"messageId": i, "body": i}, i) for i in ids]


class FakeSource:
    ordered = False

    def __init__(self, batches: list[list[Record]]) -> None:
        self.batches = batches
        self.acked: list[str] = []
        self.nacked: list[str] = []
        self.changed = asyncio.Event()  # set on each ack and nack

    async def fetch(self, max_records: int, window: float) -> list[Record]:
        if self.batches:
            return self.batches.pop(0)
        await asyncio.sleep(0.01)
        return []

    async def ack(self, records: Sequence[Record]) -> None:
        self.acked += [r.item_id for r in records]
        self.changed.set()

    async def nack(self, records: Sequence[Record]) -> None:
        self.nacked += [r.item_id for r in records]
        self.changed.set()

    async def release(self, records: Sequence[Record]) -> None:
        self.batches.insert(0, list(records))

    def view(self, record: Record) -> dict[str, Any]:
        return record.event

    def backlog(self) -> int:
        return sum(len(b) for b in self.batches)

    def visibility(self) -> float:
        return 30.0


class FakeInvoker:
    """Answers each invoke with the next outcome: an exception to raise, or a result."""

    def __init__(self, outcomes: list[Exception | InvocationResult]) -> None:
        self.outcomes = outcomes
        self.payloads: list[dict[str, Any]] = []

    async def invoke(
        self, name: str, qualifier: str | None, payload: bytes, *, request_id: str | None = None
    ) -> InvocationResult:
        self.payloads.append(orjson.loads(payload))
        outcome = self.outcomes.pop(0) if self.outcomes else InvocationResult(payload=b"{}")
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


def _mapping(**changes: Any) -> Mapping:
    values: dict[str, Any] = {
        "uuid": "u", "arn": "a", "source_arn": "q", "source_kind": "sqs", "fifo": False,
        "function_name": "f", "qualifier": None, "function_arn": "fa", "batch_size": 10,
        "batching_window": 0,
    }  # fmt: skip
    return Mapping(**{**values, **changes})


async def _run(mapping: Mapping, source: FakeSource, invoker: FakeInvoker, done: Any) -> None:
    poller = MappingPoller(
        mapping, source, invoker, SystemClock(),  # type: ignore[arg-type]
        limit=lambda: 10, compile_pattern=lambda p: None, on_result=lambda r: None,  # type: ignore[arg-type,return-value]
    )  # fmt: skip
    task = asyncio.create_task(poller.run())
    async with asyncio.timeout(10):
        while not done():
            await source.changed.wait()
            source.changed.clear()
    poller.stop()
    await task


def test_throttled_batches_are_retried_until_they_go_through() -> None:
    source = FakeSource([_records("a", "b")])
    throttle = TooManyRequestsError(
        "Rate Exceeded.", Reason="ReservedFunctionConcurrentInvocationLimitExceeded"
    )
    invoker = FakeInvoker([throttle, throttle])
    asyncio.run(_run(_mapping(), source, invoker, lambda: source.acked))
    assert source.acked == ["a", "b"]
    assert source.nacked == []
    assert len(invoker.payloads) == 3


def test_a_function_error_leaves_the_batch() -> None:
    source = FakeSource([_records("a", "b")])
    error = InvocationResult(payload=b"{}", function_error="Unhandled")
    invoker = FakeInvoker([error])
    asyncio.run(_run(_mapping(), source, invoker, lambda: source.nacked))
    assert source.nacked == ["a", "b"]
    assert source.acked == []


def test_reported_item_failures_come_back_alone() -> None:
    source = FakeSource([_records("a", "b", "c")])
    answer = orjson.dumps({"batchItemFailures": [{"itemIdentifier": "b"}]})
    invoker = FakeInvoker([InvocationResult(payload=answer)])
    mapping = _mapping(response_types=("ReportBatchItemFailures",))
    asyncio.run(_run(mapping, source, invoker, lambda: source.nacked and source.acked))
    assert source.acked == ["a", "c"]
    assert source.nacked == ["b"]
    assert [r["messageId"] for r in invoker.payloads[0]["Records"]] == ["a", "b", "c"]
