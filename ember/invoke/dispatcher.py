"""The dispatcher: takes due events from the durable queue, invokes them through the same
Invoker (and scheduler limits) as synchronous calls, and records what happens next.

One loop claims events while it has free slots (at most `async_concurrency` run at once)
and sleeps until an event is accepted, a slot frees up or a retry falls due. Claims go
round robin over the functions with due events (store.queue.Claim), so one function's
backlog cannot keep another's events waiting. Each claimed event runs in its own task
under the dispatcher's task group; its outcome (a retry, or the end with its destination
record and dead letter for functions) is one atomic queue write. A record or dead letter
for a queue or topic goes through the MessageSink first, then the event ends: at least
once, like Lambda's own deliveries.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import uuid

import orjson

from ember.clock import Clock
from ember.config import Settings
from ember.control import FunctionService
from ember.control.destinations import function_target, message_service
from ember.control.event_invoke import EventInvokeConfig, EventInvokeConfigs
from ember.control.model import LATEST
from ember.errors import LambdaError, ResourceNotFoundError, TooManyRequestsError
from ember.invoke.committer import CommitterStatistics, GroupCommitter
from ember.invoke.records import (
    Outcome,
    dead_letter_attributes,
    dead_letter_context,
    error_message,
    invocation_record,
)
from ember.invoke.recursion import trace_header
from ember.invoke.retry import Condition, Limits, OutcomeKind, RetryPolicy, RunAgain
from ember.invoke.sinks import Attributes, MessageSink, NoSinks
from ember.invoke.sync import Invoker
from ember.store.events import EventState, NewEvent, QueuedEvent
from ember.store.queue import Claim, Depths, Finish, Reschedule
from ember.telemetry import Metrics
from ember.telemetry.metrics import (
    ASYNC_EVENT_AGE,
    ASYNC_EVENTS_DROPPED,
    ASYNC_EVENTS_RECEIVED,
    DEAD_LETTER_ERRORS,
    DESTINATION_DELIVERY_FAILURES,
)

log = logging.getLogger("ember.invoke.dispatcher")

CLAIM_RETRY = 1.0  # seconds before claiming again after the queue failed to answer


@dataclasses.dataclass(frozen=True, slots=True)
class DispatcherStatistics:
    running: int  # events being invoked now
    limit: int  # --async-concurrency
    commits: CommitterStatistics  # the queue's group commits


@dataclasses.dataclass(frozen=True, slots=True)
class QueueDepth:
    """One function's asynchronous queue, as `ember queue` shows it."""

    function: str
    ready: int
    in_flight: int
    oldest_age: float | None  # seconds since its oldest live event was accepted
    dropped: int


def limits_of(config: EventInvokeConfig | None) -> Limits:
    if config is None:
        return Limits()
    defaults = Limits()
    return Limits(
        retry_attempts=(
            defaults.retry_attempts
            if config.maximum_retry_attempts is None
            else config.maximum_retry_attempts
        ),
        max_event_age=(
            defaults.max_event_age if config.maximum_event_age is None else config.maximum_event_age
        ),
    )


def _platform_outcome(error: LambdaError) -> Outcome:
    body = orjson.dumps({"errorType": error.code, "errorMessage": error.message})
    return Outcome(error.status, None, None, body, error.message)


