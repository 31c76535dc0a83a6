"""Carrying provisioned concurrency from control to the scheduler: environments for a
version or an alias's version. (Reserved limits need no carrying: control writes them
into the `Reservations` the scheduler reads.)"""

from __future__ import annotations

from ember.control import FunctionConfig, FunctionService
from ember.control.aliases import AliasConfig, AliasService
from ember.control.concurrency import ConcurrencyService, ProvisionedConfig
from ember.control.model import LATEST
from ember.errors import LambdaError, ResourceNotFoundError
from ember.invoke.sync import Invoker
from ember.scheduler import Scheduler
from ember.scheduler.pool import ProvisionedStatus


class Provisioner:
    def __init__(
        self,
        functions: FunctionService,
        aliases: AliasService,
        concurrency: ConcurrencyService,
        scheduler: Scheduler,
        invoker: Invoker,
    ) -> None:
        self._functions = functions
        self._concurrency = concurrency
        self._scheduler = scheduler
        self._invoker = invoker
        self._applied: dict[str, str] = {}  # config key -> version provisioned for it
        concurrency.on_provisioned(self._apply)
        functions.add_listener(self._on_function_change)
        aliases.on_change(self._on_alias_change)

    def _on_function_change(self, old: FunctionConfig | None, new: FunctionConfig | None) -> None:
        if old is not None and new is None and old.version == LATEST:
            self._concurrency.forget_function(old.name)
            for key in [k for k in self._applied if k.startswith(f"{old.name}:")]:
                del self._applied[key]

    def _on_alias_change(self, alias: AliasConfig) -> None:
        """An alias moved: its provisioned environments move with it."""
        try:
            config = self._concurrency.get_provisioned(alias.function_name, alias.name)
        except LambdaError:  # no config for this alias
            return
        self._apply(alias.function_name, alias.name, config)

    def _apply(self, name: str, qualifier: str, config: ProvisionedConfig | None) -> None:
        key = f"{name}:{qualifier}"
        previous = self._applied.pop(key, None)
        version = self._concurrency.version_of(config) if config is not None else None
        if previous is not None and previous != version:
            self._set(name, previous, 0, qualifier)
        if config is not None and version is not None:
            self._applied[key] = version
            self._set(name, version, config.requested, qualifier)

    def _set(self, name: str, version: str, count: int, qualifier: str) -> None:
        try:
            config = self._functions.get(name, version)
        except ResourceNotFoundError:
            return

        def report(status: ProvisionedStatus) -> None:
            self._concurrency.report(
                name,
                qualifier,
                allocated=status.allocated,
                available=status.available,
                status=status.status,
                reason=status.reason,
            )

        self._scheduler.set_provisioned(self._invoker.spec(config), count, report)
