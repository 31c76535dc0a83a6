"""What an environment must know of the function version it runs."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

# What a container image function's environments are run as: Ember's `provided` runtime
# plan, with the image's own program (EnvironmentSpec.image) in the image's root.
IMAGE_RUNTIME = "provided.al2023"


@dataclasses.dataclass(frozen=True, slots=True)
class ImageRun:
    """A container image function's program: the image's ENTRYPOINT and CMD (or
    ImageConfig's EntryPoint and Command), WORKDIR (or WorkingDirectory) and ENV."""

    argv: tuple[str, ...]
    workdir: str
    env: tuple[tuple[str, str], ...]
    command: tuple[str, ...]  # the CMD part (its first word is Lambda's _HANDLER)

    @classmethod
    def of(cls, meta: Mapping[str, Any] | None, overrides: Mapping[str, Any] | None) -> ImageRun:
        """From the image's settings (control.images.ImageMeta's doc) and ImageConfig."""
        meta = meta or {}
        overrides = overrides or {}
        entrypoint = overrides.get("EntryPoint", meta.get("entrypoint") or [])
        command = overrides.get("Command", meta.get("cmd") or [])
        workdir = overrides.get("WorkingDirectory") or meta.get("workdir") or "/"
        env = []
        for item in meta.get("env") or []:
            name, sep, value = str(item).partition("=")
            if sep and name:
                env.append((name, value))
        return cls(
            argv=(*entrypoint, *command),
            workdir=workdir,
            env=tuple(env),
            command=tuple(command),
        )


@dataclasses.dataclass(frozen=True, slots=True)
class EnvironmentSpec:
    function_name: str
    version: str  # "$LATEST" or a published number
    revision_id: str  # environments built for another revision are retired
    runtime: str
    handler: str
    memory_size: int
    timeout: int  # seconds
    environment: Mapping[str, str]
    code_path: str
    log_group: str
    ephemeral_storage: int = 512  # MB of /tmp
    # The unpacked folders of the function's layers, in order (later ones win in /opt).
    layer_paths: tuple[str, ...] = ()
    # AWS_LAMBDA_INITIALIZATION_TYPE: "on-demand" or "provisioned-concurrency".
    initialization_type: str = "on-demand"
    # The execution role's ARN: environments' credentials act as this role.
    role: str = ""
    # LoggingConfig: "Text" or "JSON"; with JSON, the levels ("" with Text).
    log_format: str = "Text"
    application_log_level: str = ""
    system_log_level: str = ""
    tracing_mode: str = "PassThrough"  # TracingConfig.Mode: "Active" adds XRAY to REPORT
    function_arn: str = ""  # unqualified, for JSON platform records
    # A container image function (PackageType Image): `code_path` is the image's root file
    # system and this what runs in it; None for zip functions.
    image: ImageRun | None = None

    @property
    def pool_key(self) -> str:
        return f"{self.function_name}:{self.version}"
