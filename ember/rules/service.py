"""The default event bus: rules (patterns and schedules), their targets, and delivering
events to those targets through Lambda's asynchronous intake.

Rules live in memory, written through to the metadata store, so matching an event never
touches the disk; a delivery returns once the intake has committed the event.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from ember import patterns
from ember.blocking import run_blocking
from ember.clock import Clock
from ember.config import Settings
from ember.control.names import parse_function_name
from ember.errors import LambdaError, ResourceNotFoundError, ValidationError
from ember.invoke.intake import EventIntake
from ember.rules import schedule, transform
from ember.rules.errors import LimitExceededError
from ember.rules.events import Entry, EntryResult, bus_event, check_entry
from ember.rules.model import DEFAULT_BUS, DISABLED, ENABLED, KIND, MAX_TARGETS, Rule, Target
from ember.store import MetadataStore

log = logging.getLogger("ember.rules")

# Targets that are not functions (queues, topics): ARN prefix -> send(arn, payload).
Sink = Callable[[str, bytes], Awaitable[None]]
_LAMBDA = "arn:aws:lambda:"


@dataclasses.dataclass(frozen=True, slots=True)
class FailedEntry:
    target_id: str
    code: str
    message: str


class Rules:
    def __init__(
        self, settings: Settings, metadata: MetadataStore, intake: EventIntake, clock: Clock
    ) -> None:
        self._settings = settings
        self._metadata = metadata
        self._intake = intake
        self._clock = clock
        self._rules: dict[str, Rule] = {}  # name -> rule
        self._matchers: dict[str, patterns.Matcher] = {}  # name -> its compiled pattern
        self._sinks: dict[str, Sink] = {}
        self._listeners: list[Callable[[], None]] = []

    # -- wiring --------------------------------------------------------------------

    def add_sink(self, arn_prefix: str, sink: Sink) -> None:
        """Deliver to targets whose ARN starts with `arn_prefix` ("arn:aws:sqs:") via `sink`."""
        self._sinks[arn_prefix] = sink

    def on_change(self, listener: Callable[[], None]) -> None:
        """Called after any rule changes (the schedule timer recomputes its next time)."""
        self._listeners.append(listener)

    async def load(self) -> None:
        for doc in (await run_blocking(self._metadata.load, KIND)).values():
            rule = Rule.from_doc(doc)
            self._rules[rule.name] = rule
            if rule.event_pattern is not None:
                self._matchers[rule.name] = patterns.compile(rule.event_pattern)
        self._changed()

    # -- reads ---------------------------------------------------------------------

    @property
    def account(self) -> str:
        return self._settings.account_id

    def arn(self, name: str) -> str:
        s = self._settings
        return f"arn:aws:events:{s.region}:{s.account_id}:rule/{name}"

    def check_bus(self, bus: str | None) -> None:
        """Only the default bus exists (by name or ARN)."""
        if bus is None:
            return
        s = self._settings
        if bus not in (DEFAULT_BUS, f"arn:aws:events:{s.region}:{s.account_id}:event-bus/default"):
            raise ResourceNotFoundError(f"Event bus {bus} does not exist.")

    def get(self, name: str) -> Rule:
        rule = self._rules.get(name)
        if rule is None:
            raise ResourceNotFoundError(f"Rule {name} does not exist on EventBus {DEFAULT_BUS}.")
        return rule

    def by_prefix(self, prefix: str | None = None) -> list[Rule]:
        return sorted(
            (r for r in self._rules.values() if prefix is None or r.name.startswith(prefix)),
            key=lambda r: r.name,
        )

    def scheduled(self) -> list[tuple[Rule, schedule.Rate | schedule.Cron]]:
        """Enabled rules with a schedule, each with its parsed expression."""
        scale = self._settings.schedule_scale
        return [
            (r, schedule.parse(r.schedule_expression, anchor=r.created, scale=scale))
            for r in self._rules.values()
            if r.enabled and r.schedule_expression is not None
        ]

    # -- writes --------------------------------------------------------------------

    async def put_rule(
        self,
        name: str,
        *,
        schedule_expression: str | None,
        event_pattern: str | None,
        state: str | None,
        description: str | None,
        role_arn: str | None,
    ) -> Rule:
        """Create or replace a rule (its targets stay), as PutRule."""
        if schedule_expression is None and event_pattern is None:
            raise ValidationError(
                "Parameter(s) EventPattern or ScheduleExpression must be specified."
            )
        now = self._clock.wall()
        if schedule_expression is not None:
            schedule.parse(schedule_expression, anchor=now)
        matcher = patterns.compile(event_pattern) if event_pattern is not None else None
        if state == "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS":
            state = ENABLED
        old = self._rules.get(name)
        rule = Rule(
            name=name,
            arn=self.arn(name),
            created=old.created
            if old is not None and old.schedule_expression == schedule_expression
            else now,
            state=state or ENABLED,
            event_pattern=event_pattern,
            schedule_expression=schedule_expression,
            description=description,
            role_arn=role_arn,
            targets=old.targets if old is not None else (),
        )
        await self._save(rule)
        if matcher is None:
            self._matchers.pop(name, None)
        else:
            self._matchers[name] = matcher
        return rule

    async def set_state(self, name: str, enabled: bool) -> None:
        rule = self.get(name)
        state = ENABLED if enabled else DISABLED
        if rule.state != state:
            # Re-enabling a rate schedule counts its periods from now, as a new one.
            created = self._clock.wall() if enabled else rule.created
            await self._save(dataclasses.replace(rule, state=state, created=created))

    async def delete(self, name: str, *, force: bool = False) -> None:
        rule = self._rules.get(name)
        if rule is None:
            return  # DeleteRule of a missing rule succeeds, as AWS
        if rule.targets and not force:
            raise ValidationError("Rule can't be deleted since it has targets.")
        await run_blocking(self._metadata.write, deletes=[(KIND, name)])
        self._rules.pop(name, None)
        self._matchers.pop(name, None)
        self._changed()

    async def put_targets(self, name: str, targets: Sequence[Target]) -> list[FailedEntry]:
        rule = self.get(name)
        failed: list[FailedEntry] = []
        merged = {t.id: t for t in rule.targets}
        for target in targets:
            problem = self._target_problem(target)
            if problem is not None:
                failed.append(FailedEntry(target.id, "ValidationException", problem))
            else:
                merged[target.id] = target
        if len(merged) > MAX_TARGETS:
            raise LimitExceededError(
                f"The requested resource exceeds the maximum number allowed. A rule can have "
                f"at most {MAX_TARGETS} targets."
            )
        await self._save(dataclasses.replace(rule, targets=tuple(merged.values())))
        return failed

    async def remove_targets(self, name: str, ids: Sequence[str]) -> list[FailedEntry]:
        rule = self.get(name)
        present = {t.id for t in rule.targets}
        failed = [
            FailedEntry(i, "ResourceNotFoundException", f"Target {i} does not exist.")
            for i in ids
            if i not in present
        ]
        kept = tuple(t for t in rule.targets if t.id not in set(ids))
        await self._save(dataclasses.replace(rule, targets=kept))
        return failed

    def _target_problem(self, target: Target) -> str | None:
        if target.arn.startswith(_LAMBDA):
            if ":function:" not in target.arn:
                return f"Target {target.id} has an invalid Lambda function ARN: {target.arn}"
            return None
        if any(target.arn.startswith(prefix) for prefix in self._sinks):
            return None
        return f"Ember does not deliver to this kind of target: {target.arn}"

    async def _save(self, rule: Rule) -> None:
        await run_blocking(self._metadata.write, puts=[(KIND, rule.name, rule.to_doc())])
        self._rules[rule.name] = rule
        self._changed()

    def _changed(self) -> None:
        for listener in self._listeners:
            listener()

    # -- events --------------------------------------------------------------------

    async def put_events(self, entries: Sequence[Entry]) -> list[EntryResult]:
        """Match each entry against the enabled pattern rules and deliver it to their
        targets; answers once every delivery is committed."""
        results: list[EntryResult] = []
        # Every delivery at once: the intake commits them together (one group commit).
        async with asyncio.TaskGroup() as deliveries:
            for entry in entries:
                problem = check_entry(entry)
                if problem is not None:
                    results.append(problem)
                    continue
                event = bus_event(entry, self._settings, self._clock.wall())
                for rule in list(self._rules.values()):
                    matcher = self._matchers.get(rule.name)
                    if rule.enabled and matcher is not None and matcher.matches(event):
                        deliveries.create_task(self.deliver(rule, event))
                results.append(EntryResult(event_id=event["id"]))
        return results

    def test_pattern(self, pattern: str, event: dict[str, Any]) -> bool:
        return patterns.compile(pattern).matches(event)

    async def deliver(self, rule: Rule, event: dict[str, Any]) -> None:
        """Hand `event` to each of the rule's targets (each failure logged, not raised:
        EventBridge's caller does not hear about its targets)."""
        async with asyncio.TaskGroup() as sends:
            for target in rule.targets:
                body = transform.payload(target, event, rule.arn, rule.name)
                sends.create_task(self._send_logged(rule, target, body))

    async def _send_logged(self, rule: Rule, target: Target, body: bytes) -> None:
        try:
            await self._send(target, body)
        except LambdaError as exc:
            log.warning(
                "rule %s: target %s (%s) refused the event: %s",
                rule.name, target.id, target.arn, exc.message,
            )  # fmt: skip

    async def _send(self, target: Target, body: bytes) -> None:
        if target.arn.startswith(_LAMBDA):
            ref = parse_function_name(target.arn, self._settings.region)
            await self._intake.accept(ref.name, ref.qualifier, body, request_id=str(uuid.uuid4()))
            return
        for prefix, sink in self._sinks.items():
            if target.arn.startswith(prefix):
                await sink(target.arn, body)
                return
