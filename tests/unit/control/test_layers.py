"""LayerService on a real store: numbering, tombstones, Lambda's rules for a function's Layers."""

from __future__ import annotations

import asyncio
import io
import zipfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest

from ember.clock import ManualClock
from ember.config import Settings
from ember.control.layers import LayerService
from ember.errors import (
    InvalidParameterValueError,
    PreconditionFailedError,
    ResourceConflictError,
    ResourceNotFoundError,
)
from ember.store import BlobStore, DataLayout, MetadataStore

T = TypeVar("T")
ARN = "arn:aws:lambda:us-east-1:000000000000:layer:"


def run(step: Callable[[], Awaitable[T]]) -> T:
    async def main() -> T:
        return await step()

    return asyncio.run(main())


@pytest.fixture
def service(tmp_path: Path) -> LayerService:
    layout = DataLayout.at(tmp_path)
    return LayerService(
        Settings(data_dir=tmp_path), MetadataStore(layout.metadata), BlobStore(layout.blobs),
        ManualClock(), layout=layout,
    )  # fmt: skip


def _zip(text: str = "x") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("python/m.py", text)
    return buffer.getvalue()


def test_versions_count_up_and_survive_deletion_as_tombstones(
    service: LayerService, tmp_path: Path
) -> None:
    async def steps() -> None:
        one = await service.publish("lib", _zip("1"), compatible_runtimes=["python3.12"])
        two = await service.publish(ARN + "lib", _zip("2"))  # a layer ARN names it too
        assert (one.version, two.version) == (1, 2)
        assert one.arn == ARN + "lib:1"
        assert (tmp_path / "layers" / one.code_digest / "python/m.py").read_text() == "1"
        await service.delete("lib", 2)
        with pytest.raises(ResourceNotFoundError):
            service.get("lib", 2)
        assert (await service.publish("lib", _zip("3"))).version == 3
        assert [v.version for v in service.versions("lib")] == [3, 1]
        assert [v.version for v in service.versions("lib", runtime="python3.12")] == [1]
        # A fresh service reads the same state back.
        again = LayerService(
            Settings(data_dir=tmp_path), MetadataStore(tmp_path / "ember.db"),
            BlobStore(tmp_path / "blobs"), ManualClock(), layout=DataLayout.at(tmp_path),
        )  # fmt: skip
        await again.load()
        assert [v.version for v in again.versions("lib")] == [3, 1]

    run(steps)


def test_version_numbers_below_one(service: LayerService) -> None:
    with pytest.raises(InvalidParameterValueError, match="Layer Version Cannot be less than 1"):
        service.get("lib", 0)


def test_function_layers_rules(service: LayerService) -> None:
    async def steps() -> None:
        a = await service.publish("a", _zip())
        b = await service.publish("b", _zip())
        await service.publish("a", _zip("again"))
        refs = service.resolve([b.arn, a.arn], code_unzipped=10)
        assert refs.arns == (b.arn, a.arn)
        assert refs.digests == (b.code_digest, a.code_digest)
        assert refs.sizes == (b.code_size, a.code_size)
        with pytest.raises(InvalidParameterValueError, match="Cannot reference more than 5"):
            service.resolve([a.arn] * 6, 0)
        with pytest.raises(InvalidParameterValueError, match=f"{a.arn} and {ARN}a:2 are versions"):
            service.resolve([a.arn, ARN + "a:2"], 0)
        with pytest.raises(InvalidParameterValueError, match="expected to be in region us-east-1"):
            service.resolve([a.arn.replace("us-east-1", "eu-west-1")], 0)
        with pytest.raises(InvalidParameterValueError, match=f"Layer version {ARN}a:7 does not"):
            service.resolve([ARN + "a:7"], 0)
        with pytest.raises(InvalidParameterValueError, match="Unzipped size must be smaller"):
            service.resolve([a.arn], 262_144_000)
        await service.delete("b", 1)
        with pytest.raises(InvalidParameterValueError, match="does not exist"):
            service.resolve([b.arn], 0)  # new references to a deleted version: refused
        assert service.unzipped_size([b.code_digest]) == b.unzipped_size  # old ones: kept

    run(steps)


def test_policy_statements_and_revisions(service: LayerService) -> None:
    async def steps() -> None:
        await service.publish("p", _zip())
        with pytest.raises(ResourceNotFoundError, match="No policy is associated"):
            service.policy("p", 1)
        statement, revision = await service.add_permission(
            "p", 1, statement_id="s1", action="lambda:GetLayerVersion", principal="*"
        )
        assert statement["Resource"] == ARN + "p:1"
        with pytest.raises(ResourceConflictError, match=r"statement id \(s1\)"):
            await service.add_permission(
                "p", 1, statement_id="s1", action="lambda:GetLayerVersion", principal="*"
            )
        with pytest.raises(PreconditionFailedError, match="GetLayerPolicy"):
            await service.remove_permission("p", 1, "s1", revision_id="stale")
        await service.remove_permission("p", 1, "s1", revision_id=revision)
        with pytest.raises(ResourceNotFoundError, match="Statement s1 is not found"):
            await service.remove_permission("p", 1, "s1")
        with pytest.raises(ResourceNotFoundError, match=f"Layer version {ARN}p:2 does not exist"):
            service.policy("p", 2)

    run(steps)
