"""FunctionService on a real store: a code zip's blob and unpacked folder go once no
function version (of any function) and no live environment uses them."""

from __future__ import annotations

import asyncio
import io
import sys
import threading
import time
import zipfile
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ember.clock import ManualClock
from ember.config import Settings
from ember.control import FunctionService, codezip
from ember.control.model import FunctionState
from ember.runtimes import RuntimeCatalog
from ember.store import BlobStore, DataLayout, MetadataStore

RUNTIME = f"python{sys.version_info.major}.{sys.version_info.minor}"
FIELDS: dict[str, Any] = {"runtime": RUNTIME, "handler": "app.handler", "role": "r"}


def _zip(value: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        # A fixed timestamp: the same value always makes the same zip (the same digest).
        info = zipfile.ZipInfo("app.py", date_time=(2020, 1, 1, 0, 0, 0))
        archive.writestr(info, f"def handler(event, context):\n    return {value}\n")
    return buffer.getvalue()


def _service(root: Path) -> FunctionService:
    layout = DataLayout.at(root)
    return FunctionService(
        Settings(data_dir=root),
        MetadataStore(layout.metadata),
        BlobStore(layout.blobs),
        RuntimeCatalog({RUNTIME[6:]: sys.executable}, None),
        ManualClock(),
        layout=layout,
    )


def _kept(root: Path) -> tuple[set[str], set[str]]:
    """(digests with an unpacked folder, digests with a blob), temporary files aside."""

    def names(folder: Path) -> set[str]:
        if not folder.is_dir():
            return set()
        return {p.name for p in folder.iterdir() if not p.name.startswith(".")}

    return names(root / "code"), names(root / "blobs")


async def _until(predicate: Callable[[], bool], limit: float = 10.0) -> None:
    deadline = time.monotonic() + limit
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.005)


def _with_service(
    root: Path, steps: Callable[[FunctionService], Awaitable[None]], *, load: bool = False
) -> None:
    async def main() -> None:
        service = _service(root)
        if load:
            await service.load()
        worker = asyncio.create_task(service.run())
        try:
            await steps(service)
        finally:
            worker.cancel()
            with pytest.raises(asyncio.CancelledError):
                await worker

    asyncio.run(main())


def test_updates_keep_only_the_current_code(tmp_path: Path) -> None:
    async def steps(service: FunctionService) -> None:
        config = await service.create(_zip(0), name="f", **FIELDS)
        await service.wait_settled("f", 5)
        for value in range(1, 6):
            config = await service.update_code("f", _zip(value))
            await service.wait_settled("f", 5)
            assert _kept(tmp_path) == ({config.code_digest}, {config.code_digest})
        await service.delete("f")
        assert _kept(tmp_path) == (set(), set())

    _with_service(tmp_path, steps)


def test_code_a_live_environment_runs_stays_until_it_is_released(tmp_path: Path) -> None:
    live: set[str] = set()  # code paths "environments" run, as the scheduler reports them

    async def steps(service: FunctionService) -> None:
        service.set_code_users(live.__contains__)
        old = await service.create(_zip(1), name="f", **FIELDS)
        await service.wait_settled("f", 5)
        old_path = str(service.code_path(old).resolve())
        live.add(old_path)
        new = await service.update_code("f", _zip(2))
        await service.wait_settled("f", 5)
        assert (service.code_path(old) / "app.py").is_file()  # still running there
        assert _kept(tmp_path)[1] == {old.code_digest, new.code_digest}
        await service.release_code(old_path)  # told too early: still in use, kept
        assert (service.code_path(old) / "app.py").is_file()
        live.discard(old_path)
        await service.release_code(old_path)
        assert _kept(tmp_path) == ({new.code_digest}, {new.code_digest})
        # Deleting the function while an environment runs its code: gone after it.
        new_path = str(service.code_path(new).resolve())
        live.add(new_path)
        await service.delete("f")
        assert _kept(tmp_path) == ({new.code_digest}, {new.code_digest})
        live.discard(new_path)
        await service.release_code(new_path)
        assert _kept(tmp_path) == (set(), set())

    _with_service(tmp_path, steps)


