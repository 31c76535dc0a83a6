"""Function URL configs (Lambda API 2021-10-31): at most one per function ($LATEST, named
without a qualifier) and one per alias. Kept in memory, found by url-id on every request to a
URL, written through to the store; a config goes with its function or alias (in the same
transaction)."""

from __future__ import annotations

import asyncio
import builtins
import dataclasses
import datetime
import logging
import secrets
import string
from typing import Any

from ember.blocking import run_blocking
from ember.clock import Clock
from ember.control.aliases import AliasService
from ember.control.functions import FunctionService
from ember.control.model import LATEST, FunctionConfig
from ember.errors import ResourceConflictError, ResourceNotFoundError
from ember.store import MetadataStore

log = logging.getLogger("ember.control.urls")

KIND = "function-url"
AUTH_TYPES = ("NONE", "AWS_IAM")
INVOKE_MODES = ("BUFFERED", "RESPONSE_STREAM")
# AWS's words (recorded answers): Create and Update name a missing function so, Get and
# Delete (and a missing config) the generic resource.
NO_FUNCTION = "Function does not exist"
NO_RESOURCE = "The resource you requested does not exist."
_ID_ALPHABET = string.ascii_lowercase + string.digits
ID_LENGTH = 32  # as AWS's <url-id>


@dataclasses.dataclass(frozen=True, slots=True)
class Cors:
    """AWS's Cors structure; None: the member was not given."""

    allow_credentials: bool | None = None
    allow_headers: tuple[str, ...] | None = None
    allow_methods: tuple[str, ...] | None = None
    allow_origins: tuple[str, ...] | None = None
    expose_headers: tuple[str, ...] | None = None
    max_age: int | None = None

    def merged(self, new: Cors) -> Cors:
        """`new`'s members where given, else these (UpdateFunctionUrlConfig's Cors)."""
        return Cors(
            **{
                f.name: getattr(new, f.name)
                if getattr(new, f.name) is not None
                else getattr(self, f.name)
                for f in dataclasses.fields(self)
            }
        )


@dataclasses.dataclass(frozen=True, slots=True)
class UrlConfig:
    url_id: str  # 32 lowercase alphanumerics, for the life of the config
    function_name: str
    qualifier: str | None  # an alias, or None for the function itself ($LATEST)
    function_arn: str  # qualified with the alias when there is one
    auth_type: str
    creation_time: str  # ISO-8601, as AWS shows it
    last_modified: str
    cors: Cors | None = None
    # None: never given (AWS then leaves InvokeMode out of Create and Update answers, and
    # Get reports BUFFERED).
    invoke_mode: str | None = None

    @property
    def effective_invoke_mode(self) -> str:
        return self.invoke_mode or "BUFFERED"

    def to_doc(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> UrlConfig:
        values = dict(doc)
        if values.get("cors") is not None:
            cors: dict[str, Any] = {
                k: tuple(v) if isinstance(v, list) else v for k, v in values["cors"].items()
            }
            values["cors"] = Cors(**cors)
        return cls(**values)


def _key(name: str, qualifier: str | None) -> str:
    return f"{name}:{qualifier or LATEST}"


def new_url_id() -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(ID_LENGTH))


