"""Published versions: the in-memory table of every function's numbered versions, and how
the next number is made from $LATEST. Writing them durably, and the rules of when one may
be published or deleted, stay with `FunctionService` (it holds the write lock)."""

from __future__ import annotations

import dataclasses
import uuid

from ember.control import snapstart
from ember.control.model import FunctionConfig, FunctionState

VERSION_KIND = "version"  # the store's kind; keys are "<function>:<number>"


def version_key(name: str, number: str) -> str:
    return f"{name}:{number}"


class VersionTable:
    """function name -> version number -> that version's configuration."""

    def __init__(self) -> None:
        self._by_function: dict[str, dict[str, FunctionConfig]] = {}

    def get(self, name: str, number: str) -> FunctionConfig | None:
        return self._by_function.get(name, {}).get(number)

    def of(self, name: str) -> list[FunctionConfig]:
        """The function's versions, in order of their numbers."""
        return sorted(self._by_function.get(name, {}).values(), key=lambda c: int(c.version))

    def all(self) -> list[FunctionConfig]:
        return [v for versions in self._by_function.values() for v in versions.values()]

    def add(self, version: FunctionConfig) -> None:
        self._by_function.setdefault(version.name, {})[version.version] = version

    def remove(self, name: str, number: str) -> None:
        del self._by_function[name][number]

    def pop_function(self, name: str) -> dict[str, FunctionConfig]:
        """Forget every version of `name`; number -> version of what was there."""
        return self._by_function.pop(name, {})


def next_version(
    latest: FunctionConfig, description: str | None, last_modified: str
) -> tuple[FunctionConfig, FunctionConfig]:
    """(the next published version of `latest`, `latest` as it is after publishing)."""
    version = dataclasses.replace(
        latest,
        version=str(latest.version_counter + 1),
        description=description if description is not None else latest.description,
        last_modified=last_modified,
        revision_id=str(uuid.uuid4()),
        version_counter=0,
        published_revision="",
        publish_when_active=False,
    )
    if version.snap_started:
        # Pending until its Init has run once (invoke.snapstart settles it).
        version = dataclasses.replace(
            version,
            state=FunctionState.PENDING,
            state_reason=snapstart.PENDING_REASON,
            state_reason_code=snapstart.PENDING_CODE,
        )
    # Lambda gives $LATEST a new RevisionId when a version is published from it.
    revision = str(uuid.uuid4())
    bumped = dataclasses.replace(
        latest,
        revision_id=revision,
        version_counter=latest.version_counter + 1,
        published_revision=revision,
        publish_when_active=False,
    )
    return version, bumped
