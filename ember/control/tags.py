"""Tags of Lambda resources (TagResource, UntagResource, ListTags), by ARN.

A function's tags live on its record (`FunctionConfig.tags`, given at CreateFunction too,
shown by GetFunction); tags of other taggable kinds (event source mappings, …) live here,
by ARN, once the package that owns the kind registers it (`register_kind`) and says when
one is created with tags (`put_initial`) or deleted (`forget`). Versions and aliases carry
no tags of their own, as on AWS. Kept in memory, written through to the store.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
from collections.abc import Callable, Mapping

from ember.blocking import run_blocking
from ember.config import Settings
from ember.control.functions import FunctionService, not_found
from ember.control.rules import TAG_LIMIT, check_reserved_tag_keys
from ember.errors import InvalidParameterValueError, ResourceNotFoundError, ValidationError
from ember.store import MetadataStore

log = logging.getLogger("ember.control.tags")

KIND = "resource-tags"

# The Resource pattern as AWS quotes it when it refuses one (its recorded answers; the
# model's pattern in botocore differs a little).
RESOURCE_PATTERN = (
    r"arn:(aws[a-zA-Z-]*):lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:"
    r"\d{12}:(function:[a-zA-Z0-9-_]+(:(\$LATEST|[a-zA-Z0-9-_]+))?|layer:([a-zA-Z0-9-_]+)|"
    r"code-signing-config:csc-[a-z0-9]{17}|event-source-mapping:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}"
    r"-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|capacity-provider:[a-zA-Z0-9-_]+)"
)
_RESOURCE = re.compile(RESOURCE_PATTERN)
_TAG_TEXT = r"([\p{L}\p{Z}\p{N}_.:/=+\-@]*)"  # TagKey and TagValue, as the model writes it
_TAG_CHARS = re.compile(r"[\w\s_.:/=+\-@]*")  # the same in Python's classes
NOT_ON_QUALIFIED = (
    "Tags on function aliases and versions are not supported. Please specify a function ARN."
)
# What AWS answers for a resource of a kind that does not exist, by kind.
_MISSING = {
    "function": "Function not found",
    "event-source-mapping": "Event source mapping not found",
    "capacity-provider": "Capacity provider not found",
    "code-signing-config": "Code signing config not found",
    "layer": "Layer not found",
}


@dataclasses.dataclass(frozen=True, slots=True)
class _Kind:
    exists: Callable[[str], bool]  # ARN -> whether that resource exists


def _java_map(tags: Mapping[str, str]) -> str:
    return "{" + ", ".join(f"{k}={v}" for k, v in tags.items()) + "}"


def check_tag_map(tags: Mapping[str, str]) -> None:
    """The model's TagKey/TagValue constraints, in AWS's map-level words."""
    errors = []
    if any(not isinstance(k, str) or not 1 <= len(k) <= 128 or not _TAG_CHARS.fullmatch(k)
           for k in tags):  # fmt: skip
        errors.append(
            "Map keys must satisfy constraint: [Member must have length less than or equal to "
            "128, Member must have length greater than or equal to 1, Member must satisfy "
            f"regular expression pattern: {_TAG_TEXT}]"
        )
    if any(not isinstance(v, str) or len(v) > 256 or not _TAG_CHARS.fullmatch(v)
           for v in tags.values()):  # fmt: skip
        errors.append(
            "Map value must satisfy constraint: [Member must have length less than or equal "
            "to 256, Member must have length greater than or equal to 0, Member must satisfy "
            f"regular expression pattern: {_TAG_TEXT}, Member must not be null]"
        )
    if errors:
        noun = "error" if len(errors) == 1 else "errors"
        shown = _java_map({str(k): str(v) for k, v in tags.items()})
        raise ValidationError(
            f"{len(errors)} validation {noun} detected: "
            + "; ".join(
                f"Value '{shown}' at 'tags' failed to satisfy constraint: {e}" for e in errors
            )
        )
    check_reserved_tag_keys(tags)


def check_resource(arn: str) -> None:
    if not _RESOURCE.fullmatch(arn) or len(arn) > 10000:
        raise ValidationError(
            f"1 validation error detected: Value '{arn}' at 'resource' failed to satisfy "
            f"constraint: Member must satisfy regular expression pattern: {RESOURCE_PATTERN}"
        )


class TagService:
    def __init__(
        self, settings: Settings, metadata: MetadataStore, functions: FunctionService
    ) -> None:
        self._settings = settings
        self._metadata = metadata
        self._functions = functions
        self._kinds: dict[str, _Kind] = {}
        self._tags: dict[str, dict[str, str]] = {}  # ARN -> tags, for kinds other than functions
        self._lock = asyncio.Lock()

    def register_kind(self, kind: str, exists: Callable[[str], bool]) -> None:
        """Make a kind of resource (`event-source-mapping`, …) taggable: `exists(arn)`
        tells whether one exists."""
        self._kinds[kind] = _Kind(exists)

    async def load(self) -> None:
        for arn, doc in (await run_blocking(self._metadata.load, KIND)).items():
            self._tags[arn] = dict(doc["tags"])

    # -- the API --------------------------------------------------------------------

    def of(self, arn: str) -> dict[str, str]:
        """ListTags: the resource's tags."""
        kind, name = self._resolve(arn)
        if kind == "function":
            return dict(self._functions.get(name).tags)
        return dict(self._tags.get(arn, {}))

    async def tag(self, arn: str, tags: Mapping[str, str]) -> None:
        check_tag_map(tags)
        if not tags:
            raise InvalidParameterValueError(
                "An error occurred and the request cannot be processed."
            )
        async with self._lock:
            merged = {**self.of(arn), **tags}
            if len(merged) > TAG_LIMIT:
                raise InvalidParameterValueError("Number of tags exceeds resource tag limit.")
            await self._store(arn, merged)

    async def untag(self, arn: str, keys: list[str]) -> None:
        async with self._lock:
            current = self.of(arn)
            kept = {k: v for k, v in current.items() if k not in set(keys)}
            if kept != current:
                await self._store(arn, kept)

    async def put_initial(self, arn: str, tags: Mapping[str, str]) -> None:
        """Tags a resource of a registered kind is created with (checked by the caller)."""
        if tags:
            async with self._lock:
                await self._store(arn, dict(tags))

    async def forget(self, arn: str) -> None:
        """The resource `arn` (of a registered kind) is gone: its tags go too."""
        async with self._lock:
            if self._tags.pop(arn, None) is not None:
                await run_blocking(self._metadata.write, deletes=[(KIND, arn)])

    # -- internals --------------------------------------------------------------------

    def _resolve(self, arn: str) -> tuple[str, str]:
        """(kind, name) of an existing taggable resource; AWS's errors otherwise."""
        check_resource(arn)
        parts = arn.split(":")
        kind, name = parts[5], parts[6]
        here = parts[3] == self._settings.region and parts[4] == self._settings.account_id
        if kind == "function":
            if len(parts) > 7:
                raise InvalidParameterValueError(NOT_ON_QUALIFIED)
            if not here:
                raise not_found(arn)
            self._functions.get(name)  # Function not found: <arn>
            return kind, name
        if len(parts) > 7:  # the pattern lets only functions carry a qualifier
            raise ResourceNotFoundError(f"{_MISSING.get(kind, 'Resource not found')}: {arn}")
        registered = self._kinds.get(kind)
        if not here or registered is None or not registered.exists(arn):
            raise ResourceNotFoundError(f"{_MISSING.get(kind, 'Resource not found')}: {arn}")
        return kind, name

    async def _store(self, arn: str, tags: dict[str, str]) -> None:
        kind, name = self._resolve(arn)
        if kind == "function":
            await self._functions.set_tags(name, tags)
            return
        if tags:
            await run_blocking(self._metadata.write, puts=[(KIND, arn, {"tags": tags})])
            self._tags[arn] = tags
        else:
            await run_blocking(self._metadata.write, deletes=[(KIND, arn)])
            self._tags.pop(arn, None)
