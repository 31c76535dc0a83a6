"""Activation on a real store: a function whose code takes long to unpack does not hold
others in Pending, one function's updates settle in order, and no more than the set
number of functions unpack at once."""

from __future__ import annotations

import asyncio
import io
import sys
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ember.clock import ManualClock
from ember.config import Settings
from ember.control import FunctionService, codezip
from ember.control.activation import SLOTS
from ember.control.model import FunctionState, UpdateStatus
from ember.runtimes import RuntimeCatalog
from ember.store import BlobStore, DataLayout, MetadataStore

RUNTIME = f"python{sys.version_info.major}.{sys.version_info.minor}"
FIELDS: dict[str, Any] = {"runtime": RUNTIME, "handler": "app.handler", "role": "r"}


def _zip(text: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", f"def handler(event, context):\n    return {text!r}\n")
    return buffer.getvalue()


class GatedUnpack:
    """codezip.unpack that holds the zips given gates until their gate opens, and notes
    when each unpack starts and ends (by tag)."""

    def __init__(self) -> None:
        self.tags: dict[bytes, str] = {}
        self.gates: dict[str, threading.Event] = {}
        self.calls: list[str] = []
        self._real = codezip.unpack

    def add(self, tag: str, *, gated: bool = False) -> bytes:
        data = _zip(tag)
        self.tags[data] = tag
        if gated:
            self.gates[tag] = threading.Event()
        return data

    def open_all(self) -> None:
        for gate in self.gates.values():
            gate.set()

    def __call__(self, data: bytes, target: Path) -> None:
        tag = self.tags.get(data, "?")
        self.calls.append(f"start {tag}")
        gate = self.gates.get(tag)
        if gate is not None:
            gate.wait(30)  # bounded: a failing test must not leave the thread behind
        self._real(data, target)
        self.calls.append(f"end {tag}")


@pytest.fixture
def unpack(monkeypatch: pytest.MonkeyPatch) -> Iterator[GatedUnpack]:
    fake = GatedUnpack()
    monkeypatch.setattr(codezip, "unpack", fake)
    try:
        yield fake
    finally:
        fake.open_all()


def _service(tmp_path: Path) -> FunctionService:
    layout = DataLayout.at(tmp_path)
    return FunctionService(
        Settings(data_dir=tmp_path), MetadataStore(layout.metadata), BlobStore(layout.blobs),
        RuntimeCatalog({RUNTIME[6:]: sys.executable}, None), ManualClock(), layout=layout,
    )  # fmt: skip


async def _until(predicate: Callable[[], bool], limit: float = 10.0) -> None:
    deadline = time.monotonic() + limit
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.005)


def test_a_slow_activation_holds_neither_others_nor_its_own_order(
    tmp_path: Path, unpack: GatedUnpack
) -> None:
    async def main() -> None:
        service = _service(tmp_path)
        slow, newer, other = (
            unpack.add("slow", gated=True), unpack.add("newer"), unpack.add("other")
        )  # fmt: skip
        runner = asyncio.create_task(service.run())
        try:
            await service.create(slow, name="f", **FIELDS)
            await _until(lambda: "start slow" in unpack.calls)
            # A second update of f while its first is unpacking: it must wait for it.
            updated = await service.update_code("f", newer)
            await service.create(other, name="g", **FIELDS)
            assert (await service.wait_settled("g", 10)).state is FunctionState.ACTIVE
            assert service.get("f").state is FunctionState.PENDING
            assert "start newer" not in unpack.calls
            unpack.open_all()
            config = await service.wait_settled("f", 10)
            assert config.state is FunctionState.ACTIVE, config.state_reason
            assert config.last_update_status is UpdateStatus.SUCCESSFUL
            assert config.code_sha256 == updated.code_sha256  # the later update won
            assert (service.code_path(config) / "app.py").read_text().endswith("'newer'\n")
            assert unpack.calls.index("end slow") < unpack.calls.index("start newer")
        finally:
            unpack.open_all()
            runner.cancel()

    asyncio.run(main())


def test_no_more_than_the_slots_unpack_at_once(tmp_path: Path, unpack: GatedUnpack) -> None:
    async def main() -> None:
        service = _service(tmp_path)
        slots = service._activation.statistics
        names = [f"f{i}" for i in range(SLOTS + 2)]
        runner = asyncio.create_task(service.run())
        try:
            for name in names:
                await service.create(unpack.add(name, gated=True), name=name, **FIELDS)
            await _until(lambda: slots().running == SLOTS)
            await _until(lambda: len(unpack.calls) == SLOTS)
            assert slots().queued == 2
            unpack.open_all()
            for name in names:
                assert (await service.wait_settled(name, 10)).state is FunctionState.ACTIVE
            assert slots().running == 0
        finally:
            unpack.open_all()
            runner.cancel()

    asyncio.run(main())


def test_stopping_cancels_activations_in_flight(tmp_path: Path, unpack: GatedUnpack) -> None:
    async def main() -> None:
        service = _service(tmp_path)
        runner = asyncio.create_task(service.run())
        await service.create(unpack.add("held", gated=True), name="f", **FIELDS)
        await _until(lambda: "start held" in unpack.calls)
        runner.cancel()
        with pytest.raises(asyncio.CancelledError):
            await runner
        unpack.open_all()
        assert service.get("f").state is FunctionState.PENDING  # finished after a restart
        # No activation task is left behind on the loop.
        assert {t.get_name() for t in asyncio.all_tasks()} == {asyncio.current_task().get_name()}  # type: ignore[union-attr]

    asyncio.run(main())
