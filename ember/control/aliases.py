"""Aliases: named pointers to a published version (or $LATEST), optionally splitting
traffic with one more version by weight."""

from __future__ import annotations

import builtins
import dataclasses
import uuid
from collections.abc import Callable
from typing import Any

from ember.blocking import run_blocking
from ember.control.functions import FunctionService
from ember.control.model import LATEST, FunctionConfig
from ember.control.rules import REVISION_MISMATCH
from ember.errors import (
    InvalidParameterValueError,
    PreconditionFailedError,
    ResourceConflictError,
    ResourceNotFoundError,
    ValidationError,
)
from ember.store import MetadataStore

KIND = "alias"
# (function, alias) -> store keys of resources deleted with the alias.
AliasDependent = Callable[[str, str], list[tuple[str, str]]]


@dataclasses.dataclass(frozen=True, slots=True)
class AliasConfig:
    function_name: str
    name: str
    arn: str
    function_version: str
    description: str = ""
    weights: dict[str, float] = dataclasses.field(default_factory=dict)  # version -> share
    revision_id: str = ""

    def to_doc(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> AliasConfig:
        return cls(**doc)


def _java_map(weights: dict[str, float]) -> str:
    """AWS quotes maps the way Java prints them: {2=0.5}."""
    return "{" + ", ".join(f"{k}={float(v)}" for k, v in weights.items()) + "}"


def check_weights(weights: dict[str, float]) -> None:
    """The model's constraints on AdditionalVersionWeights, in AWS's exact words."""
    path = "routingConfig.additionalVersionWeights"
    for key, value in weights.items():
        if not (1 <= len(key) <= 1024 and key.isdigit()):
            raise ValidationError(
                f"1 validation error detected: Value '{_java_map(weights)}' at '{path}' failed "
                "to satisfy constraint: Map keys must satisfy constraint: [Member must have "
                "length less than or equal to 1024, Member must have length greater than or "
                "equal to 1, Member must satisfy regular expression pattern: [0-9]+]"
            )
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise ValidationError(
                f"1 validation error detected: Value '{_java_map(weights)}' at '{path}' failed "
                "to satisfy constraint: Map value must satisfy constraint: [Member must have "
                "value less than or equal to 1.0, Member must have value greater than or "
                "equal to 0.0, Member must not be null]"
            )


class AliasService:
    def __init__(self, metadata: MetadataStore, functions: FunctionService) -> None:
        self._metadata = metadata
        self._functions = functions
        self._aliases: dict[str, dict[str, AliasConfig]] = {}  # function -> name -> alias
        self._listeners: list[Callable[[AliasConfig], None]] = []
        self._dependents: list[AliasDependent] = []
        self._deleted_listeners: list[Callable[[str, str], None]] = []
        # Checks an alias's move to another version must pass (they raise LambdaError).
        self._move_checks: list[Callable[[str, str, str], None]] = []
        functions.add_listener(self._on_function_change)
        functions.add_dependent(self.documents_of, self._guard_version)

    def on_change(self, listener: Callable[[AliasConfig], None]) -> None:
        """Called after an alias is created or updated."""
        self._listeners.append(listener)

    def add_dependent(
        self, documents: AliasDependent, on_deleted: Callable[[str, str], None]
    ) -> None:
        """Resources that go with an alias: `documents(function, alias)` names their store
        keys (deleted in the alias's transaction), then `on_deleted(function, alias)`."""
        self._dependents.append(documents)
        self._deleted_listeners.append(on_deleted)

    def add_move_check(self, check: Callable[[str, str, str], None]) -> None:
        """`check(function, alias, version)` before UpdateAlias points `alias` at `version`;
        it refuses by raising."""
        self._move_checks.append(check)

    def _guard_version(self, function_name: str, version: str) -> None:
        using = self.referencing(function_name, version)
        if using:
            raise ResourceConflictError(
                "Unable to delete version because the following aliases reference it: "
                f"[{', '.join(using)}]"
            )

    async def load(self) -> None:
        for doc in (await run_blocking(self._metadata.load, KIND)).values():
            alias = AliasConfig.from_doc(doc)
            self._aliases.setdefault(alias.function_name, {})[alias.name] = alias

    def _on_function_change(self, old: FunctionConfig | None, new: FunctionConfig | None) -> None:
        if new is None and old is not None and old.version == LATEST:
            # The function is gone: its aliases went with it (FunctionService removed their
            # documents in the same transaction, see `documents_of`).
            self._aliases.pop(old.name, None)

    def documents_of(self, function_name: str) -> list[tuple[str, str]]:
        """Store keys of a function's aliases (deleted with the function)."""
        return [(KIND, f"{function_name}:{a}") for a in self._aliases.get(function_name, {})]

    # -- reads ----------------------------------------------------------------------

    def _arn(self, function_name: str, name: str) -> str:
        return f"{self._functions.arn(function_name)}:{name}"

    def find(self, function_name: str, name: str) -> AliasConfig | None:
        return self._aliases.get(function_name, {}).get(name)

    def get(self, function_name: str, name: str) -> AliasConfig:
        self._functions.get(function_name)
        alias = self.find(function_name, name)
        if alias is None:
            raise ResourceNotFoundError(f"Cannot find alias arn: {self._arn(function_name, name)}")
        return alias

    def list(self, function_name: str, function_version: str | None = None) -> list[AliasConfig]:
        self._functions.get(function_name)
        aliases = sorted(self._aliases.get(function_name, {}).values(), key=lambda a: a.name)
        if function_version is not None:
            aliases = [
                a
                for a in aliases
                if a.function_version == function_version or function_version in a.weights
            ]
        return aliases

    def referencing(self, function_name: str, version: str) -> builtins.list[str]:
        """Aliases that route to `version` (it may not be deleted while they do), by name."""
        return sorted(
            a.name
            for a in self._aliases.get(function_name, {}).values()
            if a.function_version == version or version in a.weights
        )

    # -- writes ---------------------------------------------------------------------

    def _check_target(self, function_name: str, version: str, weights: dict[str, float]) -> None:
        self._functions.get(function_name, version)
        check_weights(weights)
        if len(weights) > 1:
            raise InvalidParameterValueError(
                "Number of items in AdditionalVersionWeights cannot be greater than 1"
            )
        for extra in weights:
            if extra == version:
                raise InvalidParameterValueError(
                    f"Invalid function version {extra}. Function version {extra} is already "
                    "included in routing configuration."
                )
            self._functions.get(function_name, extra)
        if weights and version == LATEST:
            raise InvalidParameterValueError(
                "$LATEST is not supported for an alias pointing to more than 1 version"
            )

    async def create(
        self,
        function_name: str,
        name: str,
        function_version: str,
        description: str = "",
        weights: dict[str, float] | None = None,
    ) -> AliasConfig:
        weights = dict(weights or {})
        self._check_target(function_name, function_version, weights)
        if self.find(function_name, name) is not None:
            raise ResourceConflictError(f"Alias already exists: {self._arn(function_name, name)}")
        alias = AliasConfig(
            function_name=function_name,
            name=name,
            arn=self._arn(function_name, name),
            function_version=function_version,
            description=description,
            weights=weights,
            revision_id=str(uuid.uuid4()),
        )
        await self._save(alias)
        return alias

    async def update(
        self,
        function_name: str,
        name: str,
        *,
        function_version: str | None = None,
        description: str | None = None,
        weights: dict[str, float] | None = None,
        revision_id: str | None = None,
    ) -> AliasConfig:
        self._functions.get(function_name)
        old = self.find(function_name, name)
        if old is None:
            raise ResourceNotFoundError(f"Alias not found: {self._arn(function_name, name)}")
        if revision_id is not None and revision_id != old.revision_id:
            raise PreconditionFailedError(REVISION_MISMATCH)
        new_version = function_version if function_version is not None else old.function_version
        new_weights = dict(weights) if weights is not None else dict(old.weights)
        self._check_target(function_name, new_version, new_weights)
        if new_version != old.function_version:
            for check in self._move_checks:
                check(function_name, name, new_version)
        alias = dataclasses.replace(
            old,
            function_version=new_version,
            description=description if description is not None else old.description,
            weights=new_weights,
            revision_id=str(uuid.uuid4()),
        )
        await self._save(alias)
        return alias

    async def delete(self, function_name: str, name: str) -> None:
        self._functions.get(function_name)
        if self.find(function_name, name) is None:
            return  # AWS answers 204 for an alias that does not exist
        deletes = [(KIND, f"{function_name}:{name}")]
        for dependent in self._dependents:
            deletes += dependent(function_name, name)
        await run_blocking(self._metadata.write, deletes=deletes)
        del self._aliases[function_name][name]
        for listener in self._deleted_listeners:
            listener(function_name, name)

    async def _save(self, alias: AliasConfig) -> None:
        key = f"{alias.function_name}:{alias.name}"
        await run_blocking(self._metadata.write, puts=[(KIND, key, alias.to_doc())])
        self._aliases.setdefault(alias.function_name, {})[alias.name] = alias
        for listener in self._listeners:
            listener(alias)
