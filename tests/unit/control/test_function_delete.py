"""FunctionService on a real store: deleting a function never removes code that a
concurrent create of the same zip is about to use."""

from __future__ import annotations

import asyncio
import io
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

from ember.clock import ManualClock
from ember.config import Settings
from ember.control import FunctionService
from ember.control.layers import LayerService
from ember.control.model import FunctionState
from ember.runtimes import RuntimeCatalog
from ember.store import BlobStore, DataLayout, MetadataStore

RUNTIME = f"python{sys.version_info.major}.{sys.version_info.minor}"


class SlowDeleteBlobs(BlobStore):
    """Deleting takes a while: wide open for anything that races it."""

    def delete(self, digest: str) -> None:
        time.sleep(0.2)
        super().delete(digest)


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return 1\n")
    return buffer.getvalue()


async def _until(predicate: object, limit: float = 5.0) -> None:
    deadline = time.monotonic() + limit
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.005)


def test_delete_does_not_remove_the_code_of_a_concurrent_create(tmp_path: Path) -> None:
    async def main() -> None:
        settings = Settings(data_dir=tmp_path)
        layout = DataLayout.at(tmp_path)
        service = FunctionService(
            settings,
            MetadataStore(layout.metadata),
            SlowDeleteBlobs(layout.blobs),
            RuntimeCatalog({RUNTIME[6:]: sys.executable}, None),
            ManualClock(),
            layout=layout,
        )
        activation = asyncio.create_task(service.run())
        code = _zip()
        fields: dict[str, Any] = {"runtime": RUNTIME, "handler": "app.handler", "role": "r"}
        await service.create(code, name="a", **fields)
        assert (await service.wait_settled("a", 5)).state is FunctionState.ACTIVE
        # Line both writes up behind the lock: the delete of "a" first, then the
        # create of "b" with the same zip (so the same blob and code folder).
        lock = service._write_lock
        await lock.acquire()
        deleting = asyncio.create_task(service.delete("a"))
        creating = asyncio.create_task(service.create(code, name="b", **fields))
        await _until(lambda: len(lock._waiters or ()) == 2)
        lock.release()
        await asyncio.gather(deleting, creating)
        config = await service.wait_settled("b", 5)
        assert config.state is FunctionState.ACTIVE, config.state_reason
        assert service.blob_path(config.code_digest).is_file()
        assert (service.code_path(config) / "app.py").is_file()
        await service.delete("b")
        assert not service.blob_path(config.code_digest).exists()  # unused now: gone
        activation.cancel()

    asyncio.run(main())


def _layer_zip(text: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("python/lib.py", text)
    return buffer.getvalue()


def test_layer_tombstones_go_when_no_function_uses_them(tmp_path: Path) -> None:
    """A deleted layer version a function still uses keeps its content; once that function
    goes, the content goes too, and the record unless it keeps the layer's numbering."""

    async def main() -> None:
        settings = Settings(data_dir=tmp_path)
        layout = DataLayout.at(tmp_path)
        metadata = MetadataStore(layout.metadata)
        blobs = BlobStore(layout.blobs)
        clock = ManualClock()
        layers = LayerService(settings, metadata, blobs, clock, layout=layout)
        service = FunctionService(
            settings, metadata, blobs, RuntimeCatalog({RUNTIME[6:]: sys.executable}, None),
            clock, layout=layout, layers=layers,
        )  # fmt: skip
        one = await layers.publish("lib", _layer_zip("1"))
        two = await layers.publish("lib", _layer_zip("2"))
        fields: dict[str, Any] = {"runtime": RUNTIME, "handler": "app.handler", "role": "r"}
        await service.create(_zip(), name="user", layers=[one.arn], **fields)
        await layers.delete("lib", 1)
        await layers.delete("lib", 2)  # unused: its content goes at once
        assert not layout.layer_of(two.code_digest).exists()
        assert (layout.layer_of(one.code_digest) / "python/lib.py").is_file()  # used
        await service.delete("user")
        assert not layout.layer_of(one.code_digest).exists()
        assert not blobs.exists(one.code_digest)
        assert [(v.version, v.deleted) for v in layers._versions["lib"].values()] == [(2, True)]
        assert (await layers.publish("lib", _layer_zip("3"))).version == 3  # never reused

    asyncio.run(main())
