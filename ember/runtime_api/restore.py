"""SnapStart's part of the Runtime API: `GET /runtime/restore/next` and `POST
/runtime/restore/error`, as Lambda serves them to runtimes of SnapStart versions.

The runtime of such a version runs Init and its before-snapshot hooks, then asks
`restore/next`: the request is parked here (Init is over: the environment is ready to be
kept as the version's snapshot) until the platform resumes it with `release()`. The
runtime then runs its after-restore hooks and polls `invocation/next` (the restore is
done: `wait_restored()`), or reports their failure on `restore/error`.

A small state machine of its own beside Lifecycle's, which it only reads (Init's error,
the first poll): INIT → PARKED → RELEASED → RESTORED | FAILED.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Mapping

from ember.runtime_api.errors import RequestRejectedError
from ember.runtime_api.invocation import InitError
from ember.runtime_api.lifecycle import Lifecycle
from ember.runtime_api.messages import ACCEPTED, Reply, Request
from ember.runtime_api.routing import Router

PREFIX = "/2018-06-01/runtime/restore"
ERROR_TYPE_HEADER = b"lambda-runtime-function-error-type"
RESTORE_ERROR = "Runtime.AfterRestoreError"  # what a restore/error naming no type reports
_RESUMED = Reply(200, b"", b"Content-Type: application/json\r\n")


class RestoreState(enum.Enum):
    INIT = "Init"  # Init (or its before-snapshot hooks) still running
    PARKED = "Parked"  # waits in restore/next: a snapshot-ready environment
    RELEASED = "Released"  # restore/next answered: after-restore hooks running
    FAILED = "Failed"  # restore/error reported


class RestoreRejectedError(RequestRejectedError):
    status = 403
    error_type = "InvalidStateTransition"


class RestoreGate:
    def __init__(self, lifecycle: Lifecycle) -> None:
        self._lifecycle = lifecycle
        self.state = RestoreState.INIT
        self._poll: Request | None = None
        self._error: InitError | None = None
        self._changed = asyncio.Event()

    def register(self, router: Router) -> None:
        router.add("GET", f"{PREFIX}/next", self.restore_next)
        router.add("POST", f"{PREFIX}/error", self.restore_error)

    # -- requests from the runtime --------------------------------------------------

    def restore_next(self, request: Request, params: Mapping[str, str]) -> Reply | None:
        if self.state is not RestoreState.INIT:
            raise RestoreRejectedError(f"restore/next is not allowed after {self.state.value}")
        self._poll = request
        self._move(RestoreState.PARKED)
        return None

    def restore_error(self, request: Request, params: Mapping[str, str]) -> Reply:
        if self.state is not RestoreState.RELEASED:
            raise RestoreRejectedError(f"restore/error is not allowed in {self.state.value}")
        error_type = request.header(ERROR_TYPE_HEADER) or RESTORE_ERROR
        self._error = InitError(error_type, request.body)
        self._move(RestoreState.FAILED)
        return ACCEPTED

    # -- calls from the platform --------------------------------------------------

    async def wait_parked(self) -> InitError | None:
        """Init's outcome for a SnapStart environment: None once the runtime waits in
        restore/next; its InitError if it reported one. A runtime that never asks
        restore/next (one without SnapStart support) is ready at its first poll instead."""
        ready = asyncio.ensure_future(self._lifecycle.wait_ready())
        try:
            while self.state is RestoreState.INIT and not ready.done():
                self._changed.clear()
                changed = asyncio.ensure_future(self._changed.wait())
                await asyncio.wait({ready, changed}, return_when=asyncio.FIRST_COMPLETED)
                changed.cancel()
            if self.state is RestoreState.PARKED:
                return None
            return await ready
        finally:
            ready.cancel()

    def release(self) -> None:
        """Resume the parked runtime (it runs its after-restore hooks next)."""
        poll, self._poll = self._poll, None
        if self.state is RestoreState.PARKED:
            self._move(RestoreState.RELEASED)
        if poll is not None and not poll.closing:
            poll.reply(_RESUMED)

    async def wait_restored(self) -> InitError | None:
        """After release(): None once the runtime polls invocation/next; the error it
        reported on restore/error (or init/error) otherwise."""
        ready = asyncio.ensure_future(self._lifecycle.wait_ready())
        try:
            while self.state is not RestoreState.FAILED and not ready.done():
                self._changed.clear()
                changed = asyncio.ensure_future(self._changed.wait())
                await asyncio.wait({ready, changed}, return_when=asyncio.FIRST_COMPLETED)
                changed.cancel()
            if self.state is RestoreState.FAILED:
                return self._error
            return await ready
        finally:
            ready.cancel()

    def _move(self, state: RestoreState) -> None:
        self.state = state
        self._changed.set()
