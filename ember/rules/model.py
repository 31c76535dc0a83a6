"""Rules and their targets as stored (one document per rule, its targets inside, so a
change to either lands in one transaction)."""

from __future__ import annotations

import dataclasses
from typing import Any

KIND = "events-rule"
DEFAULT_BUS = "default"
ENABLED = "ENABLED"
DISABLED = "DISABLED"
MAX_TARGETS = 5  # EventBridge's quota of targets per rule


@dataclasses.dataclass(frozen=True, slots=True)
class Target:
    id: str
    arn: str
    input: str | None = None  # constant JSON text
    input_path: str | None = None  # `$.detail...`
    paths_map: dict[str, str] | None = None  # InputTransformer.InputPathsMap
    template: str | None = None  # InputTransformer.InputTemplate
    # Fields stored and shown but not acted on (RoleArn, RetryPolicy, DeadLetterConfig, …).
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True, slots=True)
class Rule:
    name: str
    arn: str
    created: float  # wall time; rate schedules count their periods from it
    state: str = ENABLED
    event_pattern: str | None = None
    schedule_expression: str | None = None
    description: str | None = None
    role_arn: str | None = None
    targets: tuple[Target, ...] = ()

    @property
    def enabled(self) -> bool:
        return self.state != DISABLED

    def to_doc(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Rule:
        targets = tuple(Target(**t) for t in doc.pop("targets", []))
        return cls(**doc, targets=targets)
