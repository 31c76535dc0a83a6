"""Carrying SnapStart versions from Pending to Active or Failed.

A version published with `SnapStart.ApplyOn: PublishedVersions` is Pending until its Init
(and the before-snapshot hooks) has run once in a sandboxed environment, which the
scheduler then keeps frozen, ready to be restored by the version's next cold start
(scheduler.pool's `prepare_snapshot`). Its failure marks the version Failed with AWS's
StateReasonCode and a StateReason naming the error. At start-up, versions left Pending by
a stop are prepared again, and Active ones get their ready environment back.
"""

from __future__ import annotations

import asyncio
import json
import logging

from ember.control import FunctionConfig, FunctionService, snapstart
from ember.control.model import FunctionState
from ember.errors import LambdaError
from ember.invoke.sync import Invoker
from ember.scheduler import Scheduler

log = logging.getLogger("ember.snapstart")


class SnapStarts:
    def __init__(self, functions: FunctionService, scheduler: Scheduler, invoker: Invoker) -> None:
        self._functions = functions
        self._scheduler = scheduler
        self._invoker = invoker
        self._wanted: asyncio.Queue[FunctionConfig] = asyncio.Queue()
        functions.add_listener(self._on_change)

    def _on_change(self, old: FunctionConfig | None, new: FunctionConfig | None) -> None:
        if old is None and new is not None and new.snap_started:
            self._wanted.put_nowait(new)  # just published

    async def run(self) -> None:
        """Prepare each SnapStart version published (and those the store holds) until
        cancelled; every preparation is owned by this task group."""
        await self._scheduler.wait_running()
        for version in self._functions.all_versions():
            if version.snap_started and version.state is not FunctionState.FAILED:
                self._wanted.put_nowait(version)
        async with asyncio.TaskGroup() as tasks:
            while True:
                version = await self._wanted.get()
                tasks.create_task(self._prepare(version), name=f"snapstart-{version.name}")

    async def _prepare(self, version: FunctionConfig) -> None:
        try:
            failure = await self._scheduler.prepare_snapshot(self._invoker.spec(version))
        except LambdaError as exc:  # no room for another environment now
            log.warning("SnapStart Init of %s:%s refused: %s", version.name, version.version, exc)
            state, code, reason = FunctionState.FAILED, snapstart.FAILED_CODE, exc.message
        except Exception:  # a bug must not take the other preparations (or the server) down
            log.exception("SnapStart Init of %s:%s failed", version.name, version.version)
            state, code, reason = FunctionState.FAILED, "InternalError", "Internal error."
        else:
            if failure is None:
                state, code, reason = FunctionState.ACTIVE, "", ""
            else:
                message = _message(failure.payload)
                code, reason = snapstart.failed_reason(failure.error_type, message)
                state = FunctionState.FAILED
        if version.state is FunctionState.ACTIVE:
            # Start-up: an Active version getting its ready environment back stays Active
            # (its next cold start runs Init on demand if this one failed).
            if reason:
                log.warning("SnapStart Init of %s:%s: %s", version.name, version.version, reason)
            return
        try:
            await self._functions.settle_version(version.name, version.version, state, reason, code)
        except Exception:  # the store failed: the version stays Pending until a restart
            log.exception("settling %s:%s failed", version.name, version.version)


def _message(payload: bytes) -> str:
    """The errorMessage of an error document, if it is one."""
    try:
        document = json.loads(payload)
    except ValueError:
        return ""
    message = document.get("errorMessage") if isinstance(document, dict) else None
    return message if isinstance(message, str) else ""
