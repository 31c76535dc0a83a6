"""Recursive loop detection settings: per function, whether Lambda may let a
function → queue/topic → function loop go on (`Allow`) or stops it (`Terminate`, the
default) after 16 hops. Kept in memory, written through to the store; a config goes with
its function. The detection itself is ember/invoke/recursion.py."""

from __future__ import annotations

import enum
import logging

from ember.blocking import run_blocking
from ember.control.functions import FunctionService
from ember.control.model import LATEST, FunctionConfig
from ember.errors import ResourceNotFoundError
from ember.store import MetadataStore

log = logging.getLogger("ember.control.recursion")

KIND = "recursion-config"


class RecursiveLoop(enum.StrEnum):
    ALLOW = "Allow"
    TERMINATE = "Terminate"


class RecursionConfigs:
    def __init__(self, metadata: MetadataStore, functions: FunctionService) -> None:
        self._metadata = metadata
        self._functions = functions
        self._allowed: set[str] = set()  # functions whose RecursiveLoop is Allow
        functions.add_listener(self._on_change)
        functions.add_dependent(self._documents_of_function)

    async def load(self) -> None:
        """Read every config (after functions are loaded); drop those of deleted functions."""
        stale = []
        for name in await run_blocking(self._metadata.load, KIND):
            try:
                self._functions.get(name)
            except ResourceNotFoundError:
                stale.append((KIND, name))
                continue
            self._allowed.add(name)
        if stale:
            await run_blocking(self._metadata.write, deletes=stale)

    def get(self, name: str) -> RecursiveLoop:
        self._functions.get(name)  # Function not found: <arn>
        return self.loop_of(name)

    def loop_of(self, name: str) -> RecursiveLoop:
        """The function's setting (Terminate for a function Ember does not know)."""
        return RecursiveLoop.ALLOW if name in self._allowed else RecursiveLoop.TERMINATE

    async def put(self, name: str, loop: RecursiveLoop) -> RecursiveLoop:
        self._functions.get(name)
        if loop is RecursiveLoop.ALLOW:
            await run_blocking(self._metadata.write, puts=[(KIND, name, {"loop": str(loop)})])
            try:
                self._functions.get(name)
            except ResourceNotFoundError:  # deleted meanwhile: its delete missed this one
                await run_blocking(self._metadata.write, deletes=[(KIND, name)])
                raise
            self._allowed.add(name)
        else:  # Terminate is the default: nothing to keep
            await run_blocking(self._metadata.write, deletes=[(KIND, name)])
            self._allowed.discard(name)
        return loop

    def _documents_of_function(self, name: str) -> list[tuple[str, str]]:
        return [(KIND, name)] if name in self._allowed else []

    def _on_change(self, old: FunctionConfig | None, new: FunctionConfig | None) -> None:
        if old is not None and new is None and old.version == LATEST:
            self._allowed.discard(old.name)