def test_released_paths_outside_the_code_folder_are_ignored(tmp_path: Path) -> None:
    async def steps(service: FunctionService) -> None:
        other = tmp_path / "elsewhere" / "x"
        other.mkdir(parents=True)
        await service.release_code(str(other.resolve()))
        assert other.is_dir()

    _with_service(tmp_path, steps)


def test_published_versions_and_other_functions_keep_shared_code(tmp_path: Path) -> None:
    async def steps(service: FunctionService) -> None:
        first = await service.create(_zip(1), name="a", **FIELDS)
        await service.create(_zip(1), name="b", **FIELDS)  # the same zip
        await service.wait_settled("a", 5)
        await service.wait_settled("b", 5)
        await service.publish("a")
        second = await service.update_code("a", _zip(2))
        await service.wait_settled("a", 5)
        both = {first.code_digest, second.code_digest}
        assert _kept(tmp_path) == (both, both)  # version 1 and "b" use the first zip
        await service.delete("b")
        assert _kept(tmp_path) == (both, both)  # version 1 still does
        await service.delete("a", "1")
        assert _kept(tmp_path) == ({second.code_digest}, {second.code_digest})
        await service.delete("a")
        assert _kept(tmp_path) == (set(), set())

    _with_service(tmp_path, steps)


@pytest.fixture
def held_unpack(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[threading.Event, ...]]:
    """Unpacking waits for `go` (and sets `started` first): a window to delete in."""
    started, go = threading.Event(), threading.Event()
    real = codezip.unpack

    def unpack(data: bytes, target: Path) -> None:
        started.set()
        go.wait(10)
        real(data, target)

    monkeypatch.setattr(codezip, "unpack", unpack)
    yield started, go
    go.set()


def test_a_function_deleted_while_unpacking_leaves_no_code(
    tmp_path: Path, held_unpack: tuple[threading.Event, threading.Event]
) -> None:
    started, go = held_unpack

    async def steps(service: FunctionService) -> None:
        await service.create(_zip(1), name="f", **FIELDS)
        await _until(started.is_set)
        await service.delete("f")
        go.set()  # the unpack lands after the delete looked
        await _until(lambda: service._activation.statistics().running == 0)
        assert _kept(tmp_path) == (set(), set())

    _with_service(tmp_path, steps)


def test_an_update_while_pending_leaves_only_the_new_code(
    tmp_path: Path, held_unpack: tuple[threading.Event, threading.Event]
) -> None:
    started, go = held_unpack

    async def steps(service: FunctionService) -> None:
        await service.create(_zip(1), name="f", **FIELDS)
        await _until(started.is_set)
        new = await service.update_code("f", _zip(2))
        go.set()
        config = await service.wait_settled("f", 5)
        assert config.state is FunctionState.ACTIVE
        await _until(lambda: service._activation.statistics().running == 0)
        assert _kept(tmp_path) == ({new.code_digest}, {new.code_digest})

    _with_service(tmp_path, steps)


def test_start_up_removes_code_no_function_uses(tmp_path: Path) -> None:
    kept: list[str] = []

    async def first(service: FunctionService) -> None:
        config = await service.create(_zip(1), name="f", **FIELDS)
        await service.wait_settled("f", 5)
        kept.append(config.code_digest)

    _with_service(tmp_path, first)
    # What an older server (or a crash mid-unpack) left behind.
    orphan = BlobStore(tmp_path / "blobs").put(_zip(9))
    codezip.unpack(_zip(9), tmp_path / "code" / orphan)
    (tmp_path / "code" / ".unpack-cut-short").mkdir()

    async def second(service: FunctionService) -> None:
        assert (await service.wait_settled("f", 5)).state is FunctionState.ACTIVE

    _with_service(tmp_path, second, load=True)
    assert _kept(tmp_path) == (set(kept), set(kept))
    assert not (tmp_path / "code" / ".unpack-cut-short").exists()
