"""Reserved and provisioned concurrency: the configuration and Lambda's rules on it.

Control keeps what was asked for (persisted) and the status the scheduler reports
back; the invoke layer turns the configuration into environments. Reserved values and
provisioned totals are written, once validated and persisted, into the scheduler's
`Reservations`: the one table that both GetAccountSettings and throttling read.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Callable
from typing import Any

from ember.blocking import run_blocking
from ember.clock import Clock
from ember.control import snapstart
from ember.control.aliases import AliasService
from ember.control.functions import FunctionService
from ember.control.model import LATEST, FunctionConfig
from ember.errors import (
    InvalidParameterValueError,
    LambdaError,
    ResourceConflictError,
    ResourceNotFoundError,
)
from ember.scheduler.concurrency import Reservations
from ember.store import MetadataStore

RESERVED = "reserved-concurrency"
PROVISIONED = "provisioned-concurrency"


class ProvisionedConcurrencyConfigNotFoundError(LambdaError):
    code = "ProvisionedConcurrencyConfigNotFoundException"
    status = 404
    fault = "User"


def min_unreserved(limit: int) -> int:
    """Lambda keeps 100 of an account's 1,000 unreserved; Ember scales that 10 % down
    with a smaller `--concurrency-limit` (at least 1)."""
    return max(1, min(100, limit // 10))


@dataclasses.dataclass(frozen=True, slots=True)
class ProvisionedConfig:
    function_name: str
    qualifier: str  # a version number or an alias name
    requested: int
    last_modified: str
    allocated: int = 0
    available: int = 0
    status: str = "IN_PROGRESS"
    reason: str = ""

    @property
    def key(self) -> str:
        return f"{self.function_name}:{self.qualifier}"


# (function, qualifier, config or None when deleted)
ProvisionedListener = Callable[[str, str, ProvisionedConfig | None], None]


class ConcurrencyService:
    def __init__(
        self,
        reservations: Reservations,
        metadata: MetadataStore,
        functions: FunctionService,
        aliases: AliasService,
        clock: Clock,
    ) -> None:
        self._metadata = metadata
        self._functions = functions
        self._aliases = aliases
        self._clock = clock
        # Reserved values and provisioned totals (written here, read by the scheduler).
        self._reservations = reservations
        self._provisioned: dict[str, ProvisionedConfig] = {}  # "fn:qualifier" -> config
        self._provisioned_listeners: list[ProvisionedListener] = []
        functions.add_dependent(self.documents_of)
        # A deleted alias or version takes its provisioned config (and environments) with
        # it, as in AWS.
        aliases.add_dependent(self._documents_of_qualifier, self._forget_qualifier)
        aliases.add_move_check(self._check_alias_move)
        functions.add_version_dependent(self._documents_of_qualifier)
        functions.add_listener(self._on_function_change)

    async def load(self) -> None:
        for name, doc in (await run_blocking(self._metadata.load, RESERVED)).items():
            self._reservations.set_reserved(name, doc["value"])
        for key, doc in (await run_blocking(self._metadata.load, PROVISIONED)).items():
            self._provisioned[key] = ProvisionedConfig(**doc)
        for name in {c.function_name for c in self._provisioned.values()}:
            self._reservations.set_provisioned(name, self.provisioned_total(name))

    def replay(self) -> None:
        """Tell the listeners every provisioned config loaded (at start-up, once they are
        wired), so that its environments are made."""
        for config in list(self._provisioned.values()):
            self._notify(config.function_name, config.qualifier, config)

    def on_provisioned(self, listener: ProvisionedListener) -> None:
        self._provisioned_listeners.append(listener)

    def documents_of(self, function_name: str) -> list[tuple[str, str]]:
        """Store keys to delete with the function."""
        reserved = self._reservations.reserved(function_name)
        keys = [(RESERVED, function_name)] if reserved is not None else []
        keys += [
            (PROVISIONED, k)
            for k, c in self._provisioned.items()
            if c.function_name == function_name
        ]
        return keys

    def _documents_of_qualifier(self, function_name: str, qualifier: str) -> list[tuple[str, str]]:
        key = f"{function_name}:{qualifier}"
        return [(PROVISIONED, key)] if key in self._provisioned else []

    def _check_alias_move(self, function_name: str, alias: str, version: str) -> None:
        """UpdateAlias: an alias with its own provisioned config cannot move onto a version
        another config provisions (the version's own, or another alias's), as AWS refuses."""
        key = f"{function_name}:{alias}"
        if key not in self._provisioned:
            return
        for other in self._provisioned.values():
            if (
                other.function_name == function_name
                and other.key != key
                and self.version_of(other) == version
            ):
                raise ResourceConflictError(
                    "Alias can't be used for Provisioned Concurrency configuration on an "
                    "already Provisioned version"
                )

    def _forget_qualifier(self, function_name: str, qualifier: str) -> None:
        """An alias or version was deleted (its document with it): drop its config from the
        reservations and tell the listeners, which shut its environments down."""
        if self._provisioned.pop(f"{function_name}:{qualifier}", None) is not None:
            self._count_provisioned(function_name)
            self._notify(function_name, qualifier, None)

    def _on_function_change(self, old: FunctionConfig | None, new: FunctionConfig | None) -> None:
        if old is not None and new is None and old.version != LATEST:
            self._forget_qualifier(old.name, old.version)  # one published version deleted

    def forget_function(self, function_name: str) -> None:
        self._reservations.forget(function_name)
        for key in [k for k, c in self._provisioned.items() if c.function_name == function_name]:
            del self._provisioned[key]

    # -- account --------------------------------------------------------------------

    @property
    def limit(self) -> int:
        return self._reservations.limit

    def unreserved(self) -> int:
        """UnreservedConcurrentExecutions (GetAccountSettings)."""
        return self._reservations.unreserved_capacity

    # -- reserved -------------------------------------------------------------------

    def _unqualified(self, name: str, qualifier: str | None) -> None:
        if qualifier is not None:
            raise InvalidParameterValueError(
                "This operation is permitted on Lambda functions only. Aliases and versions do "
                "not support this operation. Please specify either a function name or an "
                "unqualified function ARN."
            )

    def get_reserved(self, name: str, qualifier: str | None = None) -> int | None:
        self._unqualified(name, qualifier)
        self._functions.get(name)
        return self._reservations.reserved(name)

    def provisioned_total(self, name: str) -> int:
        return sum(c.requested for c in self._provisioned.values() if c.function_name == name)

    def _count_provisioned(self, name: str) -> None:
        """Carry `name`'s provisioned total, as configured now, into the reservations."""
        self._reservations.set_provisioned(name, self.provisioned_total(name))

    async def put_reserved(self, name: str, value: int, qualifier: str | None = None) -> int:
        self._unqualified(name, qualifier)
        if name not in {c.name for c in self._functions.list()}:
            raise ResourceNotFoundError(f"Function not found: {self._functions.arn(name)}:{LATEST}")
        provisioned = self.provisioned_total(name)
        if value < provisioned:
            raise InvalidParameterValueError(
                f" ReservedConcurrentExecutions  {value} should not be lower than function's "
                f"total provisioned concurrency [{provisioned}]."
            )
        # What the account keeps unreserved without this function's hold, less `value`.
        left = self._reservations.unreserved_capacity + self._reservations.holds(name) - value
        floor = min_unreserved(self.limit)
        if left < floor:
            raise InvalidParameterValueError(
                "Specified ReservedConcurrentExecutions for function decreases account's "
                f"UnreservedConcurrentExecution below its minimum value of [{floor}]."
            )
        await run_blocking(self._metadata.write, puts=[(RESERVED, name, {"value": value})])
        self._reservations.set_reserved(name, value)
        return value

    async def delete_reserved(self, name: str, qualifier: str | None = None) -> None:
        self._unqualified(name, qualifier)
        self._functions.get(name)
        await run_blocking(self._metadata.write, deletes=[(RESERVED, name)])
        self._reservations.set_reserved(name, None)

    # -- provisioned ----------------------------------------------------------------

    def _check_qualifier(self, name: str, qualifier: str, *, putting: bool) -> str:
        """The version a provisioned config's qualifier stands for."""
        if qualifier == LATEST:
            raise InvalidParameterValueError(
                "Provisioned Concurrency Configs cannot be applied to unpublished function "
                "versions."
                if putting
                else "The function resource provided must be an alias or a published version."
            )
        if qualifier.isdigit():
            self._functions.get(name, qualifier)
            return qualifier
        alias = self._aliases.find(name, qualifier)
        if alias is None or name not in {c.name for c in self._functions.list()}:
            raise ResourceNotFoundError(
                f"Cannot find alias arn: {self._functions.arn(name)}:{qualifier}"
            )
        return alias.function_version

    def version_of(self, config: ProvisionedConfig) -> str | None:
        """The published version a config applies to now (None if its alias is gone)."""
        if config.qualifier.isdigit():
            return config.qualifier
        alias = self._aliases.find(config.function_name, config.qualifier)
        return alias.function_version if alias else None

    def get_provisioned(self, name: str, qualifier: str) -> ProvisionedConfig:
        self._check_qualifier(name, qualifier, putting=False)
        config = self._provisioned.get(f"{name}:{qualifier}")
        if config is None:
            raise ProvisionedConcurrencyConfigNotFoundError(
                "No Provisioned Concurrency Config found for this function"
            )
        return config

    def list_provisioned(self, name: str) -> list[ProvisionedConfig]:
        self._functions.get(name)
        return sorted(
            (c for c in self._provisioned.values() if c.function_name == name),
            key=lambda c: c.qualifier,
        )

    async def put_provisioned(self, name: str, qualifier: str, requested: int) -> ProvisionedConfig:
        version = self._check_qualifier(name, qualifier, putting=True)
        snapstart.check_provisioned(self._functions.get(name, version).to_doc())
        key = f"{name}:{qualifier}"
        for other in self._provisioned.values():
            if (
                other.function_name == name
                and other.key != key
                and self.version_of(other) == version
            ):
                # AWS words it from the side of the config being put.
                raise ResourceConflictError(
                    "Version is pointed by a Provisioned Concurrency alias"
                    if qualifier.isdigit()
                    else "Alias can't be used for Provisioned Concurrency configuration on an "
                    "already Provisioned version"
                )
        old = self._provisioned.get(key)
        total = self.provisioned_total(name) - (old.requested if old else 0) + requested
        reserved = self._reservations.reserved(name)
        if reserved is not None:
            if total > reserved:
                raise InvalidParameterValueError(
                    "Requested Provisioned Concurrency should not be greater than the "
                    "reservedConcurrentExecution for function"
                )
        else:
            available = self.unreserved() + (old.requested if old else 0)
            if requested > available:
                raise InvalidParameterValueError(
                    "Specified ConcurrentExecutions for function is greater than account's "
                    f"unreserved concurrency [{available}]."
                )
            floor = min_unreserved(self.limit)
            if available - requested < floor:
                raise InvalidParameterValueError(
                    "Specified ConcurrentExecutions for function decreases account's "
                    f"UnreservedConcurrentExecution below its minimum value of [{floor}]."
                )
        config = ProvisionedConfig(
            function_name=name,
            qualifier=qualifier,
            requested=requested,
            last_modified=datetime.datetime.fromtimestamp(self._clock.wall(), datetime.UTC)
            .isoformat(timespec="seconds")
            .replace("+00:00", "+0000"),
        )
        await run_blocking(self._metadata.write, puts=[(PROVISIONED, key, _persisted(config))])
        self._provisioned[key] = config
        self._count_provisioned(name)
        self._notify(name, qualifier, config)
        return self._provisioned[key]

    async def delete_provisioned(self, name: str, qualifier: str) -> None:
        self._check_qualifier(name, qualifier, putting=False)
        key = f"{name}:{qualifier}"
        if key not in self._provisioned:
            return  # AWS answers 204 for a version or alias that has no config
        await run_blocking(self._metadata.write, deletes=[(PROVISIONED, key)])
        del self._provisioned[key]
        self._count_provisioned(name)
        self._notify(name, qualifier, None)

    def report(
        self, name: str, qualifier: str, *, allocated: int, available: int, status: str, reason: str
    ) -> None:
        """The scheduler's word on how far a config got (not persisted: it is re-derived)."""
        key = f"{name}:{qualifier}"
        config = self._provisioned.get(key)
        if config is not None:
            self._provisioned[key] = dataclasses.replace(
                config, allocated=allocated, available=available, status=status, reason=reason
            )

    def _notify(self, name: str, qualifier: str, config: ProvisionedConfig | None) -> None:
        for listener in self._provisioned_listeners:
            listener(name, qualifier, config)


def _persisted(config: ProvisionedConfig) -> dict[str, Any]:
    return {
        "function_name": config.function_name,
        "qualifier": config.qualifier,
        "requested": config.requested,
        "last_modified": config.last_modified,
    }
