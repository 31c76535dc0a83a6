"""Functions: create, read, update and delete them (`activation` carries each to Active)."""

from __future__ import annotations

import asyncio
import builtins
import dataclasses
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ember.blocking import run_blocking
from ember.clock import Clock, iso_millis
from ember.config import Settings
from ember.control import codezip, images, logconfig, rules
from ember.control.activation import Activation, is_settled
from ember.control.destinations import check_dead_letter
from ember.control.layers import LayerService
from ember.control.model import LATEST, FunctionConfig, FunctionState, UpdateStatus
from ember.control.versions import VERSION_KIND, VersionTable, next_version, version_key
from ember.errors import (
    InvalidParameterValueError,
    ResourceConflictError,
    ResourceNotFoundError,
)
from ember.runtimes import RuntimeCatalog
from ember.store import BlobStore, DataLayout, MetadataStore

KIND = "function"

Listener = Callable[[FunctionConfig | None, FunctionConfig | None], None]
# Store keys of resources that belong to a function and go when it is deleted.
Dependent = Callable[[str], list[tuple[str, str]]]
# The same for one published version: (function, version) -> store keys.
VersionDependent = Callable[[str, str], list[tuple[str, str]]]
# Raises when a version may not be deleted (e.g. aliases route to it).
VersionGuard = Callable[[str, str], None]
# Whether a live environment still runs the code unpacked at this path (the scheduler knows).
CodeUsers = Callable[[str], bool]


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
        layout: DataLayout,
        layers: LayerService | None = None,
    ) -> None:
        self._settings = settings
        self._layout = layout  # where unpacked code goes
        self._metadata = metadata
        self._blobs = blobs
        self._catalog = catalog
        self._clock = clock
        self._layers = layers  # resolves the `Layers` a function references
        self._functions: dict[str, FunctionConfig] = {}  # name -> $LATEST
        self._versions = VersionTable()  # published versions
        self._dependents: list[Dependent] = []
        self._version_guards: list[VersionGuard] = []
        self._version_dependents: list[VersionDependent] = []
        self._settled: dict[str, asyncio.Event] = {}  # name -> set once Active and updated
        self._listeners: list[Listener] = []
        self._code_users: CodeUsers | None = None  # environments on code no config uses
        self._activation = Activation(
            blobs,
            lookup=self._functions.get,
            code_path=self.code_path,
            settle=self._settle,
            images_root=layout.images,
        )
        if layers is not None:
            layers.set_users(self._blob_users)  # tombstones functions use stay
        # Serialises read-modify-write of one function's record across awaits.
        self._write_lock = asyncio.Lock()

    # -- lifecycle ------------------------------------------------------------------

    async def load(self) -> None:
        """Read every function from the store; finish any activation a crash cut short."""
        for doc in (await run_blocking(self._metadata.load, VERSION_KIND)).values():
            self._versions.add(self._with_runtime_version(FunctionConfig.from_doc(doc)))
        docs = await run_blocking(self._metadata.load, KIND)
        for name, doc in docs.items():
            config = self._with_runtime_version(FunctionConfig.from_doc(doc))
            self._functions[name] = config
            event = self._settled.setdefault(name, asyncio.Event())
            if is_settled(config):
                event.set()
            else:
                self._activation.request(name)
        used = {c.code_digest for c in (*self._functions.values(), *self.all_versions())}
        await run_blocking(self._sweep_code, used)

    async def run(self) -> None:
        """Carry Pending functions and in-progress updates to their final state."""
        await self._activation.run()

    def add_listener(self, listener: Listener) -> None:
        """Called with (old, new) after each change; new is None on delete."""
        self._listeners.append(listener)

    def add_dependent(self, dependent: Dependent, guard: VersionGuard | None = None) -> None:
        """Resources deleted with a function, in the same transaction; `guard` may veto
        deleting one version."""
        self._dependents.append(dependent)
        if guard is not None:
            self._version_guards.append(guard)

    def set_code_users(self, users: CodeUsers) -> None:
        """Tell which unpacked code live environments run (by path, as `code_path` resolved
        names it): such code stays until `release_code` hears that the last one is gone."""
        self._code_users = users

    async def release_code(self, path: str) -> None:
        """No live environment runs the code at `path` any more: remove it (folder and
        blob) unless a function version of any function uses it."""
        digest = Path(path).name
        if path not in (self._code_location(digest), self._image_location(digest)):
            return  # not code of ours (a path from elsewhere): nothing to collect
        async with self._write_lock:
            await self._forget_code_if_unused(digest)

    def add_version_dependent(self, dependent: VersionDependent) -> None:
        """Resources deleted with one published version, in the same transaction (the
        listeners then hear of the version as (version, None))."""
        self._version_dependents.append(dependent)

    # -- reads ----------------------------------------------------------------------

    def arn(self, name: str) -> str:
        return f"arn:aws:lambda:{self._settings.region}:{self._settings.account_id}:function:{name}"

    def get(self, name: str, qualifier: str | None = None) -> FunctionConfig:
        """$LATEST, or the published version `qualifier` names (aliases: see AliasService)."""
        config = self._functions.get(name)
        if qualifier is not None and qualifier != LATEST:
            version = self._versions.get(name, qualifier)
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
        return [latest, *self._versions.of(name)]

    def all_versions(self) -> builtins.list[FunctionConfig]:
        return self._versions.all()

    def total_code_size(self) -> int:
        """AccountUsage.TotalCodeSize: functions, their versions and published layers."""
        size = sum(c.code_size for c in self._functions.values())
        size += sum(v.code_size for v in self.all_versions())
        return size + (self._layers.total_code_size() if self._layers is not None else 0)

    def code_path(self, config: FunctionConfig) -> Path:
        """The unpacked zip (at /var/task), or for an image its root file system."""
        if config.is_image:
            return self._layout.image_of(config.code_digest)
        return self._layout.code_of(config.code_digest)

    def layer_paths(self, config: FunctionConfig) -> tuple[Path, ...]:
        """The unpacked content of the version's layers, in order."""
        return tuple(self._layout.layer_of(d) for d in config.layer_digests)

    def blob_path(self, digest: str) -> Path:
        return self._blobs.path(digest)

    async def wait_settled(self, name: str, limit: float) -> FunctionConfig:
        """The function once Active with no update in progress (invokes wait here)."""
        config = self.get(name)
        if not is_settled(config):
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

    async def create(
        self, zip_file: bytes, *, publish: bool = False, **fields: Any
    ) -> FunctionConfig:
        """A new Pending function; with `publish`, version 1 follows once it is Active (as
        AWS answers Publish=True at once, before the function is ready)."""
        name: str = fields.pop("name")
        if "logging_config" in fields:
            fields["logging_config"] = logconfig.resolve({}, fields["logging_config"], name)
        rules.check_config(fields, self._catalog, creating=True)
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
                last_modified=self._now(),
                revision_id=str(uuid.uuid4()),
                state=FunctionState.PENDING,
                state_reason="The function is being created.",
                state_reason_code="Creating",
                publish_when_active=publish,
                runtime_version_arn=self._runtime_version(fields["runtime"]),
                **fields,
            )
            await self._commit(None, config)
        return config

    async def create_image(
        self,
        image_uri: str,
        *,
        image_config: dict[str, Any] | None = None,
        publish: bool = False,
        **fields: Any,
    ) -> FunctionConfig:
        """A new Pending function of PackageType Image: the image is found (and an archive
        or registry image copied) now, as AWS resolves the tag to a digest at once; it is
        unpacked by the activation worker."""
        name: str = fields.pop("name")
        if "logging_config" in fields:
            fields["logging_config"] = logconfig.resolve({}, fields["logging_config"], name)
        rules.check_config(fields, self._catalog, creating=False)
        rules.check_tags(fields.get("tags") or {})
        self._check_dead_letter(name, fields.get("dead_letter_arn", ""))
        if name in self._functions:
            raise ResourceConflictError(f"Function already exist: {name}")
        digest = await self._fetch_image(image_uri)
        async with self._write_lock:
            if name in self._functions:
                raise ResourceConflictError(f"Function already exist: {name}")
            config = FunctionConfig(
                name=name,
                arn=self.arn(name),
                runtime="",
                handler="",
                code_digest=digest,
                code_sha256=digest,
                code_size=0,
                unzipped_size=0,
                last_modified=self._now(),
                revision_id=str(uuid.uuid4()),
                state=FunctionState.PENDING,
                state_reason="The function is being created.",
                state_reason_code="Creating",
                publish_when_active=publish,
                package_type="Image",
                image_uri=image_uri,
                image_config=image_config or None,
                **fields,
            )
            await self._commit(None, config)
        return config

    async def update_image(
        self, name: str, image_uri: str, revision_id: str | None = None, *, publish: bool = False
    ) -> FunctionConfig:
        """UpdateFunctionCode of an image function: the image `image_uri` names now."""
        self.get(name)
        digest = await self._fetch_image(image_uri)
        async with self._write_lock:
            old = self.get(name)
            rules.check_revision(old, revision_id)
            rules.check_not_updating(old)
            new = dataclasses.replace(
                old,
                code_digest=digest,
                code_sha256=digest,
                image_uri=image_uri,
                image_meta=None,
                last_modified=self._now(),
                revision_id=str(uuid.uuid4()),
                last_update_status=UpdateStatus.IN_PROGRESS,
                last_update_status_reason="The function is being created.",
                publish_when_active=publish
                or (old.publish_when_active and old.state is FunctionState.PENDING),
            )
            await self._commit(old, new)
            if old.code_digest != new.code_digest:
                await self._forget_code_if_unused(old.code_digest)
        return new

    async def _fetch_image(self, image_uri: str) -> str:
        """The hex digest of the image manifest `image_uri` names (copied if need be)."""
        try:
            digest, _layout = await run_blocking(images.fetch, image_uri, self._layout.images)
        except images.ImageNotFoundError:
            raise InvalidParameterValueError(
                f"Source image {image_uri} does not exist. Provide a valid source image."
            ) from None
        except images.ImageAccessDeniedError:
            raise InvalidParameterValueError(
                f"Lambda does not have permission to access the image {image_uri}. Check "
                "that the image can be read."
            ) from None
        except images.InvalidImageError as exc:
            raise InvalidParameterValueError(
                f"Source image {image_uri} is not valid: {exc}"
            ) from None
        return digest.partition(":")[2]

    async def update_code(
        self, name: str, zip_file: bytes, revision_id: str | None = None, *, publish: bool = False
    ) -> FunctionConfig:
        """New code, InProgress until unpacked; with `publish`, the next version follows once
        the update succeeds (AWS answers Publish=True without waiting, too)."""
        info = await run_blocking(codezip.inspect_zip, zip_file)
        async with self._write_lock:
            old = self.get(name)
            rules.check_revision(old, revision_id)
            rules.check_not_updating(old)
            self._check_layers_size(old, info.unzipped_size)
            await run_blocking(self._blobs.put, zip_file)
            new = dataclasses.replace(
                old,
                code_digest=info.digest,
                code_sha256=info.sha256_b64,
                code_size=info.size,
                unzipped_size=info.unzipped_size,
                last_modified=self._now(),
                revision_id=str(uuid.uuid4()),
                last_update_status=UpdateStatus.IN_PROGRESS,
                last_update_status_reason="The function is being created.",
                # A create's Publish=True still pending carries over to this update.
                publish_when_active=publish
                or (old.publish_when_active and old.state is FunctionState.PENDING),
            )
            await self._commit(old, new)
            if old.code_digest != new.code_digest:
                # $LATEST's old code: goes now, or when the last environment on it does.
                await self._forget_code_if_unused(old.code_digest)
        return new

    async def update_configuration(
        self, name: str, revision_id: str | None = None, **fields: Any
    ) -> FunctionConfig:
        unknown = set(fields) - rules.CONFIG_FIELDS
        if unknown:
            raise InvalidParameterValueError(f"Unsupported parameters: {sorted(unknown)}")
        async with self._write_lock:
            old = self.get(name)
            rules.check_revision(old, revision_id)
            rules.check_not_updating(old)
            if "dead_letter_arn" in fields:
                self._check_dead_letter(name, fields["dead_letter_arn"])
            self._resolve_layers(fields, old.unzipped_size)
            if "logging_config" in fields:
                given = fields["logging_config"]
                fields["logging_config"] = logconfig.resolve(old.logging_config, given, name)
            merged = {**old.to_doc(), **fields}
            if old.is_image:
                # No Runtime nor Handler (the API refuses them for images).
                del merged["runtime"], merged["handler"]
            rules.check_config(merged, self._catalog, creating=False)
            new = dataclasses.replace(
                old,
                **fields,
                runtime_version_arn=self._runtime_version(merged.get("runtime", "")),
                last_modified=self._now(),
                revision_id=str(uuid.uuid4()),
                last_update_status=UpdateStatus.IN_PROGRESS,
                last_update_status_reason="The function is being created.",
            )
            await self._commit(old, new)
            if old.layer_digests != new.layer_digests:
                await self._collect_layers()  # deleted layer versions it no longer uses
        return new

    async def set_tags(self, name: str, tags: dict[str, str]) -> FunctionConfig:
        """TagResource / UntagResource: replace the function's tags. Tags are not
        configuration: the revision (and the warm environments) stay."""
        async with self._write_lock:
            old = self.get(name)
            new = dataclasses.replace(old, tags=dict(tags))
            if not is_settled(old):
                # The activation under way settles the record it started from, which lacks
                # these tags: a new revision makes it start again from this one.
                new = dataclasses.replace(new, revision_id=str(uuid.uuid4()))
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
            rules.check_not_updating(latest)
            if code_sha256 is not None and code_sha256 != latest.code_sha256:
                raise InvalidParameterValueError(
                    f"CodeSHA256 ({code_sha256}) is different from current CodeSHA256 in "
                    f"$LATEST ({latest.code_sha256}). Please try again with the CodeSHA256 in "
                    "$LATEST."
                )
            rules.check_revision(latest, revision_id)
            existing = self._versions.get(name, str(latest.version_counter))
            if latest.published_revision == latest.revision_id and existing is not None:
                return existing  # nothing changed since: Lambda returns that version
            version, bumped = next_version(latest, description, self._now())
            await run_blocking(
                self._metadata.write,
                puts=[
                    (VERSION_KIND, version_key(name, version.version), version.to_doc()),
                    (KIND, name, bumped.to_doc()),
                ],
            )
            self._versions.add(version)
            self._functions[name] = bumped
            for listener in self._listeners:
                listener(latest, bumped)  # its RevisionId moved (nothing else did)
                listener(None, version)
        return version

    async def settle_version(
        self, name: str, number: str, state: FunctionState, reason: str = "", code: str = ""
    ) -> FunctionConfig | None:
        """A SnapStart version's Init ran (Active) or failed (Failed, with AWS's
        StateReason and StateReasonCode). None when the version is gone meanwhile."""
        async with self._write_lock:
            old = self._versions.get(name, number)
            if old is None:
                return None
            new = dataclasses.replace(old, state=state, state_reason=reason, state_reason_code=code)
            await run_blocking(
                self._metadata.write,
                puts=[(VERSION_KIND, version_key(name, number), new.to_doc())],
            )
            self._versions.add(new)
            for listener in self._listeners:
                listener(old, new)
        return new

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
            versions = self._versions.pop_function(name)
            deletes = [(KIND, name)] + [(VERSION_KIND, version_key(name, v)) for v in versions]
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
            # Under the lock: a create of the same zip waiting on it must find the code
            # either still in use (and kept) or gone before it stores it again.
            for digest in {old.code_digest, *(v.code_digest for v in versions.values())}:
                await self._forget_code_if_unused(digest)
            await self._collect_layers()

    async def _delete_version(self, name: str, number: str) -> None:
        version = self._versions.get(name, number)
        if version is None:
            return  # Lambda: deleting a version that does not exist changes nothing
        for guard in self._version_guards:
            guard(name, number)
        deletes = [(VERSION_KIND, version_key(name, number))]
        for dependent in self._version_dependents:
            deletes += dependent(name, number)
        await run_blocking(self._metadata.write, deletes=deletes)
        self._versions.remove(name, number)
        for listener in self._listeners:
            listener(version, None)
        await self._forget_code_if_unused(version.code_digest)
        await self._collect_layers()

    # -- internals ------------------------------------------------------------------

    async def _forget_code_if_unused(self, digest: str) -> None:
        """Remove a blob and its unpacked folder unless a function version or a live
        environment uses it; call with the write lock held."""
        in_use = any(f.code_digest == digest for f in self._functions.values()) or any(
            v.code_digest == digest for v in self.all_versions()
        )
        if not in_use and self._code_users is not None:
            in_use = self._code_users(self._code_location(digest)) or self._code_users(
                self._image_location(digest)
            )
        if not in_use:
            await run_blocking(self._forget_code, digest)

    def _code_location(self, digest: str) -> str:
        """The code's path as environment specs name it (resolved, like the invoker's)."""
        return str(self._layout.code_of(digest).resolve())

    def _image_location(self, digest: str) -> str:
        return str(self._layout.image_of(digest).resolve())

    def _forget_code(self, digest: str) -> None:
        if self._layers is None or not self._layers.uses(digest):  # the same zip as a layer
            self._blobs.delete(digest)
        shutil.rmtree(self._layout.code_of(digest), ignore_errors=True)
        # An image's root file system and the copy it was unpacked from (if fetched).
        shutil.rmtree(self._layout.image_of(digest), ignore_errors=True)
        shutil.rmtree(images.fetched(self._layout.images, f"sha256:{digest}"), ignore_errors=True)

    def _sweep_code(self, used: set[str]) -> None:
        """Remove unpacked code (and its blob) no function version uses: left by a crash
        mid-unpack, or by a server from before code was collected. At start only (no
        environment runs yet). Blocking: call off the loop."""
        code = self._layout.code.iterdir() if self._layout.code.is_dir() else iter(())
        for folder in code:
            if folder.name.startswith("."):  # an unpack the crash cut short
                shutil.rmtree(folder, ignore_errors=True)
            elif folder.name not in used:
                self._forget_code(folder.name)
        self._sweep_images(used)

    def _sweep_images(self, used: set[str]) -> None:
        """The same for images' root file systems and fetched copies (blocking)."""
        sources = self._layout.images / images.SOURCES
        for root in (self._layout.images, sources):
            if not root.is_dir():
                continue
            for folder in root.iterdir():
                if folder == sources:
                    continue
                if folder.name.startswith(".") or folder.name not in used:
                    shutil.rmtree(folder, ignore_errors=True)

    def _blob_users(self) -> set[str]:
        """Every blob a function version uses: its code and its layers'."""
        used: set[str] = set()
        for config in (*self._functions.values(), *self.all_versions()):
            used.add(config.code_digest)
            used.update(config.layer_digests)
        return used

    async def _collect_layers(self) -> None:
        if self._layers is not None:
            await self._layers.collect()

    def _now(self) -> str:
        """LastModified as Lambda writes it."""
        return iso_millis(self._clock.wall(), "+0000")

    def _runtime_version(self, runtime: str) -> str:
        """The runtime version ARN of what runs `runtime` here (AWS: RuntimeVersionConfig)."""
        return self._catalog.version_arn(runtime, self._settings.region)

    def _with_runtime_version(self, config: FunctionConfig) -> FunctionConfig:
        """`config` as this server runs it: the interpreter may have changed since."""
        arn = self._runtime_version(config.runtime)
        if arn == config.runtime_version_arn:
            return config
        return dataclasses.replace(config, runtime_version_arn=arn)

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

    async def _commit(
        self, old: FunctionConfig | None, new: FunctionConfig, version: FunctionConfig | None = None
    ) -> None:
        """Write `new` (and a `version` published from it) durably in one write, then make
        them known in memory and to listeners."""
        puts = [(KIND, new.name, new.to_doc())]
        if version is not None:
            puts.append((VERSION_KIND, version_key(new.name, version.version), version.to_doc()))
        await run_blocking(self._metadata.write, puts=puts)
        self._functions[new.name] = new
        if version is not None:
            self._versions.add(version)
        event = self._settled.setdefault(new.name, asyncio.Event())
        if is_settled(new):
            event.set()
        else:
            event.clear()
            self._activation.request(new.name)
        for listener in self._listeners:
            listener(old, new)
            if version is not None:
                listener(None, version)

    async def _settle(self, config: FunctionConfig, settled: FunctionConfig) -> None:
        """Make known what activating `config` came to (Active or Failed)."""
        name = config.name
        async with self._write_lock:
            current = self._functions.get(name)
            if current is None or current.revision_id != config.revision_id:
                # Changed or deleted meanwhile (that change queued its own activation): the
                # code just unpacked may be nobody's now, and the delete could not see it.
                await self._forget_code_if_unused(config.code_digest)
                return
            # Lambda gives the function a new RevisionId when a create or update settles.
            settled = dataclasses.replace(settled, revision_id=str(uuid.uuid4()))
            version = None
            if settled.publish_when_active and settled.state is FunctionState.ACTIVE:
                # CreateFunction's Publish=True: version 1 comes in the write that settles it.
                version, settled = next_version(settled, None, self._now())
            await self._commit(current, settled, version)
