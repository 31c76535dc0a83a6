"""Every mapping's poller, kept in line with the mappings' states.

Control changes a mapping and tells us (`on_change`); one reconciling loop starts, restarts
or stops the mapping's poller, then settles the mapping (Creating, Enabling, Updating,
Disabling end) or finishes its deletion. All pollers run in one task group owned here and
end with `close()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Callable

from ember.clock import Clock
from ember.control.concurrency import ConcurrencyService
from ember.control.mappings import Mapping, MappingService, MappingState
from ember.errors import LambdaError
from ember.invoke import Invoker
from ember.invoke.recursion import RecursionGuard
from ember.sources.filtering import CompilePattern
from ember.sources.poller import STOP_GRACE, MappingPoller
from ember.sources.shards import StreamPoller, StreamPollers
from ember.sources.source import Source

log = logging.getLogger("ember.sources")

RETRY_START = 5.0  # seconds before a poller whose source was missing (or that failed) restarts
# A mapping's source, built when its poller starts (raises LambdaError if it is gone).
SourceFactory = Callable[[Mapping], Source]
# The mapping members whose change restarts its poller (state and bookkeeping do not).
_BOOKKEEPING = {"state", "state_reason", "last_modified", "last_processing_result", "created"}


def _config(mapping: Mapping) -> dict[str, object]:
    return {
        f.name: getattr(mapping, f.name)
        for f in dataclasses.fields(mapping)
        if f.name not in _BOOKKEEPING
    }


@dataclasses.dataclass
class _Running:
    poller: MappingPoller | StreamPoller
    task: asyncio.Task[None]


class Pollers:
    def __init__(
        self,
        mappings: MappingService,
        invoker: Invoker,
        concurrency: ConcurrencyService,
        clock: Clock,
        *,
        sources: SourceFactory,
        compile_pattern: CompilePattern,
        account_limit: int,
        recursion: RecursionGuard | None = None,
        streams: StreamPollers | None = None,
    ) -> None:
        self._recursion = recursion  # stops function -> queue -> function loops
        self._streams = streams  # builds the pollers of stream (Kinesis) mappings
        self._mappings = mappings
        self._invoker = invoker
        self._concurrency = concurrency
        self._clock = clock
        self._sources = sources
        self._compile = compile_pattern
        self._account_limit = account_limit
        self._changes: asyncio.Queue[str] = asyncio.Queue()  # uuids to reconcile
        self._running: dict[str, _Running] = {}  # uuid -> its poller
        self._group: asyncio.TaskGroup | None = None
        self._closed = asyncio.Event()
        self._done = asyncio.Event()  # run() has stopped every poller
        self._retries: set[asyncio.Task[None]] = set()  # pending restarts, cancelled on close
        mappings.on_change(lambda old, new: self._changes.put_nowait((new or old).uuid))

    def statistics(self) -> dict[str, dict[str, int]]:
        return {uuid: r.poller.statistics() for uuid, r in self._running.items()}

    async def run(self) -> None:
        """Reconcile every mapping (those a crash left mid-change included), then follow
        the changes until close()."""
        try:
            await self._follow()
        finally:
            self._done.set()

    async def _follow(self) -> None:
        async with asyncio.TaskGroup() as group:
            self._group = group
            for mapping in self._mappings.all():
                self._changes.put_nowait(mapping.uuid)
            while True:
                uuid = await self._changes.get()
                if self._closed.is_set():
                    break
                try:
                    await self._reconcile(uuid)
                except LambdaError:
                    log.exception("event source mapping %s: reconciling failed", uuid)
            await self._stop_all()

    async def close(self) -> None:
        """Stop every poller (in-flight batches get STOP_GRACE to finish) and end run()."""
        self._closed.set()
        self._changes.put_nowait("")  # wakes run()
        with contextlib.suppress(TimeoutError):
            async with self._clock.timeout(STOP_GRACE + 1.0):
                await self._done.wait()

    async def _stop_all(self) -> None:
        for task in list(self._retries):
            task.cancel()
        await asyncio.gather(*(self._stop(uuid) for uuid in list(self._running)))

    async def _reconcile(self, uuid: str) -> None:
        mapping = self._mappings.find(uuid)
        running = self._running.get(uuid)
        if mapping is None or mapping.state is MappingState.DELETING:
            if running is not None:
                await self._stop(uuid)
            if mapping is not None:
                await self._mappings.finish_delete(uuid)
            return
        if running is not None and (
            not mapping.enabled or _config(running.poller.mapping) != _config(mapping)
        ):
            await self._stop(uuid)
            running = None
        if mapping.enabled and running is None:
            self._start(mapping)
        await self._mappings.settle(uuid)

    def _start(self, mapping: Mapping) -> None:
        assert self._group is not None
        if self._streams is not None and self._streams.handles(mapping):
            stream_poller = self._streams.poller(
                mapping, lambda text: self._mappings.record_result(mapping.uuid, text)
            )
            task = self._group.create_task(
                self._guarded(stream_poller), name=f"poller-{mapping.uuid}"
            )
            self._running[mapping.uuid] = _Running(stream_poller, task)
            return
        try:
            source = self._sources(mapping)
        except LambdaError as exc:
            # The queue is gone: the mapping stays Enabled, reports it, and tries again
            # (a queue of that name may come back).
            self._mappings.record_result(mapping.uuid, f"PROBLEM: {exc.message}")
            self._retry_later(mapping.uuid)
            return
        poller = MappingPoller(
            mapping,
            source,
            self._invoker,
            self._clock,
            limit=lambda: self._limit(mapping.function_name),
            compile_pattern=self._compile,
            on_result=lambda text: self._mappings.record_result(mapping.uuid, text),
            loop_check=self._recursion.start if self._recursion is not None else None,
        )
        task = self._group.create_task(self._guarded(poller), name=f"poller-{mapping.uuid}")
        self._running[mapping.uuid] = _Running(poller, task)

    def _retry_later(self, uuid: str) -> None:
        assert self._group is not None
        task = self._group.create_task(self._retry(uuid), name=f"retry-{uuid}")
        self._retries.add(task)
        task.add_done_callback(self._retries.discard)

    async def _retry(self, uuid: str) -> None:
        await self._clock.sleep(RETRY_START)
        self._changes.put_nowait(uuid)

    async def _guarded(self, poller: MappingPoller | StreamPoller) -> None:
        """A poller that fails is logged and started again; the others go on."""
        uuid = poller.mapping.uuid
        try:
            await poller.run()
        except Exception:
            log.exception("event source mapping %s: poller failed", uuid)
            running = self._running.get(uuid)
            if running is not None and running.poller is poller:
                del self._running[uuid]
                self._retry_later(uuid)

    async def _stop(self, uuid: str) -> None:
        running = self._running.pop(uuid, None)
        if running is None:
            return
        running.poller.stop()
        done, _ = await asyncio.wait({running.task}, timeout=STOP_GRACE)
        if not done:
            running.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await running.task

    def _limit(self, function_name: str) -> int:
        """The function's reserved concurrency when it has one, else the account's."""
        try:
            reserved = self._concurrency.get_reserved(function_name)
        except LambdaError:
            return self._account_limit  # the function is gone: invokes say so
        return self._account_limit if reserved is None else reserved
