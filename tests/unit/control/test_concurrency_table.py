"""ConcurrencyService writes the one reservations table the scheduler reads: after each
validated, persisted change, and from the store at start-up."""

from __future__ import annotations

import asyncio
import io
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from ember.clock import ManualClock
from ember.config import Settings
from ember.control import FunctionService
from ember.control.aliases import AliasService
from ember.control.concurrency import ConcurrencyService
from ember.errors import InvalidParameterValueError
from ember.runtimes import RuntimeCatalog
from ember.scheduler import Reservations
from ember.store import BlobStore, DataLayout, MetadataStore

RUNTIME = f"python{sys.version_info.major}.{sys.version_info.minor}"
LIMIT = 100  # the minimum unreserved is 10


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return 1\n")
    return buffer.getvalue()


def _services(tmp_path: Path) -> tuple[FunctionService, ConcurrencyService, Reservations]:
    settings = Settings(data_dir=tmp_path, concurrency_limit=LIMIT)
    layout = DataLayout.at(tmp_path)
    metadata = MetadataStore(layout.metadata)
    clock = ManualClock()
    functions = FunctionService(
        settings, metadata, BlobStore(layout.blobs),
        RuntimeCatalog({RUNTIME[6:]: sys.executable}, None), clock, layout=layout,
    )  # fmt: skip
    reservations = Reservations(settings.concurrency_limit)
    concurrency = ConcurrencyService(
        reservations, metadata, functions, AliasService(metadata, functions), clock
    )
    return functions, concurrency, reservations


def test_changes_and_restarts_reach_the_reservations(tmp_path: Path) -> None:
    async def main() -> None:
        functions, concurrency, reservations = _services(tmp_path)
        activation = asyncio.create_task(functions.run())
        fields: dict[str, Any] = {"runtime": RUNTIME, "handler": "app.handler", "role": "r"}
        for name in ("f", "g"):
            await functions.create(_zip(), name=name, publish=True, **fields)
            await functions.wait_settled(name, 5)
        await concurrency.put_reserved("f", 30)
        await concurrency.put_provisioned("g", "1", 5)
        assert (reservations.reserved("f"), reservations.provisioned("g")) == (30, 5)
        assert concurrency.unreserved() == reservations.unreserved_capacity == LIMIT - 35
        # Refused changes leave the table as it was: 100 - 5 - 86 < 10.
        with pytest.raises(InvalidParameterValueError):
            await concurrency.put_reserved("f", 86)
        assert reservations.reserved("f") == 30
        activation.cancel()

        # A restart: a fresh table is filled from the store before anything runs.
        _, again, fresh = _services(tmp_path)
        await again.load()
        assert (fresh.reserved("f"), fresh.provisioned("g"), fresh.unreserved_capacity) == (
            30, 5, LIMIT - 35,
        )  # fmt: skip

        await concurrency.delete_reserved("f")
        await concurrency.delete_provisioned("g", "1")
        assert (reservations.reserved("f"), reservations.unreserved_capacity) == (None, LIMIT)

    asyncio.run(main())
