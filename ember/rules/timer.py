"""The schedule timer: one task that sleeps until the next due schedule, fires every rule
due by then, and sleeps again. A rule change wakes it to recompute.

Wall clock, as AWS's schedules are: a cron(0 12 * * ? *) fires at 12:00 UTC whatever the
monotonic clock says. A firing missed while the server was down is not made up (neither
does EventBridge).
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import logging

from ember.clock import Clock
from ember.config import Settings
from ember.rules.events import scheduled_event
from ember.rules.model import Rule
from ember.rules.service import Rules

log = logging.getLogger("ember.rules")
_LATENESS_SAMPLES = 1000  # the most recent firings kept for statistics()


@dataclasses.dataclass(frozen=True, slots=True)
class TimerStatistics:
    fired: int
    lateness: tuple[float, ...]  # seconds between due time and delivery start, recent firings


class ScheduleTimer:
    def __init__(self, settings: Settings, rules: Rules, clock: Clock) -> None:
        self._settings = settings
        self._rules = rules
        self._clock = clock
        self._wake = asyncio.Event()
        self._next: dict[tuple[str, str, float], float] = {}  # schedule -> next due wall time
        self._fired = 0
        self._lateness: collections.deque[float] = collections.deque(maxlen=_LATENESS_SAMPLES)
        rules.on_change(self._wake.set)

    def statistics(self) -> TimerStatistics:
        return TimerStatistics(self._fired, tuple(self._lateness))

    async def run(self) -> None:
        """Until cancelled. Deliveries run as tasks of their own, so a slow target does
        not delay the next rule's firing."""
        async with asyncio.TaskGroup() as deliveries:
            while True:
                self._wake.clear()
                now = self._clock.wall()
                for rule, due in self._due(now):
                    self._fired += 1
                    self._lateness.append(now - due)
                    deliveries.create_task(self._fire(rule, due))
                wait = min(self._next.values()) - now if self._next else None
                try:
                    async with self._clock.timeout(wait):
                        await self._wake.wait()
                except TimeoutError:
                    pass

    def _due(self, now: float) -> list[tuple[Rule, float]]:
        """The schedules due by `now`, each with its due time; every schedule's next time
        moves past `now` (firings missed while stopped are skipped, not made up)."""
        due: list[tuple[Rule, float]] = []
        planned: dict[tuple[str, str, float], float] = {}
        for rule, expression in self._rules.scheduled():
            # A changed expression, or a re-enabled rule (new anchor), is a new schedule.
            key = (rule.name, rule.schedule_expression or "", rule.created)
            when = self._next.get(key)
            if when is None:
                when = expression.next_after(now)
            elif when <= now:
                due.append((rule, when))
                when = expression.next_after(now)
            if when is not None:
                planned[key] = when
        self._next = planned
        return due

    async def _fire(self, rule: Rule, due: float) -> None:
        event = scheduled_event(rule.arn, due, self._settings)
        try:
            await self._rules.deliver(rule, event)
        except Exception:  # one rule's failure must not stop the timer
            log.exception("schedule of rule %s: delivery failed", rule.name)
