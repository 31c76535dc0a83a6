"""An environment's external extensions, the processes beside its runtime: which still
run, the first one's death (it fails Init; afterwards it resets the environment), and their
Shutdown phase."""

from __future__ import annotations

import asyncio
import contextlib

from ember.clock import Clock
from ember.runtime_api import RuntimeEndpoint

EXTENSION_SHUTDOWN = 2.0  # Lambda: 2,000 ms for extensions to handle SHUTDOWN


class Companions:
    def __init__(self, endpoint: RuntimeEndpoint, clock: Clock) -> None:
        self._endpoint = endpoint
        self._clock = clock
        self._running: set[str] = set()  # names of those still running
        self._gone = asyncio.Event()  # the last one exited
        # The first to die while it mattered: (name, status); Init races against it.
        self.crash: asyncio.Future[tuple[str, int]] = asyncio.get_running_loop().create_future()

    def declare(self, names: frozenset[str]) -> None:
        """The extensions about to start: the Extensions API expects them to register."""
        self._endpoint.declare_external_extensions(names)
        self._running = set(names)

    def exited(self, name: str) -> None:
        self._running.discard(name)
        if not self._running:
            self._gone.set()

    def crashed(self, name: str, status: int) -> None:
        if not self.crash.done():
            self.crash.set_result((name, status))

    async def shut_down(self, reason: str) -> None:
        """SHUTDOWN ("spindown" or "failure") to those that asked for it; wait for all to
        exit, 2 s at most (Lambda then kills them, as the runtime's termination does)."""
        if not self._running:
            return
        deadline_ms = int(self._clock.wall() * 1000 + EXTENSION_SHUTDOWN * 1000)
        if not self._endpoint.shutdown_extensions(reason, deadline_ms):
            return
        # Lambda waits for the extensions to exit, up to the deadline, then kills them.
        with contextlib.suppress(TimeoutError):
            async with self._clock.timeout(EXTENSION_SHUTDOWN):
                await self._gone.wait()
