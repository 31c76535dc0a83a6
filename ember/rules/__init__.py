"""EventBridge's default event bus: rules with event patterns or schedules, their
targets, PutEvents, and the timer that fires schedules.

Owns: the rule model and its durable documents (through `store`), schedule expressions
(rate and AWS's six-field cron), the JSON 1.1 door (`X-Amz-Target: AWSEvents.*`), and
delivery of matching events to functions through `invoke`'s asynchronous intake (queues
and topics through sinks the composition root connects). Matching is `patterns`'. Must
never import `api`, `gateway`, `topics` or `queues`.
"""

from ember.rules.door import PREFIX, RulesDoor
from ember.rules.service import Rules
from ember.rules.timer import ScheduleTimer

__all__ = ["PREFIX", "Rules", "RulesDoor", "ScheduleTimer"]
