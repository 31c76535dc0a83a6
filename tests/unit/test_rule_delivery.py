"""What rule targets receive (Input, InputPath, InputTransformer) and when the schedule
timer fires (on a manual clock)."""

from __future__ import annotations

import asyncio
import json
from typing import Any, cast

from ember.clock import ManualClock
from ember.config import Settings
from ember.rules import schedule, transform
from ember.rules.model import Rule, Target
from ember.rules.service import Rules
from ember.rules.timer import ScheduleTimer

EVENT: dict[str, Any] = {
    "version": "0",
    "id": "e1",
    "detail-type": "Order Placed",
    "source": "shop",
    "time": "2026-11-28T10:00:00Z",
    "resources": ["arn:a"],
    "detail": {"order": {"id": 7, "items": ["x", "y"]}, "who": 'ada "the" first'},
}
ARN = "arn:aws:events:us-east-1:000000000000:rule/r"


def shaped(target: Target) -> Any:
    return json.loads(transform.payload(target, EVENT, ARN, "r"))


def test_whole_event_constant_and_path() -> None:
    assert shaped(Target("t", "a")) == EVENT
    assert shaped(Target("t", "a", input='{"fixed": true}')) == {"fixed": True}
    assert shaped(Target("t", "a", input_path="$.detail.order")) == {"id": 7, "items": ["x", "y"]}
    assert shaped(Target("t", "a", input_path="$.detail.order.items[1]")) == "y"
    assert shaped(Target("t", "a", input_path="$.nope")) is None


def test_input_transformer_quotes_as_eventbridge() -> None:
    target = Target(
        "t",
        "a",
        paths_map={"who": "$.detail.who", "order": "$.detail.order", "id": "$.detail.order.id"},
        template=(
            '{"text": "<who> ordered #<id>", "order": <order>, "rule": "<aws.events.rule-arn>"}'
        ),
    )
    assert shaped(target) == {
        "text": 'ada "the" first ordered #7',
        "order": {"id": 7, "items": ["x", "y"]},
        "rule": ARN,
    }
    plain = Target("t", "a", paths_map={"id": "$.detail.order.id"}, template='"order <id> placed"')
    assert shaped(plain) == "order 7 placed"


class FakeRules:
    """The part of Rules the timer uses: one scheduled rule, deliveries recorded."""

    def __init__(self, rule: Rule) -> None:
        self.rule = rule
        self.delivered: list[dict[str, Any]] = []

    def on_change(self, listener: Any) -> None:
        pass

    def scheduled(self) -> list[tuple[Rule, schedule.Rate | schedule.Cron]]:
        return [(self.rule, schedule.parse(self.rule.schedule_expression or "", anchor=0))]

    async def deliver(self, rule: Rule, event: dict[str, Any]) -> None:
        self.delivered.append(event)


def test_timer_fires_each_period_with_the_scheduled_event() -> None:
    async def main() -> None:
        clock = ManualClock(wall=30.0)
        rule = Rule(name="r", arn=ARN, created=0.0, schedule_expression="rate(1 minute)")
        rules = FakeRules(rule)
        timer = ScheduleTimer(Settings(), cast(Rules, rules), clock)
        task = asyncio.create_task(timer.run())
        for _ in range(10):
            await asyncio.sleep(0)
        assert rules.delivered == []
        clock.advance(30.0)  # t = 60: due
        for _ in range(10):
            await asyncio.sleep(0)
        assert len(rules.delivered) == 1
        clock.advance(59.0)  # t = 119: not yet
        for _ in range(10):
            await asyncio.sleep(0)
        assert len(rules.delivered) == 1
        clock.advance(1.0)  # t = 120
        for _ in range(10):
            await asyncio.sleep(0)
        task.cancel()
        event = rules.delivered[1]
        assert event["detail-type"] == "Scheduled Event"
        assert event["source"] == "aws.events"
        assert event["resources"] == [ARN]
        assert event["detail"] == {}
        assert event["time"] == "1970-01-01T00:02:00Z"
        assert timer.statistics().fired == 2

    asyncio.run(main())
