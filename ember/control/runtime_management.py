"""Runtime management configuration: per function version, when its runtime version may
change (Auto, FunctionUpdate, or Manual with a pinned runtime version ARN).

Ember runs the one interpreter it found for each runtime, so the mode changes nothing
about what runs: it is stored and reported (as AWS reports it), and a Manual ARN is kept
as given. What runs is shown by the function's RuntimeVersionConfig. Kept in memory,
written through to the store; a config goes with its function or version.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import logging
from typing import Any

from ember.blocking import run_blocking
from ember.control.functions import FunctionService
from ember.control.model import LATEST, FunctionConfig
from ember.errors import InvalidParameterValueError, ResourceNotFoundError
from ember.store import MetadataStore

log = logging.getLogger("ember.control.runtime_management")

KIND = "runtime-management-config"


class UpdateRuntimeOn(enum.StrEnum):
    AUTO = "Auto"
    FUNCTION_UPDATE = "FunctionUpdate"
    MANUAL = "Manual"


@dataclasses.dataclass(frozen=True, slots=True)
class RuntimeManagementConfig:
    function_name: str
    qualifier: str  # $LATEST or a version number
    update_runtime_on: UpdateRuntimeOn = UpdateRuntimeOn.AUTO
    runtime_version_arn: str = ""  # Manual only

    def to_doc(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> RuntimeManagementConfig:
        values = dict(doc)
        values["update_runtime_on"] = UpdateRuntimeOn(values["update_runtime_on"])
        return cls(**values)


def _key(name: str, qualifier: str) -> str:
    return f"{name}:{qualifier}"


class RuntimeManagementConfigs:
    def __init__(self, metadata: MetadataStore, functions: FunctionService) -> None:
        self._metadata = metadata
        self._functions = functions
        self._configs: dict[str, RuntimeManagementConfig] = {}  # "name:qualifier" -> config
        self._write_lock = asyncio.Lock()
        functions.add_listener(self._on_change)
        functions.add_dependent(self._documents_of_function)

    async def load(self) -> None:
        """Read every config (after functions are loaded); drop those of deleted versions."""
        stale = []
        for key, doc in (await run_blocking(self._metadata.load, KIND)).items():
            config = RuntimeManagementConfig.from_doc(doc)
            if self._exists(config.function_name, config.qualifier):
                self._configs[key] = config
            else:
                stale.append((KIND, key))
        if stale:
            log.info("removing %d runtime management configs of deleted versions", len(stale))
            await run_blocking(self._metadata.write, deletes=stale)

    def get(self, name: str, qualifier: str | None) -> RuntimeManagementConfig:
        """The version's config; Auto (Lambda's default) where none was put."""
        version = self._functions.get(name, qualifier).version
        found = self._configs.get(_key(name, version))
        return found or RuntimeManagementConfig(function_name=name, qualifier=version)

    async def put(
        self, name: str, qualifier: str | None, mode: UpdateRuntimeOn, runtime_version_arn: str
    ) -> RuntimeManagementConfig:
        if mode is UpdateRuntimeOn.MANUAL and not runtime_version_arn:
            raise InvalidParameterValueError(
                "RuntimeVersionArn is required when UpdateRuntimeOn is Manual."
            )
        if mode is not UpdateRuntimeOn.MANUAL and runtime_version_arn:
            raise InvalidParameterValueError(
                f"RuntimeVersionArn can be given only when UpdateRuntimeOn is Manual, not {mode}."
            )
        version = self._functions.get(name, qualifier).version
        config = RuntimeManagementConfig(name, version, mode, runtime_version_arn)
        key = _key(name, version)
        async with self._write_lock:
            if mode is UpdateRuntimeOn.AUTO:
                await run_blocking(self._metadata.write, deletes=[(KIND, key)])
                self._configs.pop(key, None)
            else:
                await run_blocking(self._metadata.write, puts=[(KIND, key, config.to_doc())])
                self._configs[key] = config
        return config

    # -- following functions ---------------------------------------------------------

    def _exists(self, name: str, qualifier: str) -> bool:
        try:
            self._functions.get(name, qualifier)
        except ResourceNotFoundError:
            return False
        return True

    def _documents_of_function(self, name: str) -> list[tuple[str, str]]:
        return [(KIND, k) for k, c in self._configs.items() if c.function_name == name]

    def _on_change(self, old: FunctionConfig | None, new: FunctionConfig | None) -> None:
        if old is None or new is not None:
            return
        if old.version != LATEST:  # one published version went
            self._configs.pop(_key(old.name, old.version), None)
            return
        for key in [k for k, c in self._configs.items() if c.function_name == old.name]:
            del self._configs[key]