class FunctionUrls:
    def __init__(
        self,
        metadata: MetadataStore,
        functions: FunctionService,
        aliases: AliasService,
        clock: Clock,
    ) -> None:
        self._metadata = metadata
        self._functions = functions
        self._aliases = aliases
        self._clock = clock
        self._configs: dict[str, UrlConfig] = {}  # "name:qualifier" -> config
        self._by_id: dict[str, UrlConfig] = {}  # url-id -> config (the serving path's read)
        self._write_lock = asyncio.Lock()
        functions.add_listener(self._on_change)
        functions.add_dependent(self._documents_of_function)
        aliases.add_dependent(self._documents_of_alias, self._forget)

    # -- lifecycle ------------------------------------------------------------------

    async def load(self) -> None:
        """Read every config (after functions and aliases are loaded)."""
        stale = []
        for key, doc in (await run_blocking(self._metadata.load, KIND)).items():
            config = UrlConfig.from_doc(doc)
            if self._exists(config.function_name, config.qualifier):
                self._remember(config)
            else:  # its function or alias went while the store was elsewhere
                stale.append((KIND, key))
        if stale:
            log.info("removing %d function URL configs of deleted functions", len(stale))
            await run_blocking(self._metadata.write, deletes=stale)

    def _documents_of_function(self, name: str) -> list[tuple[str, str]]:
        return [(KIND, k) for k, c in self._configs.items() if c.function_name == name]

    def _documents_of_alias(self, name: str, alias: str) -> list[tuple[str, str]]:
        key = _key(name, alias)
        return [(KIND, key)] if key in self._configs else []

    def _forget(self, name: str, qualifier: str | None) -> None:
        config = self._configs.pop(_key(name, qualifier), None)
        if config is not None:
            self._by_id.pop(config.url_id, None)

    def _on_change(self, old: FunctionConfig | None, new: FunctionConfig | None) -> None:
        if old is None or new is not None or old.version != LATEST:
            return  # only the whole function's deletion concerns URLs (never versions)
        for config in [c for c in self._configs.values() if c.function_name == old.name]:
            self._forget(config.function_name, config.qualifier)

    def _remember(self, config: UrlConfig) -> None:
        self._configs[_key(config.function_name, config.qualifier)] = config
        self._by_id[config.url_id] = config

    # -- reads ----------------------------------------------------------------------

    def by_id(self, url_id: str) -> UrlConfig | None:
        """The config a request to <url-id>.lambda-url... is for (the serving path)."""
        return self._by_id.get(url_id)

    def get(self, name: str, qualifier: str | None) -> UrlConfig:
        if not self._exists(name, qualifier):
            raise ResourceNotFoundError(NO_RESOURCE)
        config = self._configs.get(_key(name, qualifier))
        if config is None:
            raise ResourceNotFoundError(NO_RESOURCE)
        return config

    def list(self, name: str) -> builtins.list[UrlConfig]:
        if not self._exists(name, None):
            raise ResourceNotFoundError(NO_FUNCTION)
        found = [c for c in self._configs.values() if c.function_name == name]
        return sorted(found, key=lambda c: (c.creation_time, c.qualifier or ""))

    # -- writes ---------------------------------------------------------------------

    async def create(
        self,
        name: str,
        qualifier: str | None,
        *,
        auth_type: str,
        cors: Cors | None = None,
        invoke_mode: str | None = None,
    ) -> UrlConfig:
        if not self._exists(name, qualifier):
            raise ResourceNotFoundError(NO_FUNCTION)
        arn = self._arn(name, qualifier)
        async with self._write_lock:
            if _key(name, qualifier) in self._configs:
                raise ResourceConflictError(
                    f"Failed to create function url config for [functionArn = {arn}]. "
                    "Error message:  FunctionUrlConfig exists for this Lambda function"
                )
            url_id = new_url_id()
            while url_id in self._by_id:  # 36^32 ids: a clash is theoretical
                url_id = new_url_id()
            now = self._now()
            config = UrlConfig(
                url_id=url_id,
                function_name=name,
                qualifier=qualifier,
                function_arn=arn,
                auth_type=auth_type,
                creation_time=now,
                last_modified=now,
                cors=cors,
                invoke_mode=invoke_mode,
            )
            await self._commit(config)
        return config

    async def update(
        self,
        name: str,
        qualifier: str | None,
        *,
        auth_type: str | None = None,
        cors: Cors | None = None,
        invoke_mode: str | None = None,
    ) -> UrlConfig:
        """Change the members given, keep the others (AWS's Update)."""
        if not self._exists(name, qualifier):
            raise ResourceNotFoundError(NO_FUNCTION)
        async with self._write_lock:
            old = self._configs.get(_key(name, qualifier))
            if old is None:
                raise ResourceNotFoundError(NO_RESOURCE)
            changes: dict[str, Any] = {"last_modified": self._now()}
            if auth_type is not None:
                changes["auth_type"] = auth_type
            if cors is not None:
                changes["cors"] = (old.cors or Cors()).merged(cors)
            if invoke_mode is not None:
                changes["invoke_mode"] = invoke_mode
            config = dataclasses.replace(old, **changes)
            await self._commit(config)
        return config

    async def delete(self, name: str, qualifier: str | None) -> None:
        config = self.get(name, qualifier)
        async with self._write_lock:
            key = _key(config.function_name, config.qualifier)
            await run_blocking(self._metadata.write, deletes=[(KIND, key)])
            self._forget(config.function_name, config.qualifier)

    # -- internals ------------------------------------------------------------------

    async def _commit(self, config: UrlConfig) -> None:
        key = _key(config.function_name, config.qualifier)
        await run_blocking(self._metadata.write, puts=[(KIND, key, config.to_doc())])
        self._remember(config)

    def _exists(self, name: str, qualifier: str | None) -> bool:
        """Does the function (qualifier None) or its alias exist?"""
        try:
            self._functions.get(name)
        except ResourceNotFoundError:
            return False
        return qualifier is None or self._aliases.find(name, qualifier) is not None

    def _arn(self, name: str, qualifier: str | None) -> str:
        arn = self._functions.arn(name)
        return arn if qualifier is None else f"{arn}:{qualifier}"

    def _now(self) -> str:
        """ISO-8601 with microseconds, as AWS writes CreationTime and LastModifiedTime."""
        stamp = datetime.datetime.fromtimestamp(self._clock.wall(), datetime.UTC)
        return stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
