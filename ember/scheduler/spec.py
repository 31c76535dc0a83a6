"""What an environment must know of the function version it runs."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping


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

    @property
    def pool_key(self) -> str:
        return f"{self.function_name}:{self.version}"
