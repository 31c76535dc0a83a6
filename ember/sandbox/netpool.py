"""Network namespaces made ahead of cold starts, as scratch.py does for /tmp filesystems.

Making one costs ~0.5 ms alone and ~1.1 ms with its veth pair, address and route, but in a
burst they queue: the kernel takes its rtnl lock for every netlink request, Ember's few
blocking threads are shared with the other steps of a start, and 100 cold starts at once
waited up to ~0.9 s for their namespaces. A pool keeps some ready: loopback up, the
Runtime API's socket listening at 127.0.0.1:9001, and with outbound traffic `eth0` wired
to the bridge with its address and default route. `take()` pops one (microseconds) and
adds the host.ember.internal relay sockets, which depend on the moment's host ports.

A pooled namespace is exactly what `network.create()` makes, made earlier: it is handed
to one environment only, never returned (its release closes it, and the kernel frees it
with the environment's last process), and nothing runs in it before its environment. The
pool's task refills it; `close()` closes what is left (their veths go with them).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import threading
from collections.abc import Iterable

from ember.blocking import run_blocking
from ember.sandbox import network
from ember.sandbox.outbound import Outbound

log = logging.getLogger("ember.sandbox")

READY = 16  # namespaces kept ready at first (~150 KB of kernel memory and 3 fds each)
MAX_READY = 128  # ... doubled up to this each time cold starts find none ready
# The task waits this long after being woken: a take() wakes it during a cold start, and
# making the next namespace then would compete with that cold start for the CPUs.
REFILL_DELAY = 0.05


class NamespacePool:
    """Ready namespaces. `take()` and `run()` are for the event loop; `close()` blocks."""

    def __init__(self, outbound: Outbound | None, ready: int = READY) -> None:
        self._outbound = outbound
        self._target = ready
        self._ready: collections.deque[network.Namespace] = collections.deque()
        # _closed and _making against makes finishing in threads: a make whose awaiting
        # task was cancelled still lands in _ready (or is closed), never lost.
        self._lock = threading.Condition()
        self._making = 0
        self._wake = asyncio.Event()
        self._running = False
        self._closed = False
        self.made = 0  # namespaces made, by the task or on demand
        self.taken = 0  # handed to environments
        self.missed = 0  # takes that found none ready

    @property
    def ready(self) -> int:
        return len(self._ready)

    @property
    def target(self) -> int:
        return self._target

    async def take(self, relay_ports: Iterable[int] = ()) -> network.Namespace:
        """A namespace for one environment, with relay sockets on 127.0.0.2 at
        `relay_ports`: a ready one, else made now. The caller owns it (its close())."""
        if self._closed:
            raise network.NetworkError(0, "the namespace pool is closed")
        ports = list(relay_ports)
        self.taken += 1
        self._wake.set()
        with self._lock:
            ns = self._ready.popleft() if self._ready else None
        if ns is not None:
            try:
                network.add_relays(ns, ports)  # a few µs per port, on the loop
            except BaseException:
                ns.close()
                raise
            return ns
        self.missed += 1
        if self._running:  # a burst outran the pool: keep more ready from now on
            self._target = min(MAX_READY, 2 * max(self._target, 1))
        ns = await run_blocking(network.create, ports, self._outbound)
        self.made += 1
        return ns

    async def run(self) -> None:
        """Refill until cancelled. A failure is logged and retried on the next take, never
        raised: cold starts then make their own."""
        self._running = True
        self._wake.set()
        try:
            while True:
                await self._wake.wait()
                await asyncio.sleep(REFILL_DELAY)
                self._wake.clear()
                try:
                    while len(self._ready) < self._target and not self._closed:
                        await run_blocking(self._make_ready)
                except OSError as exc:
                    log.warning("cannot prepare network namespaces: %s", exc)
        finally:
            self._running = False

    def _make_ready(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._making += 1
        try:
            ns = network.create((), self._outbound)
            with self._lock:
                self.made += 1
                keep = not self._closed
                if keep:
                    self._ready.append(ns)
            if not keep:
                ns.close()
        finally:
            with self._lock:
                self._making -= 1
                self._lock.notify_all()

    def close(self) -> None:
        """Close every ready namespace (their veth pairs go with them), after the makes
        under way (blocking, a few ms at most). Idempotent."""
        with self._lock:
            self._closed = True
            self._lock.wait_for(lambda: self._making == 0, timeout=10)
            ready, self._ready = list(self._ready), collections.deque()
        for ns in ready:
            ns.close()
