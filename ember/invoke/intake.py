"""Accepting asynchronous invocations: the event is durable before the caller hears 202."""

from __future__ import annotations

from collections.abc import Callable

from ember.clock import Clock
from ember.invoke.committer import GroupCommitter
from ember.invoke.sync import Invoker
from ember.store.events import NewEvent
from ember.store.queue import Enqueue
from ember.telemetry import Metrics
from ember.telemetry.metrics import ASYNC_EVENTS_RECEIVED


class EventIntake:
    def __init__(
        self,
        invoker: Invoker,
        committer: GroupCommitter,
        metrics: Metrics,
        clock: Clock,
        on_accepted: Callable[[], None],
    ) -> None:
        self._invoker = invoker
        self._committer = committer
        self._metrics = metrics
        self._clock = clock
        self._on_accepted = on_accepted  # wakes the dispatcher

    async def accept(
        self,
        name: str,
        qualifier: str | None,
        payload: bytes,
        *,
        request_id: str,
        client_context: str | None = None,
    ) -> None:
        """Queue one event for `name` (404 at once if it, or the version or alias
        `qualifier`, does not exist). Returns once the event is committed to disk; the
        function runs later, as `request_id`."""
        self._invoker.select(name, qualifier)
        event = NewEvent(
            request_id=request_id,
            target=name,
            qualifier=qualifier,
            payload=payload,
            received=self._clock.wall(),
            context=client_context,
        )
        await self._committer.submit(Enqueue([event]))
        self._metrics.count(name, ASYNC_EVENTS_RECEIVED)
        self._on_accepted()
