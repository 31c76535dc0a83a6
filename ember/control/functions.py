"""Functions: create, read, update and delete them, and carry each to Active."""

from __future__ import annotations

import asyncio
import builtins
import dataclasses
import logging
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ember.blocking import run_blocking
from ember.clock import Clock, iso_millis
from ember.config import Settings
from ember.control import codezip, rules
from ember.control.destinations import check_dead_letter
from ember.control.layers import LayerService
from ember.control.model import LATEST, FunctionConfig, FunctionState, UpdateStatus
from ember.errors import (
    InvalidParameterValueError,
    PreconditionFailedError,
    ResourceConflictError,
    ResourceNotFoundError,
    ServiceError,
)
from ember.runtimes import RuntimeCatalog
from ember.store import BlobStore, MetadataStore

log = logging.getLogger("ember.control")

KIND = "function"
VERSION_KIND = "version"
# Fields UpdateFunctionConfiguration may change (snake_case, as `api` hands them over).
CONFIG_FIELDS = frozenset(
    {
        "runtime", "handler", "role", "description", "timeout", "memory_size",
        "environment", "ephemeral_storage", "tracing_mode", "dead_letter_arn", "layers",
    }
)  # fmt: skip
# Lambda's own ranges, tighter than the API model's.
MEMORY_RANGE = (128, 10240)
TIMEOUT_RANGE = (1, 900)
REVISION_MISMATCH = (
    "The Revision Id provided does not match the latest Revision Id. "
    "Call the GetFunction/GetAlias API to retrieve the latest Revision Id"
)

Listener = Callable[[FunctionConfig | None, FunctionConfig | None], None]
# Store keys of resources that belong to a function and go when it is deleted.
Dependent = Callable[[str], list[tuple[str, str]]]
# Raises when a version may not be deleted (e.g. aliases route to it).
VersionGuard = Callable[[str, str], None]


def not_found(arn: str) -> ResourceNotFoundError:
    return ResourceNotFoundError(f"Function not found: {arn}")


