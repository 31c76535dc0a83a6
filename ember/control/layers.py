"""Layers: versions published from zips, their permissions, and what functions may reference.

A layer version is immutable once published: its zip is a blob, unpacked once into
`<data>/layers/<digest>`. Deleting a version removes it from the API (Get/List answer as if
it never was) but keeps a tombstone: version numbers are never reused, and functions that
already reference it keep their content, as on Lambda. The model lives in memory and is
written through to the metadata store, like functions.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import shutil
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from ember.blocking import run_blocking
from ember.clock import Clock, iso_millis
from ember.config import Settings
from ember.control import codezip
from ember.errors import (
    InvalidParameterValueError,
    PreconditionFailedError,
    ResourceConflictError,
    ResourceNotFoundError,
)
from ember.store import BlobStore, DataLayout, MetadataStore

KIND = "layer-version"
MAX_FUNCTION_LAYERS = 5
NOT_FOUND = "The resource you requested does not exist."
NO_POLICY = "No policy is associated with the given resource."
POLICY_REVISION_MISMATCH = (
    "The Revision Id provided does not match the latest Revision Id. "
    "Call the GetLayerPolicy API to retrieve the latest Revision Id"
)


@dataclasses.dataclass(frozen=True, slots=True)
class LayerVersion:
    name: str
    version: int
    layer_arn: str
    code_digest: str  # hex SHA-256 of the zip: the blob's and the unpacked folder's name
    code_sha256: str  # base64, as AWS shows it
    code_size: int
    unzipped_size: int
    created: str
    description: str = ""
    license_info: str | None = None
    compatible_runtimes: tuple[str, ...] = ()
    compatible_architectures: tuple[str, ...] = ()
    # Given at publish, even empty: AWS then shows `[]`, else nothing.
    runtimes_given: bool = False
    architectures_given: bool = False
    statements: tuple[dict[str, Any], ...] = ()  # the version's resource policy
    policy_revision: str = ""
    deleted: bool = False  # a tombstone: gone from the API, kept for its users

    @property
    def arn(self) -> str:
        return f"{self.layer_arn}:{self.version}"

    def to_doc(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> LayerVersion:
        values = dict(doc)
        for name in ("compatible_runtimes", "compatible_architectures", "statements"):
            values[name] = tuple(values.get(name, ()))
        return cls(**values)


@dataclasses.dataclass(frozen=True, slots=True)
class LayerRefs:
    """The layers a function references, resolved: ARNs, digests, CodeSizes, in order."""

    arns: tuple[str, ...] = ()
    digests: tuple[str, ...] = ()
    sizes: tuple[int, ...] = ()


class LayerService:
    """The authoritative in-memory model of layer versions, written through to the store."""

    def __init__(
        self,
        settings: Settings,
        metadata: MetadataStore,
        blobs: BlobStore,
        clock: Clock,
        *,
        layout: DataLayout,
    ) -> None:
        self._settings = settings
        self._layout = layout  # where unpacked content goes
        self._metadata = metadata
        self._blobs = blobs
        self._clock = clock
        self._versions: dict[str, dict[int, LayerVersion]] = {}  # name -> number -> version
        self._lock = asyncio.Lock()  # serialises version numbering and policy edits
        # Blob digests functions still use (code or layers): set by FunctionService.
        self._users: Callable[[], set[str]] = set

    async def load(self) -> None:
        """Read every version; unpack any whose folder a crash left missing."""
        docs = await run_blocking(self._metadata.load, KIND)
        for doc in docs.values():
            layer = LayerVersion.from_doc(doc)
            self._versions.setdefault(layer.name, {})[layer.version] = layer
            if not layer.deleted or self._blobs.exists(layer.code_digest):
                await run_blocking(self._unpack, layer.code_digest)  # (collected: no content)

    # -- names ----------------------------------------------------------------------

    def layer_arn(self, name: str) -> str:
        s = self._settings
        return f"arn:aws:lambda:{s.region}:{s.account_id}:layer:{name}"

    def name_of(self, name_or_arn: str) -> str:
        """LayerName as given (a name or a layer ARN) -> the name."""
        if name_or_arn.startswith("arn:"):
            return name_or_arn.rsplit(":", 1)[-1]
        return name_or_arn

    # -- reads ----------------------------------------------------------------------

    def get(self, name_or_arn: str, version: int) -> LayerVersion:
        if version < 1:
            raise InvalidParameterValueError("Layer Version Cannot be less than 1")
        found = self._versions.get(self.name_of(name_or_arn), {}).get(version)
        if found is None or found.deleted:
            raise ResourceNotFoundError(NOT_FOUND)
        return found

    def get_by_arn(self, arn: str) -> LayerVersion:
        """arn:aws:lambda:<region>:<account>:layer:<name>:<version>."""
        parts = arn.split(":")
        s = self._settings
        if (
            len(parts) != 8
            or parts[5] != "layer"
            or not parts[7].isdigit()
            or (parts[3], parts[4]) != (s.region, s.account_id)  # another region's or account's
        ):
            raise ResourceNotFoundError(NOT_FOUND)
        return self.get(parts[6], int(parts[7]))

    def versions(
        self, name_or_arn: str, runtime: str | None = None, architecture: str | None = None
    ) -> list[LayerVersion]:
        """Live versions, newest first, compatible with the filters."""
        found = self._versions.get(self.name_of(name_or_arn), {})
        return [
            v
            for _, v in sorted(found.items(), reverse=True)
            if not v.deleted and _matches(v, runtime, architecture)
        ]

    def layers(
        self, runtime: str | None = None, architecture: str | None = None
    ) -> list[LayerVersion]:
        """Each layer's newest live version matching the filters, by layer name."""
        latest = []
        for name in sorted(self._versions):
            matching = self.versions(name, runtime, architecture)
            if matching:
                latest.append(matching[0])
        return latest

    def total_code_size(self) -> int:
        """CodeSize of every live version, as GetAccountSettings counts it."""
        return sum(
            v.code_size for versions in self._versions.values() for v in versions.values()
            if not v.deleted
        )  # fmt: skip

    def uses(self, digest: str) -> bool:
        """Whether a layer version (live or a tombstone) holds this blob."""
        return any(
            v.code_digest == digest for versions in self._versions.values()
            for v in versions.values()
        )  # fmt: skip

    def set_users(self, users: Callable[[], set[str]]) -> None:
        """Tell which blob digests function versions use (tombstones they use stay)."""
        self._users = users

    async def collect(self) -> None:
        """Drop the tombstones no function uses any more: their content (blob, unpacked
        folder) unless a live version shares it, and their record, except each layer's
        highest number (kept so that numbers are never reused, as on Lambda)."""
        async with self._lock:
            used = self._users()
            deletes: list[tuple[str, str]] = []
            unused: set[str] = set()
            for name, versions in self._versions.items():
                top = max(versions)
                for number, layer in list(versions.items()):
                    if not layer.deleted or layer.code_digest in used:
                        continue
                    unused.add(layer.code_digest)
                    if number != top:
                        deletes.append((KIND, f"{name}:{number}"))
                        del versions[number]
            live = {
                v.code_digest for versions in self._versions.values()
                for v in versions.values() if not v.deleted
            }  # fmt: skip
            if deletes:
                await run_blocking(self._metadata.write, deletes=deletes)
            for digest in unused - live:
                await run_blocking(self._forget_content, digest)

    def _forget_content(self, digest: str) -> None:
        shutil.rmtree(self._layout.layer_of(digest), ignore_errors=True)
        if digest not in self._users():  # a function's code may be the same zip
            self._blobs.delete(digest)

    def blob_path(self, digest: str) -> str | None:
        """The zip of a layer version (live or not) with this content, for Content.Location."""
        for versions in self._versions.values():
            if any(v.code_digest == digest for v in versions.values()):
                return str(self._blobs.path(digest))
        return None

    # -- writes ---------------------------------------------------------------------

    async def publish(
        self,
        name_or_arn: str,
        zip_file: bytes,
        *,
        description: str = "",
        license_info: str | None = None,
        compatible_runtimes: Sequence[str] | None = None,
        compatible_architectures: Sequence[str] | None = None,
    ) -> LayerVersion:
        info = await run_blocking(codezip.inspect_zip, zip_file)
        name = self.name_of(name_or_arn)
        async with self._lock:  # with collect(): content is never removed under a publish
            await run_blocking(self._blobs.put, zip_file)
            await run_blocking(self._unpack, info.digest)
            versions = self._versions.setdefault(name, {})
            layer = LayerVersion(
                name=name,
                version=max(versions, default=0) + 1,  # tombstones keep numbers taken
                layer_arn=self.layer_arn(name),
                code_digest=info.digest,
                code_sha256=info.sha256_b64,
                code_size=info.size,
                unzipped_size=info.unzipped_size,
                created=iso_millis(self._clock.wall(), "+0000"),
                description=description,
                license_info=license_info,
                compatible_runtimes=tuple(compatible_runtimes or ()),
                compatible_architectures=tuple(compatible_architectures or ()),
                runtimes_given=compatible_runtimes is not None,
                architectures_given=compatible_architectures is not None,
            )
            await self._save(layer)
        return layer

    async def delete(self, name_or_arn: str, version: int) -> None:
        """Lambda answers 204 whether the version existed or not."""
        if version < 1:
            raise InvalidParameterValueError("Layer Version Cannot be less than 1")
        async with self._lock:
            found = self._versions.get(self.name_of(name_or_arn), {}).get(version)
            if found is not None and not found.deleted:
                await self._save(dataclasses.replace(found, deleted=True, statements=()))
        await self.collect()  # unused already: its content goes now

    # -- permissions ----------------------------------------------------------------

    def _policy_target(self, name_or_arn: str, version: int) -> LayerVersion:
        if version < 1:
            raise InvalidParameterValueError("Layer Version Cannot be less than 1")
        name = self.name_of(name_or_arn)
        found = self._versions.get(name, {}).get(version)
        if found is None or found.deleted:
            raise ResourceNotFoundError(
                f"Layer version {self.layer_arn(name)}:{version} does not exist."
            )
        return found

    async def add_permission(
        self,
        name_or_arn: str,
        version: int,
        *,
        statement_id: str,
        action: str,
        principal: str,
        organization_id: str | None = None,
        revision_id: str | None = None,
    ) -> tuple[dict[str, Any], str]:
        """The statement added and the policy's new RevisionId."""
        async with self._lock:
            layer = self._policy_target(name_or_arn, version)
            _check_revision(layer, revision_id)
            if any(s["Sid"] == statement_id for s in layer.statements):
                raise ResourceConflictError(
                    f"The statement id ({statement_id}) provided already exists. Please "
                    "provide a new statement id, or remove the existing statement."
                )
            statement: dict[str, Any] = {
                "Sid": statement_id,
                "Effect": "Allow",
                "Principal": principal if principal == "*" else {"AWS": _iam_root(principal)},
                "Action": action,
                "Resource": layer.arn,
            }
            if organization_id:
                statement["Condition"] = {"StringEquals": {"aws:PrincipalOrgID": organization_id}}
            updated = dataclasses.replace(
                layer,
                statements=(*layer.statements, statement),
                policy_revision=str(uuid.uuid4()),
            )
            await self._save(updated)
        return statement, updated.policy_revision

    async def remove_permission(
        self, name_or_arn: str, version: int, statement_id: str, revision_id: str | None = None
    ) -> None:
        async with self._lock:
            layer = self._policy_target(name_or_arn, version)
            _check_revision(layer, revision_id)
            kept = tuple(s for s in layer.statements if s["Sid"] != statement_id)
            if len(kept) == len(layer.statements):
                raise ResourceNotFoundError(
                    f"Statement {statement_id} is not found in resource policy."
                )
            await self._save(
                dataclasses.replace(layer, statements=kept, policy_revision=str(uuid.uuid4()))
            )

    def policy(self, name_or_arn: str, version: int) -> tuple[str, str]:
        """The policy document (JSON text) and its RevisionId."""
        layer = self._policy_target(name_or_arn, version)
        if not layer.statements:
            raise ResourceNotFoundError(NO_POLICY)
        document = {"Version": "2012-10-17", "Id": "default", "Statement": list(layer.statements)}
        return json.dumps(document, separators=(",", ":")), layer.policy_revision

    # -- what functions reference ---------------------------------------------------

    def resolve(self, arns: Sequence[str], code_unzipped: int) -> LayerRefs:
        """Check a function's `Layers` as Lambda does; their content, in order."""
        if len(arns) > MAX_FUNCTION_LAYERS:
            raise InvalidParameterValueError(
                f"Cannot reference more than {MAX_FUNCTION_LAYERS} layers."
            )
        region = self._settings.region
        if any(arn.split(":")[3:4] != [region] for arn in arns):
            raise InvalidParameterValueError(
                "Layers are not in the same region as the function. "
                f"Layers are expected to be in region {region}."
            )
        seen: dict[str, str] = {}
        for arn in arns:
            layer_arn = arn.rpartition(":")[0]
            if layer_arn in seen:
                raise InvalidParameterValueError(
                    "Two different versions of the same layer are not allowed to be referenced "
                    f"in the same function. {seen[layer_arn]} and {arn} are versions of the "
                    "same layer."
                )
            seen[layer_arn] = arn
        found = []
        for arn in arns:
            try:
                found.append(self.get_by_arn(arn))
            except (ResourceNotFoundError, InvalidParameterValueError):
                raise InvalidParameterValueError(f"Layer version {arn} does not exist.") from None
        if code_unzipped + sum(v.unzipped_size for v in found) > codezip.MAX_UNZIPPED:
            raise InvalidParameterValueError(
                f"Unzipped size must be smaller than {codezip.MAX_UNZIPPED} bytes"
            )
        return LayerRefs(
            arns=tuple(arns),
            digests=tuple(v.code_digest for v in found),
            sizes=tuple(v.code_size for v in found),
        )

    def unzipped_size(self, digests: Sequence[str]) -> int:
        """The unpacked size of layers a function already references (deleted or not)."""
        sizes = {
            v.code_digest: v.unzipped_size for vs in self._versions.values() for v in vs.values()
        }
        return sum(sizes.get(d, 0) for d in digests)

    # -- internals ------------------------------------------------------------------

    def _unpack(self, digest: str) -> None:
        target = self._layout.layer_of(digest)
        if not target.is_dir():
            codezip.unpack(self._blobs.read(digest), target)

    async def _save(self, layer: LayerVersion) -> None:
        key = f"{layer.name}:{layer.version}"
        await run_blocking(self._metadata.write, puts=[(KIND, key, layer.to_doc())])
        self._versions.setdefault(layer.name, {})[layer.version] = layer


def _matches(layer: LayerVersion, runtime: str | None, architecture: str | None) -> bool:
    if runtime is not None and runtime not in layer.compatible_runtimes:
        return False
    return architecture is None or architecture in layer.compatible_architectures


def _check_revision(layer: LayerVersion, revision_id: str | None) -> None:
    if revision_id is not None and revision_id != layer.policy_revision:
        raise PreconditionFailedError(POLICY_REVISION_MISMATCH)


def _iam_root(principal: str) -> str:
    return f"arn:aws:iam::{principal}:root" if principal.isdigit() else principal
