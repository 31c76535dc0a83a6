"""Topics and subscriptions as stored: one document each, a topic's subscriptions deleted
in the same transaction as the topic."""

from __future__ import annotations

import dataclasses
from typing import Any

TOPIC = "sns-topic"
SUBSCRIPTION = "sns-subscription"
PROTOCOLS = ("lambda", "sqs")
# Subscription attributes a caller may set (SetSubscriptionAttributes, Subscribe).
SUBSCRIPTION_SETTABLE = (
    "RawMessageDelivery",
    "FilterPolicy",
    "FilterPolicyScope",
    "DeliveryPolicy",
    "RedrivePolicy",
    "SubscriptionRoleArn",
)
# Topic attributes stored and shown as given (nothing acts on them).
TOPIC_SETTABLE = (
    "DisplayName",
    "Policy",
    "DeliveryPolicy",
    "KmsMasterKeyId",
    "TracingConfig",
    "SignatureVersion",
    "ContentBasedDeduplication",
    "FifoTopic",
    "ArchivePolicy",
    "DataProtectionPolicy",
)


@dataclasses.dataclass(frozen=True, slots=True)
class Topic:
    arn: str
    name: str
    attributes: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def fifo(self) -> bool:
        return self.attributes.get("FifoTopic", "false").lower() == "true"

    @property
    def content_deduplication(self) -> bool:
        return self.attributes.get("ContentBasedDeduplication", "false").lower() == "true"

    def to_doc(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Topic:
        return cls(**doc)


@dataclasses.dataclass(frozen=True, slots=True)
class Subscription:
    arn: str
    topic_arn: str
    protocol: str
    endpoint: str
    attributes: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def raw(self) -> bool:
        return self.attributes.get("RawMessageDelivery", "false").lower() == "true"

    @property
    def body_scope(self) -> bool:
        """The filter policy applies to the message body (else to its attributes)."""
        return self.attributes.get("FilterPolicyScope") == "MessageBody"

    def to_doc(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Subscription:
        return cls(**doc)