class FunctionService:
    """The authoritative in-memory model of functions, written through to the store."""

    def __init__(
        self,
        settings: Settings,
        metadata: MetadataStore,
        blobs: BlobStore,
        catalog: RuntimeCatalog,
        clock: Clock,
        *,
        layers: LayerService | None = None,
    ) -> None:
        self._settings = settings
        self._metadata = metadata
        self._blobs = blobs
        self._catalog = catalog
        self._clock = clock
        self._layers = layers  # resolves the `Layers` a function references
        self._functions: dict[str, FunctionConfig] = {}  # name -> $LATEST
        self._versions: dict[str, dict[str, FunctionConfig]] = {}  # name -> number -> version
        self._dependents: list[Dependent] = []
        self._version_guards: list[VersionGuard] = []
        self._settled: dict[str, asyncio.Event] = {}  # name -> set once Active and updated
        self._to_activate: asyncio.Queue[str] = asyncio.Queue()
        self._listeners: list[Listener] = []
        # Serialises read-modify-write of one function's record across awaits.
        self._write_lock = asyncio.Lock()

    # -- lifecycle ------------------------------------------------------------------

    async def load(self) -> None:
        """Read every function from the store; finish any activation a crash cut short."""
        for doc in (await run_blocking(self._metadata.load, VERSION_KIND)).values():
            version = FunctionConfig.from_doc(doc)
            self._versions.setdefault(version.name, {})[version.version] = version
        docs = await run_blocking(self._metadata.load, KIND)
        for name, doc in docs.items():
            config = FunctionConfig.from_doc(doc)
            self._functions[name] = config
            event = self._settled.setdefault(name, asyncio.Event())
            if self._is_settled(config):
                event.set()
            else:
                self._to_activate.put_nowait(name)

    async def run(self) -> None:
        """Carry Pending functions and in-progress updates to their final state."""
        while True:
            name = await self._to_activate.get()
            await self._activate(name)

    def add_listener(self, listener: Listener) -> None:
        """Called with (old, new) after each change; new is None on delete."""
        self._listeners.append(listener)

    def add_dependent(self, dependent: Dependent, guard: VersionGuard | None = None) -> None:
        """Resources deleted with a function, in the same transaction; `guard` may veto
        deleting one version."""
        self._dependents.append(dependent)
        if guard is not None:
            self._version_guards.append(guard)

    # -- reads ----------------------------------------------------------------------

    def arn(self, name: str) -> str:
        return f"arn:aws:lambda:{self._settings.region}:{self._settings.account_id}:function:{name}"

    def get(self, name: str, qualifier: str | None = None) -> FunctionConfig:
        """$LATEST, or the published version `qualifier` names (aliases: see AliasService)."""
        config = self._functions.get(name)
        if qualifier is not None and qualifier != LATEST:
            version = self._versions.get(name, {}).get(qualifier)
            if config is None or version is None:
                raise not_found(f"{self.arn(name)}:{qualifier}")
            return version
        if config is None:
            suffix = f":{qualifier}" if qualifier else ""
            raise not_found(self.arn(name) + suffix)
        return config

    def list(self) -> list[FunctionConfig]:
        return sorted(self._functions.values(), key=lambda c: c.name)

    def list_versions(self, name: str) -> builtins.list[FunctionConfig]:
        """$LATEST, then the published versions in order."""
        latest = self.get(name)
        published = sorted(self._versions.get(name, {}).values(), key=lambda c: int(c.version))
        return [latest, *published]

    def all_versions(self) -> builtins.list[FunctionConfig]:
        return [v for versions in self._versions.values() for v in versions.values()]

    def code_path(self, config: FunctionConfig) -> Path:
        return self._settings.code_dir / config.code_digest

    def blob_path(self, digest: str) -> Path:
        return self._blobs.path(digest)

    async def wait_settled(self, name: str, limit: float) -> FunctionConfig:
        """The function once Active with no update in progress (invokes wait here)."""
        config = self.get(name)
        if not self._is_settled(config):
            try:
                async with asyncio.timeout(limit):
                    await self._settled[name].wait()
            except TimeoutError:
                raise ResourceConflictError(
                    "The operation cannot be performed at this time. The function is "
                    f"currently in the following state: {self.get(name).state}"
                ) from None
            config = self.get(name)
        if config.state is FunctionState.FAILED:
            raise ResourceConflictError(
                "The operation cannot be performed at this time. The function is currently "
                f"in the following state: Failed ({config.state_reason})"
            )
        return config

    # -- writes ---------------------------------------------------------------------

    async def create(self, zip_file: bytes, **fields: Any) -> FunctionConfig:
        name: str = fields.pop("name")
        self._check_config(fields, creating=True)
        rules.check_tags(fields.get("tags") or {})
        self._check_dead_letter(name, fields.get("dead_letter_arn", ""))
        info = await run_blocking(codezip.inspect_zip, zip_file)
        self._resolve_layers(fields, info.unzipped_size)
        async with self._write_lock:
            if name in self._functions:
                raise ResourceConflictError(f"Function already exist: {name}")
            await run_blocking(self._blobs.put, zip_file)
            config = FunctionConfig(
                name=name,
                arn=self.arn(name),
                code_digest=info.digest,
                code_sha256=info.sha256_b64,
                code_size=info.size,
                unzipped_size=info.unzipped_size,
                last_modified=iso_millis(self._clock.wall(), "+0000"),
                revision_id=str(uuid.uuid4()),
                state=FunctionState.PENDING,
                state_reason="The function is being created.",
                state_reason_code="Creating",
                **fields,
            )
            await self._commit(None, config)
        return config

    async def update_code(
        self, name: str, zip_file: bytes, revision_id: str | None = None
    ) -> FunctionConfig:
        info = await run_blocking(codezip.inspect_zip, zip_file)
        async with self._write_lock:
            old = self.get(name)
            self._check_revision(old, revision_id)
            self._check_not_updating(old)
            self._check_layers_size(old, info.unzipped_size)
            await run_blocking(self._blobs.put, zip_file)
            new = dataclasses.replace(
                old,
                code_digest=info.digest,
                code_sha256=info.sha256_b64,
                code_size=info.size,
                unzipped_size=info.unzipped_size,
                last_modified=iso_millis(self._clock.wall(), "+0000"),
                revision_id=str(uuid.uuid4()),
                last_update_status=UpdateStatus.IN_PROGRESS,
                last_update_status_reason="The function is being created.",
            )
            await self._commit(old, new)
        return new

    async def update_configuration(
        self, name: str, revision_id: str | None = None, **fields: Any
    ) -> FunctionConfig:
        unknown = set(fields) - CONFIG_FIELDS
        if unknown:
            raise InvalidParameterValueError(f"Unsupported parameters: {sorted(unknown)}")
        async with self._write_lock:
            old = self.get(name)
            self._check_revision(old, revision_id)
            self._check_not_updating(old)
            if "dead_letter_arn" in fields:
                self._check_dead_letter(name, fields["dead_letter_arn"])
            self._resolve_layers(fields, old.unzipped_size)
            merged = {**old.to_doc(), **fields}
            self._check_config(merged, creating=False)
            new = dataclasses.replace(
                old,
                **fields,
                last_modified=iso_millis(self._clock.wall(), "+0000"),
                revision_id=str(uuid.uuid4()),
                last_update_status=UpdateStatus.IN_PROGRESS,
                last_update_status_reason="The function is being created.",
            )
            await self._commit(old, new)
        return new

    async def publish(
        self,
        name: str,
        *,
        code_sha256: str | None = None,
        description: str | None = None,
        revision_id: str | None = None,
    ) -> FunctionConfig:
        """PublishVersion: freeze $LATEST's code and configuration as the next number."""
        await self.wait_settled(name, limit=self._settings.init_timeout)
        async with self._write_lock:
            latest = self.get(name)
            self._check_not_updating(latest)
            if code_sha256 is not None and code_sha256 != latest.code_sha256:
                raise InvalidParameterValueError(
                    f"CodeSHA256 ({code_sha256}) is different from current CodeSHA256 in "
                    f"$LATEST ({latest.code_sha256}). Please try again with the CodeSHA256 in "
                    "$LATEST."
                )
            self._check_revision(latest, revision_id)
            existing = self._versions.get(name, {}).get(str(latest.version_counter))
            if latest.published_revision == latest.revision_id and existing is not None:
                return existing  # nothing changed since: Lambda returns that version
            number = str(latest.version_counter + 1)
            version = dataclasses.replace(
                latest,
                version=number,
                description=description if description is not None else latest.description,
                last_modified=iso_millis(self._clock.wall(), "+0000"),
                revision_id=str(uuid.uuid4()),
                version_counter=0,
                published_revision="",
            )
            bumped = dataclasses.replace(
                latest, version_counter=latest.version_counter + 1,
                published_revision=latest.revision_id,
            )  # fmt: skip
            await run_blocking(
                self._metadata.write,
                puts=[
                    (VERSION_KIND, f"{name}:{number}", version.to_doc()),
                    (KIND, name, bumped.to_doc()),
                ],
            )
            self._versions.setdefault(name, {})[number] = version
            self._functions[name] = bumped
            for listener in self._listeners:
                listener(None, version)
        return version

    async def delete(self, name: str, qualifier: str | None = None) -> None:
        if qualifier == LATEST:
            raise InvalidParameterValueError(
                "$LATEST version cannot be deleted without deleting the function."
            )
        async with self._write_lock:
            # AWS names the unqualified function when it is missing, qualifier or not.
            old = self.get(name)
            if qualifier is not None:
                await self._delete_version(name, qualifier)
                return
            versions = self._versions.pop(name, {})
            deletes = [(KIND, name)] + [(VERSION_KIND, f"{name}:{v}") for v in versions]
            for dependent in self._dependents:
                deletes += dependent(name)
            await run_blocking(self._metadata.write, deletes=deletes)
            del self._functions[name]
            for version in versions.values():
                for listener in self._listeners:
                    listener(version, None)
            event = self._settled.pop(name, None)
            if event is not None:
                event.set()  # wake waiters; they will find the function gone
            for listener in self._listeners:
                listener(old, None)
        for digest in {old.code_digest, *(v.code_digest for v in versions.values())}:
            await self._forget_code_if_unused(digest)

    async def _delete_version(self, name: str, number: str) -> None:
        version = self._versions.get(name, {}).get(number)
        if version is None:
            return  # Lambda: deleting a version that does not exist changes nothing
        for guard in self._version_guards:
            guard(name, number)
        await run_blocking(self._metadata.write, deletes=[(VERSION_KIND, f"{name}:{number}")])
        del self._versions[name][number]
        for listener in self._listeners:
            listener(version, None)
        await self._forget_code_if_unused(version.code_digest)

    # -- internals ------------------------------------------------------------------

    async def _forget_code_if_unused(self, digest: str) -> None:
        in_use = any(f.code_digest == digest for f in self._functions.values()) or any(
            v.code_digest == digest for v in self.all_versions()
        )
        if not in_use:
            await run_blocking(self._forget_code, digest)

    def _forget_code(self, digest: str) -> None:
        self._blobs.delete(digest)
        shutil.rmtree(self._settings.code_dir / digest, ignore_errors=True)

    @staticmethod
    def _is_settled(config: FunctionConfig) -> bool:
        return (
            config.state is not FunctionState.PENDING
            and config.last_update_status is not UpdateStatus.IN_PROGRESS
        )

    @staticmethod
    def _check_revision(config: FunctionConfig, revision_id: str | None) -> None:
        if revision_id is not None and revision_id != config.revision_id:
            raise PreconditionFailedError(REVISION_MISMATCH)

    @staticmethod
    def _check_not_updating(config: FunctionConfig) -> None:
        if config.last_update_status is UpdateStatus.IN_PROGRESS:
            raise ResourceConflictError(
                "The operation cannot be performed at this time. An update is in progress "
                f"for resource: {config.arn}"
            )

    def _check_dead_letter(self, name: str, arn: str) -> None:
        def exists(target: str, qualifier: str | None) -> bool:
            try:
                self.get(target, qualifier)
            except ResourceNotFoundError:
                return False
            return True

        check_dead_letter(
            arn,
            own_name=name,
            region=self._settings.region,
            account=self._settings.account_id,
            exists=exists,
        )

    def _resolve_layers(self, fields: dict[str, Any], code_unzipped: int) -> None:
        """`layers` (ARNs, as the API hands them) -> the ARNs, digests and sizes to store."""
        if "layers" not in fields:
            return
        arns = list(fields.pop("layers"))
        if self._layers is None:
            if arns:
                raise InvalidParameterValueError("Layers are not available on this server")
            fields.update(layers=(), layer_digests=(), layer_sizes=())
            return
        refs = self._layers.resolve(arns, code_unzipped)
        fields.update(layers=refs.arns, layer_digests=refs.digests, layer_sizes=refs.sizes)

    def _check_layers_size(self, config: FunctionConfig, code_unzipped: int) -> None:
        """New code plus the layers the function keeps: at most 250 MB unzipped."""
        if self._layers is None or not config.layer_digests:
            return
        if code_unzipped + self._layers.unzipped_size(config.layer_digests) > codezip.MAX_UNZIPPED:
            raise InvalidParameterValueError(
                f"Unzipped size must be smaller than {codezip.MAX_UNZIPPED} bytes"
            )

    def _check_config(self, fields: dict[str, Any], *, creating: bool) -> None:
        runtime = fields.get("runtime")
        handler = fields.get("handler")
        if creating and (not runtime or not handler):
            raise InvalidParameterValueError(
                "Runtime and Handler are mandatory parameters for functions created with "
                "deployment packages."
            )
        if runtime is not None:
            rules.check_runtime(runtime, self._catalog)
        if "memory_size" in fields:
            rules.check_range(fields["memory_size"], "memorySize", *MEMORY_RANGE)
        if "timeout" in fields:
            rules.check_range(fields["timeout"], "timeout", *TIMEOUT_RANGE)
        if "environment" in fields:
            rules.check_environment(fields["environment"])

    async def _commit(self, old: FunctionConfig | None, new: FunctionConfig) -> None:
        """Write `new` durably, then publish it in memory and to listeners."""
        await run_blocking(self._metadata.write, puts=[(KIND, new.name, new.to_doc())])
        self._functions[new.name] = new
        event = self._settled.setdefault(new.name, asyncio.Event())
        if self._is_settled(new):
            event.set()
        else:
            event.clear()
            self._to_activate.put_nowait(new.name)
        for listener in self._listeners:
            listener(old, new)

    async def _activate(self, name: str) -> None:
        config = self._functions.get(name)
        if config is None or self._is_settled(config):
            return
        try:
            data = await run_blocking(self._blobs.read, config.code_digest)
            await run_blocking(codezip.unpack, data, self.code_path(config))
            settled = dataclasses.replace(
                config,
                state=FunctionState.ACTIVE,
                state_reason="",
                state_reason_code="",
                last_update_status=UpdateStatus.SUCCESSFUL,
                last_update_status_reason="",
            )
        except (ServiceError, InvalidParameterValueError, OSError) as exc:
            log.error("function %s could not be activated: %s", name, exc)
            settled = dataclasses.replace(
                config,
                state=FunctionState.FAILED,
                state_reason=str(exc),
                state_reason_code="InternalError",
                last_update_status=UpdateStatus.FAILED,
                last_update_status_reason=str(exc),
            )
        async with self._write_lock:
            current = self._functions.get(name)
            if current is None or current.revision_id != config.revision_id:
                return  # changed or deleted meanwhile; that change queued its own activation
            # Lambda gives the function a new RevisionId when a create or update settles.
            await self._commit(current, dataclasses.replace(settled, revision_id=str(uuid.uuid4())))
