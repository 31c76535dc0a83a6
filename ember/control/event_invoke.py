"""EventInvokeConfig: per function version or alias, how its asynchronous events are
retried and where their results go. Kept in memory, written through to the store; a
config goes with its function or alias (in the same transaction) or its version."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import Any

from ember.blocking import run_blocking
from ember.clock import Clock
from ember.config import Settings
from ember.control.aliases import AliasService
from ember.control.destinations import check_destinations
from ember.control.functions import FunctionService
from ember.control.model import LATEST, FunctionConfig
from ember.errors import InvalidParameterValueError, ResourceNotFoundError
from ember.store import MetadataStore

log = logging.getLogger("ember.control.event_invoke")

KIND = "event-invoke-config"
NOTHING_SET = "You must specify at least one of error handling or destination setting."
NO_FUNCTION = "The function doesn't exist."


@dataclasses.dataclass(frozen=True, slots=True)
class Destinations:
    """None: the member was not given; "": given without a Destination."""

    on_success: str | None = None
    on_failure: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class EventInvokeConfig:
    function_name: str
    qualifier: str  # $LATEST, a version or an alias
    function_arn: str  # qualified
    last_modified: float  # wall seconds
    maximum_retry_attempts: int | None = None  # None: Lambda's default applies
    maximum_event_age: int | None = None
    destinations: Destinations | None = None

    @property
    def on_success(self) -> str:
        return (self.destinations and self.destinations.on_success) or ""

    @property
    def on_failure(self) -> str:
        return (self.destinations and self.destinations.on_failure) or ""

    def to_doc(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> EventInvokeConfig:
        values = dict(doc)
        if values.get("destinations") is not None:
            values["destinations"] = Destinations(**values["destinations"])
        return cls(**values)


def _key(name: str, qualifier: str) -> str:
    return f"{name}:{qualifier}"


class EventInvokeConfigs:
    def __init__(
        self,
        settings: Settings,
        metadata: MetadataStore,
        functions: FunctionService,
        aliases: AliasService,
        clock: Clock,
    ) -> None:
        self._settings = settings
        self._metadata = metadata
        self._functions = functions
        self._aliases = aliases
        self._clock = clock
        self._configs: dict[str, EventInvokeConfig] = {}  # "name:qualifier" -> config
        self._write_lock = asyncio.Lock()
        functions.add_listener(self._on_change)
        functions.add_dependent(self._documents_of_function)
        aliases.add_dependent(self._documents_of_alias, self._forget)

    # -- lifecycle ------------------------------------------------------------------

    async def load(self) -> None:
        """Read every config (after functions and aliases are loaded). A deleted version's
        config is removed here: version numbers are never reused, so until then it is only
        unreachable."""
        stale = []
        for key, doc in (await run_blocking(self._metadata.load, KIND)).items():
            config = EventInvokeConfig.from_doc(doc)
            if self.function_exists(config.function_name, config.qualifier):
                self._configs[key] = config
            else:
                stale.append((KIND, key))
        if stale:
            log.info("removing %d configs of deleted function versions", len(stale))
            await run_blocking(self._metadata.write, deletes=stale)

    def _documents_of_function(self, name: str) -> list[tuple[str, str]]:
        return [(KIND, k) for k, c in self._configs.items() if c.function_name == name]

    def _documents_of_alias(self, name: str, alias: str) -> list[tuple[str, str]]:
        key = _key(name, alias)
        return [(KIND, key)] if key in self._configs else []

    def _forget(self, name: str, qualifier: str) -> None:
        self._configs.pop(_key(name, qualifier), None)

    def _on_change(self, old: FunctionConfig | None, new: FunctionConfig | None) -> None:
        if old is None or new is not None:
            return
        if old.version != LATEST:  # one published version
            self._forget(old.name, old.version)
            return
        for key in [k for k, c in self._configs.items() if c.function_name == old.name]:
            del self._configs[key]

    # -- reads ----------------------------------------------------------------------

    def find(self, name: str, qualifier: str | None) -> EventInvokeConfig | None:
        """The config an event invoked with `qualifier` follows (the dispatcher's read)."""
        return self._configs.get(_key(name, qualifier or LATEST))

    def get(self, name: str, qualifier: str | None) -> EventInvokeConfig:
        config = self.find(name, qualifier)
        if config is None:
            raise self._no_config(name, qualifier)
        return config

    def list(self, name: str) -> list[EventInvokeConfig]:
        self._require_function(name, None)
        found = [c for c in self._configs.values() if c.function_name == name]
        return sorted(found, key=lambda c: (c.qualifier != LATEST, c.qualifier))

    # -- writes ---------------------------------------------------------------------

    async def put(
        self,
        name: str,
        qualifier: str | None,
        *,
        maximum_retry_attempts: int | None = None,
        maximum_event_age: int | None = None,
        destinations: Destinations | None = None,
    ) -> EventInvokeConfig:
        """Create or replace the config: members not given are unset (AWS's Put)."""
        if maximum_retry_attempts is None and maximum_event_age is None and destinations is None:
            raise InvalidParameterValueError(NOTHING_SET)
        qualifier = qualifier or LATEST
        self._require_function(name, qualifier)
        self._check_destinations(name, destinations)
        config = EventInvokeConfig(
            function_name=name,
            qualifier=qualifier,
            function_arn=f"{self._functions.arn(name)}:{qualifier}",
            last_modified=self._clock.wall(),
            maximum_retry_attempts=maximum_retry_attempts,
            maximum_event_age=maximum_event_age,
            destinations=destinations,
        )
        await self._commit(config)
        return config

    async def update(
        self,
        name: str,
        qualifier: str | None,
        *,
        maximum_retry_attempts: int | None = None,
        maximum_event_age: int | None = None,
        destinations: Destinations | None = None,
    ) -> EventInvokeConfig:
        """Change the members given and keep the others (AWS's Update)."""
        if maximum_retry_attempts is None and maximum_event_age is None and destinations is None:
            raise InvalidParameterValueError(NOTHING_SET)
        self._require_function(name, qualifier)
        old = self.get(name, qualifier)
        changes: dict[str, Any] = {"last_modified": self._clock.wall()}
        if maximum_retry_attempts is not None:
            changes["maximum_retry_attempts"] = maximum_retry_attempts
        if maximum_event_age is not None:
            changes["maximum_event_age"] = maximum_event_age
        if destinations is not None:
            before = old.destinations or Destinations()
            merged = Destinations(
                on_success=_given(destinations.on_success, before.on_success),
                on_failure=_given(destinations.on_failure, before.on_failure),
            )
            self._check_destinations(name, merged)
            changes["destinations"] = merged
        config = dataclasses.replace(old, **changes)
        await self._commit(config)
        return config

    async def delete(self, name: str, qualifier: str | None) -> None:
        config = self.get(name, qualifier)
        key = _key(config.function_name, config.qualifier)
        async with self._write_lock:
            await run_blocking(self._metadata.write, deletes=[(KIND, key)])
            self._configs.pop(key, None)

    # -- internals ------------------------------------------------------------------

    async def _commit(self, config: EventInvokeConfig) -> None:
        key = _key(config.function_name, config.qualifier)
        async with self._write_lock:
            await run_blocking(self._metadata.write, puts=[(KIND, key, config.to_doc())])
            self._configs[key] = config

    def function_exists(self, name: str, qualifier: str | None) -> bool:
        """Does the function, its version or its alias `qualifier` exist?"""
        is_version = qualifier is None or qualifier == LATEST or qualifier.isdigit()
        try:
            self._functions.get(name, qualifier if is_version else None)
        except ResourceNotFoundError:
            return False
        return is_version or self._aliases.find(name, qualifier or "") is not None

    def _require_function(self, name: str, qualifier: str | None) -> None:
        if not self.function_exists(name, qualifier):
            raise ResourceNotFoundError(NO_FUNCTION)

    def _no_config(self, name: str, qualifier: str | None) -> ResourceNotFoundError:
        arn = f"{self._functions.arn(name)}:{qualifier or LATEST}"
        return ResourceNotFoundError(f"The function {arn} doesn't have an EventInvokeConfig")

    def _check_destinations(self, name: str, destinations: Destinations | None) -> None:
        if destinations is None:
            return
        check_destinations(
            destinations.on_success,
            destinations.on_failure,
            own_name=name,
            region=self._settings.region,
            account=self._settings.account_id,
            exists=self.function_exists,
        )


def _given(new: str | None, old: str | None) -> str | None:
    return old if new is None else new
