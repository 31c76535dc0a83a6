"""What one function version is: an immutable record, replaced whole on every change."""

from __future__ import annotations

import dataclasses
import enum
from typing import Any

LATEST = "$LATEST"


class FunctionState(enum.StrEnum):
    PENDING = "Pending"
    ACTIVE = "Active"
    FAILED = "Failed"
    INACTIVE = "Inactive"


class UpdateStatus(enum.StrEnum):
    IN_PROGRESS = "InProgress"
    SUCCESSFUL = "Successful"
    FAILED = "Failed"


@dataclasses.dataclass(frozen=True, slots=True)
class FunctionConfig:
    """One version of one function: `$LATEST` (mutable) or a published number (frozen)."""

    name: str
    arn: str  # unqualified function ARN
    runtime: str
    handler: str
    role: str
    code_digest: str  # hex SHA-256 of the zip: the blob's and the extracted folder's name
    code_sha256: str  # base64 SHA-256, as AWS shows it
    code_size: int
    unzipped_size: int
    description: str = ""
    timeout: int = 3
    memory_size: int = 128
    ephemeral_storage: int = 512
    environment: dict[str, str] = dataclasses.field(default_factory=dict)
    # Environment was given, even empty: AWS then shows `{"Variables": {}}`, else nothing.
    environment_given: bool = False
    architectures: tuple[str, ...] = ("x86_64",)
    tracing_mode: str = "PassThrough"
    # LoggingConfig without its defaults (see control.logconfig): {} is Text, default group.
    logging_config: dict[str, str] = dataclasses.field(default_factory=dict)
    version: str = LATEST
    last_modified: str = ""
    revision_id: str = ""
    state: FunctionState = FunctionState.PENDING
    state_reason: str = ""
    state_reason_code: str = ""
    last_update_status: UpdateStatus = UpdateStatus.SUCCESSFUL
    last_update_status_reason: str = ""
    tags: dict[str, str] = dataclasses.field(default_factory=dict)
    # DeadLetterConfig.TargetArn: where asynchronous events that fail for good go ("": none).
    dead_letter_arn: str = ""
    # $LATEST only: the last version number handed out (numbers are never reused) and the
    # revision it was published from (publishing an unchanged $LATEST returns that version).
    version_counter: int = 0
    published_revision: str = ""
    # $LATEST only: created with Publish=True; version 1 is published once it is Active.
    publish_when_active: bool = False
    # Layers: version ARNs in the order applied, with each one's content digest (its
    # unpacked folder's name) and CodeSize. Layer versions never change, so these stay true.
    layers: tuple[str, ...] = ()
    layer_digests: tuple[str, ...] = ()
    layer_sizes: tuple[int, ...] = ()
    # RuntimeVersionConfig.RuntimeVersionArn: the version of what runs `runtime` on this
    # server (set on every write and at load; see RuntimeCatalog.version_arn).
    runtime_version_arn: str = ""
    # PackageType Image: the ImageUri as given, ImageConfig's overrides as given (EntryPoint,
    # Command, WorkingDirectory; None: none given) and the image's own settings (see
    # control.images.ImageMeta, learnt when it is unpacked). Then `code_digest` is the image
    # manifest's hex digest and `code_sha256` the same hex digest (AWS shows it so).
    package_type: str = "Zip"
    image_uri: str = ""
    image_config: dict[str, Any] | None = None
    image_meta: dict[str, Any] | None = None
    # A Failed create or update: LastUpdateStatusReasonCode ("": InternalError).
    failure_code: str = ""
    # SnapStart.ApplyOn: "PublishedVersions" or "None" (see control.snapstart).
    snap_start: str = "None"

    @property
    def is_image(self) -> bool:
        return self.package_type == "Image"

    @property
    def snap_started(self) -> bool:
        """A published version that resumes from a snapshot (OptimizationStatus On)."""
        return self.snap_start == "PublishedVersions" and self.version != LATEST

    @property
    def qualified_arn(self) -> str:
        return f"{self.arn}:{self.version}"

    @property
    def wire_arn(self) -> str:
        """FunctionArn as AWS shows it: unqualified for $LATEST, qualified for a version."""
        return self.arn if self.version == LATEST else self.qualified_arn

    @property
    def log_group(self) -> str:
        return self.logging_config.get("LogGroup") or f"/aws/lambda/{self.name}"

    def to_doc(self) -> dict[str, Any]:
        doc = dataclasses.asdict(self)
        doc["architectures"] = list(self.architectures)
        return doc

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> FunctionConfig:
        fields = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in doc.items() if k in fields}
        values["architectures"] = tuple(values.get("architectures", ("x86_64",)))
        for name in ("layers", "layer_digests", "layer_sizes"):
            values[name] = tuple(values.get(name, ()))
        values["state"] = FunctionState(values.get("state", FunctionState.ACTIVE))
        values["last_update_status"] = UpdateStatus(
            values.get("last_update_status", UpdateStatus.SUCCESSFUL)
        )
        return cls(**values)
