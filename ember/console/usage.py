"""What Lambda would bill, as measured here: billed milliseconds per function version and
memory size, provisioned environment-seconds (both from the persisted one-minute metrics,
telemetry's Ember/Billing series) and SnapStart versions' cached time (from control)."""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Mapping

from ember.control import FunctionService
from ember.control.concurrency import ConcurrencyService
from ember.control.model import LATEST, FunctionConfig
from ember.errors import ResourceNotFoundError
from ember.telemetry import Metrics
from ember.telemetry.metrics_catalog import (
    BILLED_DURATION,
    PROVISIONED_SECONDS,
    SNAPSTART_RESTORES,
)


@dataclasses.dataclass(frozen=True, slots=True)
class Invocations:
    """Invocations of one version at one memory size."""

    function: str
    version: str
    architecture: str
    memory_mb: int
    ephemeral_mb: int
    requests: int
    billed_ms: float


@dataclasses.dataclass(frozen=True, slots=True)
class Provisioned:
    function: str
    qualifier: str
    architecture: str
    memory_mb: int
    environment_seconds: float


@dataclasses.dataclass(frozen=True, slots=True)
class Cached:
    """A SnapStart version's snapshot kept in the period (Python and .NET are charged)."""

    function: str
    version: str
    memory_mb: int
    seconds: float


@dataclasses.dataclass(frozen=True, slots=True)
class Restored:
    """Environments of a SnapStart version restored from its snapshot (Python, .NET)."""

    function: str
    version: str
    memory_mb: int
    restores: int


@dataclasses.dataclass(frozen=True, slots=True)
class Usage:
    since: float
    until: float
    invocations: tuple[Invocations, ...]
    provisioned: tuple[Provisioned, ...]
    cached: tuple[Cached, ...]
    restored: tuple[Restored, ...] = ()


class UsageReader:
    def __init__(self, functions: FunctionService, metrics: Metrics) -> None:
        self._functions = functions
        self._metrics = metrics

    async def read(self, function: str | None, since: float, until: float) -> Usage:
        """Usage of `function` (None: every function) with since <= minute < until."""
        invocations = []
        for key, stat in (await self._metrics.usage(BILLED_DURATION, since, until)).items():
            _, _, name, tier, version = key
            if function is not None and name != function:
                continue
            memory, _, ephemeral = tier.partition(":")
            invocations.append(
                Invocations(
                    name, version, self._architecture(name, version), int(memory),
                    int(ephemeral or 512), stat.count, stat.total,
                )
            )  # fmt: skip
        provisioned = []
        for key, stat in (await self._metrics.usage(PROVISIONED_SECONDS, since, until)).items():
            _, _, name, memory, qualifier = key
            if function is None or name == function:
                architecture = self._architecture(name, qualifier)
                provisioned.append(
                    Provisioned(name, qualifier, architecture, int(memory), stat.total)
                )
        cached = [
            Cached(c.name, c.version, c.memory_size, seconds)
            for c in self._functions.all_versions()
            if (function is None or c.name == function) and _charged_snapstart(c)
            for seconds in [self._cached_seconds(c, since, until)]
            if seconds > 0
        ]
        restored = []
        for key, stat in (await self._metrics.usage(SNAPSTART_RESTORES, since, until)).items():
            _, _, name, memory, version = key
            if (function is None or name == function) and self._charged(name, version):
                restored.append(Restored(name, version, int(memory), stat.count))
        return Usage(
            since,
            until,
            tuple(sorted(invocations, key=lambda u: (u.function, u.version, u.memory_mb))),
            tuple(sorted(provisioned, key=lambda p: (p.function, p.qualifier))),
            tuple(cached),
            tuple(restored),
        )

    def _charged(self, name: str, version: str) -> bool:
        try:
            return _charged_snapstart(self._functions.get(name, version))
        except ResourceNotFoundError:  # deleted since: the restore was charged then
            return True

    def _architecture(self, name: str, qualifier: str) -> str:
        try:
            config = self._functions.get(name, None if qualifier in ("", LATEST) else qualifier)
        except ResourceNotFoundError:  # deleted since (or an alias): Lambda's default
            try:
                config = self._functions.get(name)
            except ResourceNotFoundError:
                return "x86_64"
        return config.architectures[0] if config.architectures else "x86_64"

    @staticmethod
    def _cached_seconds(config: FunctionConfig, since: float, until: float) -> float:
        created = _parse_time(config.last_modified)
        if created is None or created >= until:
            return 0.0
        return until - max(since, created)


def provisioned_now(
    functions: FunctionService, concurrency: ConcurrencyService
) -> Mapping[tuple[str, str, int], int]:
    """(function, qualifier, memory MB) -> provisioned environments allocated now: what
    telemetry samples into ProvisionedSeconds."""
    found: dict[tuple[str, str, int], int] = {}
    for config in functions.list():
        for provisioned in concurrency.list_provisioned(config.name):
            version = concurrency.version_of(provisioned)
            if version is None or not provisioned.allocated:
                continue
            try:
                memory = functions.get(config.name, version).memory_size
            except ResourceNotFoundError:
                continue
            found[(config.name, provisioned.qualifier, memory)] = provisioned.allocated
    return found


def _charged_snapstart(config: FunctionConfig) -> bool:
    """Lambda charges SnapStart's cache and restores for Python and .NET, not Java."""
    return config.snap_started and not config.runtime.startswith("java")


def _parse_time(text: str) -> float | None:
    try:
        return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()
    except ValueError:
        return None