class Dispatcher:
    def __init__(
        self,
        settings: Settings,
        committer: GroupCommitter,
        invoker: Invoker,
        functions: FunctionService,
        configs: EventInvokeConfigs,
        metrics: Metrics,
        clock: Clock,
        *,
        retry: RetryPolicy | None = None,
        sinks: MessageSink | None = None,
    ) -> None:
        self._settings = settings
        self._committer = committer
        self._invoker = invoker
        self._functions = functions
        self._configs = configs
        self._metrics = metrics
        self._clock = clock
        self._policy = retry or RetryPolicy(settings.async_delay_scale)
        self._sinks: MessageSink = sinks or NoSinks()
        self._last_target: str | None = None  # where the last claim's round robin ended
        self._limit = settings.async_concurrency
        self._running: set[asyncio.Task[None]] = set()  # until the outcome is committed
        # Ids of events using one of the `async_concurrency` slots: only while invoking, so
        # the outcome's commit does not hold a slot (the event stays IN_FLIGHT until then).
        self._busy: set[int] = set()
        self._wakeup = asyncio.Event()
        self._closing = False
        self._started = False
        self._stopped = asyncio.Event()

    # -- lifecycle ------------------------------------------------------------------

    def wake(self) -> None:
        """Look at the queue again now (an event was accepted or handed over)."""
        self._wakeup.set()

    async def run(self) -> None:
        """Dispatch until close(); then let running events finish within the shutdown
        grace and cancel the rest (they stay IN_FLIGHT and run again after a restart)."""
        self._started = True
        try:
            async with asyncio.TaskGroup() as tasks:
                await self._dispatch(tasks)
                if self._running:
                    _, late = await asyncio.wait(
                        set(self._running), timeout=self._settings.shutdown_grace
                    )
                    for task in late:
                        task.cancel()
        finally:
            self._stopped.set()

    async def close(self) -> None:
        """Stop taking events; returns when the dispatcher has stopped."""
        self._closing = True
        self.wake()
        if self._started:
            await self._stopped.wait()

    async def _dispatch(self, tasks: asyncio.TaskGroup) -> None:
        while not self._closing:
            self._wakeup.clear()
            free = self._limit - len(self._busy)
            next_due: float | None = None
            if free > 0:
                try:
                    events, next_due = await self._committer.submit(
                        Claim(self._clock.wall(), free, after=self._last_target)
                    )
                except LambdaError as exc:  # the queue cannot be read: say so, try again
                    log.error("cannot take events from the queue: %s", exc.message)
                    events, next_due = [], self._clock.wall() + CLAIM_RETRY
                if events:
                    self._last_target = events[-1].target
                for event in events:
                    self._busy.add(event.id)
                    task = tasks.create_task(self._process(event), name=f"event-{event.id}")
                    self._running.add(task)
                    task.add_done_callback(self._finished)
                if len(events) == free:
                    continue  # there may be more due right now; look again once slots free
            timeout = None if next_due is None else max(0.0, next_due - self._clock.wall())
            with contextlib.suppress(TimeoutError):
                async with self._clock.timeout(timeout):  # a retry falls due on the clock
                    await self._wakeup.wait()

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)

    def _release(self, event: QueuedEvent) -> None:
        """Give the event's slot back (its invocation is over) and look for more work."""
        if event.id in self._busy:
            self._busy.discard(event.id)
            self._wakeup.set()

    def statistics(self) -> DispatcherStatistics:
        return DispatcherStatistics(len(self._busy), self._limit, self._committer.statistics())

    async def depths(self) -> list[QueueDepth]:
        """Every function's queue depth, in-flight count, oldest event age and drops."""
        found = await self._committer.submit(Depths())
        now = self._clock.wall()
        return [
            QueueDepth(
                function=d.target,
                ready=d.ready,
                in_flight=d.in_flight,
                oldest_age=None if d.oldest_received is None else now - d.oldest_received,
                dropped=d.dropped,
            )
            for d in found
        ]

    # -- one event ------------------------------------------------------------------

    async def _process(self, event: QueuedEvent) -> None:
        try:
            await self._step(event)
        except LambdaError as exc:  # the queue write failed: the event stays IN_FLIGHT
            log.error("async event %s (%s): %s", event.request_id, event.target, exc.message)
        except Exception:  # a bug must not take the dispatcher (or the server) down
            log.exception("async event %s (%s) failed", event.request_id, event.target)
        finally:
            self._release(event)

    async def _step(self, event: QueuedEvent) -> None:
        config = self._configs.find(event.target, event.qualifier)
        limits = limits_of(config)
        previous = Outcome.from_json(event.outcome) if event.outcome else None
        now = self._clock.wall()
        if self._policy.expired(event.received, now, limits):
            await self._finish(event, Condition.EVENT_AGE_EXCEEDED, previous, config)
            return
        self._metrics.observe(event.target, ASYNC_EVENT_AGE, (now - event.received) * 1000)
        kind, outcome = await self._attempt(event)
        self._release(event)
        ran = kind in (OutcomeKind.SUCCESS, OutcomeKind.FUNCTION_ERROR)
        attempts = event.attempts + 1 if ran else event.attempts
        decision = self._policy.decide(
            kind,
            attempts=attempts,
            backoffs=event.backoffs,
            received=event.received,
            now=self._clock.wall(),
            limits=limits,
        )
        if isinstance(decision, RunAgain):
            # A throttle or system error keeps the last run's outcome for the record.
            kept = outcome if ran or previous is None else previous
            await self._committer.submit(
                Reschedule(event.id, decision.at, decision.attempts, decision.backoffs,
                           kept.to_json())
            )  # fmt: skip
            self.wake()  # it may now fall due before the loop's current timer
            return
        shown = outcome if ran or previous is None else previous
        done = dataclasses.replace(event, attempts=attempts)
        await self._finish(done, decision.condition, shown, config)

    async def _attempt(self, event: QueuedEvent) -> tuple[OutcomeKind, Outcome]:
        try:
            result = await self._invoker.invoke(
                event.target,
                event.qualifier,
                event.payload,
                client_context=event.context,
                request_id=event.request_id,
            )
        except TooManyRequestsError as exc:
            return OutcomeKind.THROTTLED, _platform_outcome(exc)
        except ResourceNotFoundError as exc:
            return OutcomeKind.GONE, _platform_outcome(exc)
        except LambdaError as exc:
            return OutcomeKind.SYSTEM_ERROR, _platform_outcome(exc)
        outcome = Outcome(
            status_code=200,
            executed_version=result.executed_version,
            function_error=result.function_error,
            payload=result.payload,
            error_message=error_message(result.payload) if result.function_error else "",
        )
        if result.function_error is not None:
            return OutcomeKind.FUNCTION_ERROR, outcome
        return OutcomeKind.SUCCESS, outcome

    # -- the end of an event ----------------------------------------------------------

    async def _finish(
        self,
        event: QueuedEvent,
        condition: Condition | None,
        outcome: Outcome | None,
        config: EventInvokeConfig | None,
    ) -> None:
        """End the event and hand its record (and dead letter) over in one write.
        `condition` None: the function is gone, the event is dropped without a trace."""
        succeeded = condition is Condition.SUCCESS
        follow_ups: list[NewEvent] = []
        messages: list[tuple[str, str, Attributes, str]] = []  # (arn, body, attributes, metric)
        if condition is not None:
            destination = (config.on_success if succeeded else config.on_failure) if config else ""
            if destination:
                record = invocation_record(
                    request_id=event.request_id,
                    function_arn=f"{self._functions.arn(event.target)}:{event.qualifier or LATEST}",
                    condition=condition,
                    invoke_count=event.attempts,
                    request_payload=event.payload,
                    outcome=outcome,
                    wall=self._clock.wall(),
                )
                if message_service(destination):
                    messages.append(
                        (destination, record.decode(), {}, DESTINATION_DELIVERY_FAILURES)
                    )
                else:
                    self._hand_over(
                        follow_ups, event, destination, record, None, DESTINATION_DELIVERY_FAILURES
                    )
            if not succeeded:
                dead_letter = self._dead_letter_arn(event)
                if message_service(dead_letter):
                    # Lambda's dead letter: the event as the body, what failed as attributes.
                    body = event.payload.decode("utf-8", errors="replace")
                    attributes = dead_letter_attributes(event.request_id, outcome)
                    messages.append((dead_letter, body, attributes, DEAD_LETTER_ERRORS))
                elif dead_letter:
                    context = dead_letter_context(event.request_id, outcome)
                    self._hand_over(
                        follow_ups, event, dead_letter, event.payload, context, DEAD_LETTER_ERRORS
                    )
        for arn, body, attributes, metric in messages:
            await self._send(event, arn, body, attributes, metric)
        state = EventState.DONE if succeeded else EventState.FAILED
        await self._committer.submit(Finish(event.id, event.target, state, follow_ups))
        if not succeeded:
            self._metrics.count(event.target, ASYNC_EVENTS_DROPPED)
        for follow_up in follow_ups:
            self._metrics.count(follow_up.target, ASYNC_EVENTS_RECEIVED)
        if follow_ups:
            self.wake()

    def _hand_over(
        self,
        follow_ups: list[NewEvent],
        event: QueuedEvent,
        arn: str,
        payload: bytes,
        context: str | None,
        failure_metric: str,
    ) -> None:
        """Queue `payload` for the function `arn` names (an asynchronous invoke, as Lambda
        invokes destination functions), or count a failed delivery if it is gone."""
        target = function_target(arn, self._settings.region, self._settings.account_id)
        if target is not None and not self._configs.function_exists(target.name, target.qualifier):
            target = None
        if target is None:
            log.warning("async event %s: cannot deliver to %s", event.request_id, arn)
            self._metrics.count(event.target, failure_metric)
            return
        follow_ups.append(
            NewEvent(
                request_id=str(uuid.uuid4()),
                target=target.name,
                qualifier=target.qualifier,
                payload=payload,
                received=self._clock.wall(),
                context=context,
            )
        )

    async def _send(
        self, event: QueuedEvent, arn: str, body: str, attributes: Attributes, metric: str
    ) -> None:
        """Deliver a record or dead letter to a queue or topic; a failure (one that does not
        exist: AWS accepts such a config too) is logged and counted, and the event ends."""
        try:
            await self._sinks.send(
                arn, body, attributes, trace_header=trace_header(event.request_id, event.received)
            )
        except LambdaError as exc:
            log.warning("async event %s: cannot deliver to %s: %s", event.request_id, arn,
                        exc.message)  # fmt: skip
            self._metrics.count(event.target, metric)
        except Exception:  # a fault in the queue or topic must not keep the event in flight
            log.exception("async event %s: delivery to %s failed", event.request_id, arn)
            self._metrics.count(event.target, metric)

    def _dead_letter_arn(self, event: QueuedEvent) -> str:
        """The DeadLetterConfig of the version the event ran on (through its alias)."""
        try:
            config = self._invoker.select(event.target, event.qualifier)
        except ResourceNotFoundError:
            return ""
        return config.dead_letter_arn
