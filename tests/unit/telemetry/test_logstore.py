"""The log store: writes queued off the loop, the per-group cap, deletes, reloading."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

from ember.clock import ManualClock
from ember.store.segments import SegmentFiles
from ember.telemetry import LogStore

GROUP = "/aws/lambda/fn"


def _run(tmp: Path, body: Callable[[LogStore], Awaitable[None]], limit: int = 1 << 20) -> None:
    async def main() -> None:
        store = LogStore(SegmentFiles(tmp), ManualClock(), limit)
        writer = asyncio.create_task(store.run())
        try:
            await body(store)
        finally:
            await store.close()
            writer.cancel()

    asyncio.run(main())


def _disk_bytes(tmp: Path) -> int:
    return sum(p.stat().st_size for p in tmp.rglob("*.jsonl"))


async def _messages(store: LogStore, stream: str) -> list[str]:
    events, _ = await store.stream_page(GROUP, stream, (None, None), 0, 10_000, 1 << 30)
    return [e.message for e in events]


def test_lines_and_messages_read_back_in_order(tmp_path: Path) -> None:
    async def body(store: LogStore) -> None:
        stream = store.open_stream(GROUP, "s")
        stream.write("START\n")
        stream.write_lines(["one", "", "two"])
        stream.write("END\n")
        assert await _messages(store, "s") == ["START\n", "one\n", "\n", "two\n", "END\n"]

    _run(tmp_path, body)


def test_a_group_keeps_at_most_its_limit(tmp_path: Path) -> None:
    limit = 256 << 10

    async def body(store: LogStore) -> None:
        first, second = store.open_stream(GROUP, "a"), store.open_stream(GROUP, "b")
        for number in range(2000):
            (first if number % 2 else second).write_lines([f"{number:06d}" + "x" * 500])
            assert store.groups()[0].stored_bytes <= limit
        await store.flush()
        assert _disk_bytes(tmp_path) <= limit
        remaining = await _messages(store, "a")
        assert remaining[-1].startswith("001999")  # the newest survive, the oldest went
        assert not remaining[0].startswith("000001")

    _run(tmp_path, body, limit)


def test_reloaded_from_disk(tmp_path: Path) -> None:
    async def write(store: LogStore) -> None:
        store.open_stream(GROUP, "s").write_lines(["kept"])

    async def read(store: LogStore) -> None:
        assert [g.name for g in store.groups()] == [GROUP]
        assert store.streams(GROUP)[0].first_event == 1_700_000_000_000
        assert await _messages(store, "s") == ["kept\n"]

    _run(tmp_path, write)
    _run(tmp_path, read)


def test_a_deleted_group_is_recreated_by_its_next_write(tmp_path: Path) -> None:
    async def body(store: LogStore) -> None:
        stream = store.open_stream(GROUP, "s")
        stream.write_lines(["before"])
        assert store.delete_group(GROUP)
        assert not store.has_group(GROUP)
        stream.write_lines(["after"])
        assert await _messages(store, "s") == ["after\n"]

    _run(tmp_path, body)


def test_a_forgotten_function_leaves_nothing(tmp_path: Path) -> None:
    async def body(store: LogStore) -> None:
        stream = store.open_stream(GROUP, "s")
        stream.write_lines(["x"] * 10)
        store.forget_function(GROUP)
        stream.write_lines(["late, from an environment shutting down"])
        stream.close()
        assert not store.has_group(GROUP)

    _run(tmp_path, body)
    assert list(tmp_path.iterdir()) == []


def test_put_events_keep_their_timestamps(tmp_path: Path) -> None:
    async def body(store: LogStore) -> None:
        assert store.create_group(GROUP)
        assert not store.create_group(GROUP)
        assert store.create_stream(GROUP, "s")
        store.put_events(GROUP, "s", [(5, "a"), (7, "b")])
        events, more = await store.stream_page(GROUP, "s", (6, None), 0, 10, 1 << 20)
        assert [(e.timestamp, e.message) for e in events] == [(7, "b")]
        assert not more
        assert store.delete_stream(GROUP, "s")
        assert not store.has_stream(GROUP, "s")

    _run(tmp_path, body)
