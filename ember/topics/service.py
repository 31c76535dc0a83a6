"""Topics: the SNS resource model (topics, subscriptions, their attributes), durable
through the metadata store, and fan-out of a published message to the subscriptions whose
filter policy it passes: functions through Lambda's asynchronous intake, queues through
the in-process queue service. Publish returns once every delivery is committed."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import re
import uuid
from collections.abc import Sequence
from typing import Any, Protocol

import orjson

from ember import patterns
from ember.blocking import run_blocking
from ember.clock import Clock
from ember.config import Settings
from ember.errors import LambdaError
from ember.invoke.intake import EventIntake
from ember.invoke.recursion import RecursionGuard
from ember.store import MetadataStore
from ember.topics import messages
from ember.topics.errors import InvalidParameterError, NotFoundError
from ember.topics.messages import Attributes, Message
from ember.topics.model import (
    PROTOCOLS,
    SUBSCRIPTION,
    SUBSCRIPTION_SETTABLE,
    TOPIC,
    TOPIC_SETTABLE,
    Subscription,
    Topic,
)

log = logging.getLogger("ember.topics")
_TOPIC_NAME = re.compile(r"[A-Za-z0-9_-]{1,256}")
_FIFO_NAME = re.compile(r"[A-Za-z0-9_-]{1,251}\.fifo")
# arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]
_FUNCTION_ARN = re.compile(
    r"arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:\d{12}:function:([a-zA-Z0-9-_]{1,64})"
    r"(?::(\$LATEST|[a-zA-Z0-9-_]+))?"
)
_QUEUE_ARN = re.compile(r"arn:aws[a-zA-Z-]*:sqs:[a-z0-9-]+:\d{12}:[A-Za-z0-9_.-]{1,80}")
MAX_FILTER_KEYS = 5  # SNS: a filter policy names at most five attributes


class QueueSender(Protocol):
    """What topics use of the queue service (ember.queues.Queues)."""

    def arn_exists(self, arn: str) -> bool: ...

    async def send(
        self,
        arn: str,
        body: str,
        *,
        message_attributes: dict[str, dict[str, str]] | None = None,
        system_attributes: dict[str, dict[str, str]] | None = None,
        group_id: str | None = None,
        dedup_id: str | None = None,
    ) -> str: ...


@dataclasses.dataclass(frozen=True, slots=True)
class BatchEntry:
    id: str
    message: str | None
    subject: str | None = None
    structure: str | None = None
    attributes: Attributes = dataclasses.field(default_factory=dict)
    group_id: str | None = None
    dedup_id: str | None = None


class Topics:
    def __init__(
        self,
        settings: Settings,
        metadata: MetadataStore,
        intake: EventIntake,
        clock: Clock,
        queues: QueueSender | None = None,
        recursion: RecursionGuard | None = None,
    ) -> None:
        self._settings = settings
        self._metadata = metadata
        self._intake = intake
        self._clock = clock
        self._queues = queues
        self._recursion = recursion
        self._topics: dict[str, Topic] = {}  # arn -> topic
        self._subscriptions: dict[str, Subscription] = {}  # arn -> subscription
        self._filters: dict[str, patterns.Matcher] = {}  # subscription arn -> policy

    def connect_queues(self, queues: QueueSender) -> None:
        self._queues = queues

    async def load(self) -> None:
        for doc in (await run_blocking(self._metadata.load, TOPIC)).values():
            topic = Topic.from_doc(doc)
            self._topics[topic.arn] = topic
        for doc in (await run_blocking(self._metadata.load, SUBSCRIPTION)).values():
            subscription = Subscription.from_doc(doc)
            self._subscriptions[subscription.arn] = subscription
            self._compile(subscription)

    # -- topics ---------------------------------------------------------------------

    @property
    def account(self) -> str:
        return self._settings.account_id

    def topic_arn(self, name: str) -> str:
        s = self._settings
        return f"arn:aws:sns:{s.region}:{s.account_id}:{name}"

    def get(self, arn: str | None) -> Topic:
        if not arn:
            raise InvalidParameterError("TopicArn")
        topic = self._topics.get(arn)
        if topic is None:
            raise NotFoundError("Topic does not exist")
        return topic

    def exists(self, arn: str) -> bool:
        return arn in self._topics

    def topics(self) -> list[Topic]:
        return sorted(self._topics.values(), key=lambda t: t.arn)

    async def create(self, name: str | None, attributes: dict[str, str]) -> Topic:
        """CreateTopic: idempotent for a name (the existing topic is answered)."""
        fifo = attributes.get("FifoTopic", "false").lower() == "true"
        pattern = _FIFO_NAME if fifo else _TOPIC_NAME
        if name is None or not pattern.fullmatch(name):
            if fifo or (name or "").endswith(".fifo"):
                raise InvalidParameterError(
                    "Fifo Topic names must end with .fifo and must be made up of only "
                    "uppercase and lowercase ASCII letters, numbers, underscores, and "
                    "hyphens, and must be between 1 and 256 characters long."
                )
            raise InvalidParameterError("Topic Name")
        self._check_topic_attributes(attributes)
        arn = self.topic_arn(name)
        existing = self._topics.get(arn)
        if existing is not None:
            return existing
        topic = Topic(arn=arn, name=name, attributes=dict(attributes))
        await run_blocking(self._metadata.write, puts=[(TOPIC, arn, topic.to_doc())])
        self._topics[arn] = topic
        return topic

    def _check_topic_attributes(self, attributes: dict[str, str]) -> None:
        for key in attributes:
            if key not in TOPIC_SETTABLE:
                raise InvalidParameterError(f"AttributeName: {key}")

    async def delete(self, arn: str | None) -> None:
        """DeleteTopic: its subscriptions go with it. A missing topic is no error (AWS)."""
        if not arn:
            raise InvalidParameterError("TopicArn")
        if arn not in self._topics:
            return
        gone = [s.arn for s in self._subscriptions.values() if s.topic_arn == arn]
        deletes = [(TOPIC, arn), *((SUBSCRIPTION, s) for s in gone)]
        await run_blocking(self._metadata.write, deletes=deletes)
        self._topics.pop(arn, None)
        for subscription_arn in gone:
            self._subscriptions.pop(subscription_arn, None)
            self._filters.pop(subscription_arn, None)

    def topic_attributes(self, arn: str | None) -> dict[str, str]:
        topic = self.get(arn)
        confirmed = sum(1 for s in self._subscriptions.values() if s.topic_arn == topic.arn)
        shown = {
            "TopicArn": topic.arn,
            "Owner": self._settings.account_id,
            "SubscriptionsPending": "0",
            "SubscriptionsConfirmed": str(confirmed),
            "SubscriptionsDeleted": "0",
            "DisplayName": "",
            "Policy": orjson.dumps(self._default_policy(topic.arn)).decode(),
            "EffectiveDeliveryPolicy": orjson.dumps(_DELIVERY_POLICY).decode(),
        }
        shown.update(topic.attributes)
        return shown

    def _default_policy(self, arn: str) -> dict[str, Any]:
        return {
            "Version": "2008-10-17",
            "Id": "__default_policy_ID",
            "Statement": [
                {
                    "Sid": "__default_statement_ID",
                    "Effect": "Allow",
                    "Principal": {"AWS": "*"},
                    "Action": ["SNS:Publish", "SNS:Subscribe", "SNS:GetTopicAttributes"],
                    "Resource": arn,
                    "Condition": {"StringEquals": {"AWS:SourceOwner": self._settings.account_id}},
                }
            ],
        }

    async def set_topic_attribute(self, arn: str | None, name: str | None, value: str) -> None:
        topic = self.get(arn)
        if name not in TOPIC_SETTABLE or name == "FifoTopic":
            raise InvalidParameterError(f"AttributeName: {name}")
        updated = dataclasses.replace(topic, attributes={**topic.attributes, name: value})
        await run_blocking(self._metadata.write, puts=[(TOPIC, topic.arn, updated.to_doc())])
        self._topics[topic.arn] = updated

    # -- subscriptions --------------------------------------------------------------

    def subscriptions(self, topic_arn: str | None = None) -> list[Subscription]:
        if topic_arn is not None:
            self.get(topic_arn)
        return sorted(
            (s for s in self._subscriptions.values() if topic_arn in (None, s.topic_arn)),
            key=lambda s: s.arn,
        )

    def subscription(self, arn: str | None) -> Subscription:
        subscription = self._subscriptions.get(arn or "")
        if subscription is None:
            raise NotFoundError("Subscription does not exist")
        return subscription

    async def subscribe(
        self,
        topic_arn: str | None,
        protocol: str | None,
        endpoint: str | None,
        attributes: dict[str, str],
    ) -> Subscription:
        topic = self.get(topic_arn)
        if protocol not in PROTOCOLS:
            raise InvalidParameterError(
                f"Amazon SNS does not support this protocol string: {protocol}"
            )
        if protocol == "lambda" and not _FUNCTION_ARN.fullmatch(endpoint or ""):
            raise InvalidParameterError("Lambda endpoint ARN")
        if protocol == "sqs" and not _QUEUE_ARN.fullmatch(endpoint or ""):
            raise InvalidParameterError("SQS endpoint ARN")
        assert endpoint is not None
        if protocol == "sqs" and endpoint.endswith(".fifo") and not topic.fifo:
            raise InvalidParameterError(
                "Endpoint Reason: FIFO SQS Queues can not be subscribed to standard SNS topics"
            )
        for key, value in attributes.items():
            self._check_subscription_attribute(key, value, attributes)
        for existing in self._subscriptions.values():
            if (existing.topic_arn, existing.protocol, existing.endpoint) == (
                topic.arn,
                protocol,
                endpoint,
            ):
                if any(existing.attributes.get(k) != v for k, v in attributes.items()):
                    raise InvalidParameterError(
                        "Attributes Reason: Subscription already exists with different attributes"
                    )
                return existing  # Subscribe is idempotent, as AWS
        subscription = Subscription(
            arn=f"{topic.arn}:{uuid.uuid4()}",
            topic_arn=topic.arn,
            protocol=protocol,
            endpoint=endpoint,
            attributes=dict(attributes),
        )
        await self._save(subscription)
        return subscription

    async def unsubscribe(self, arn: str | None) -> None:
        subscription = self.subscription(arn)
        await run_blocking(self._metadata.write, deletes=[(SUBSCRIPTION, subscription.arn)])
        self._subscriptions.pop(subscription.arn, None)
        self._filters.pop(subscription.arn, None)

    def subscription_attributes(self, arn: str | None) -> dict[str, str]:
        subscription = self.subscription(arn)
        shown = {
            "SubscriptionArn": subscription.arn,
            "TopicArn": subscription.topic_arn,
            "Owner": self._settings.account_id,
            "Protocol": subscription.protocol,
            "Endpoint": subscription.endpoint,
            "ConfirmationWasAuthenticated": "true",
            "PendingConfirmation": "false",
            "RawMessageDelivery": "false",
            "SubscriptionPrincipal": f"arn:aws:iam::{self._settings.account_id}:root",
        }
        shown.update(subscription.attributes)
        if "FilterPolicy" in subscription.attributes:
            shown.setdefault("FilterPolicyScope", "MessageAttributes")
        return shown

    async def set_subscription_attribute(self, arn: str | None, name: str, value: str) -> None:
        subscription = self.subscription(arn)
        attributes = dict(subscription.attributes)
        self._check_subscription_attribute(name, value, attributes)
        if name == "FilterPolicy" and value == "":
            attributes.pop("FilterPolicy", None)  # an empty policy removes it
        else:
            attributes[name] = value
        if name == "FilterPolicyScope" and attributes.get("FilterPolicy"):
            _compile_policy(attributes["FilterPolicy"], body_scope=value == "MessageBody")
        await self._save(dataclasses.replace(subscription, attributes=attributes))

    def _check_subscription_attribute(
        self, name: str, value: str, current: dict[str, str] | None = None
    ) -> None:
        if name not in SUBSCRIPTION_SETTABLE:
            raise InvalidParameterError(f"AttributeName: {name}")
        if name == "RawMessageDelivery" and value.lower() not in ("true", "false"):
            raise InvalidParameterError("Attributes Reason: RawMessageDelivery: Invalid value")
        if name == "FilterPolicyScope" and value not in ("MessageAttributes", "MessageBody"):
            raise InvalidParameterError(
                "Attributes Reason: FilterPolicyScope: Invalid value "
                f"[{value}]. Please use either MessageBody or MessageAttributes"
            )
        if name == "FilterPolicy" and value != "":
            scope = (current or {}).get("FilterPolicyScope", "MessageAttributes")
            _compile_policy(value, body_scope=scope == "MessageBody")

    async def _save(self, subscription: Subscription) -> None:
        await run_blocking(
            self._metadata.write, puts=[(SUBSCRIPTION, subscription.arn, subscription.to_doc())]
        )
        self._subscriptions[subscription.arn] = subscription
        self._compile(subscription)

    def _compile(self, subscription: Subscription) -> None:
        policy = subscription.attributes.get("FilterPolicy")
        if policy:
            self._filters[subscription.arn] = _compile_policy(policy, subscription.body_scope)
        else:
            self._filters.pop(subscription.arn, None)

    # -- publishing -----------------------------------------------------------------

    async def publish(
        self,
        arn: str,
        message: str,
        *,
        subject: str | None = None,
        message_attributes: Attributes | None = None,
        structure: str | None = None,
        group_id: str | None = None,
        dedup_id: str | None = None,
        trace_header: str | None = None,
    ) -> str:
        """Publish to topic `arn`; the message id, once every delivery is committed.
        `trace_header`: the publisher's X-Amzn-Trace-Id (recursive loop detection)."""
        topic = self.get(arn)
        structured = messages.check_message(message, structure)
        attributes = message_attributes or {}
        messages.check_attributes(attributes)
        if subject is not None and (subject == "" or len(subject) > 100):
            raise InvalidParameterError("Subject")
        if topic.fifo:
            # FIFO topics: a group always; a deduplication id, or one made from the body.
            if not group_id:
                raise InvalidParameterError(
                    "The MessageGroupId parameter is required for FIFO topics"
                )
            if not dedup_id:
                if not topic.content_deduplication:
                    raise InvalidParameterError(
                        "The topic should either have ContentBasedDeduplication enabled or "
                        "MessageDeduplicationId provided explicitly"
                    )
                dedup_id = hashlib.sha256(message.encode()).hexdigest()
        published = Message(
            message_id=str(uuid.uuid4()),
            topic_arn=topic.arn,
            message=message,
            subject=subject,
            attributes=attributes,
            timestamp=self._clock.wall(),
            structure_json=structured,
            group_id=group_id,
            dedup_id=dedup_id,
            trace_header=trace_header,
        )
        await self._fan_out(published)
        return published.message_id

    async def publish_batch(
        self, arn: str | None, entries: Sequence[BatchEntry], trace_header: str | None = None
    ) -> list[tuple[str, str | LambdaError]]:
        """Each entry's id with its message id, or the error that refused it."""
        topic = self.get(arn)
        results: dict[str, str | LambdaError] = {}

        async def one(entry: BatchEntry) -> None:
            try:
                results[entry.id] = await self.publish(
                    topic.arn,
                    entry.message or "",
                    subject=entry.subject,
                    message_attributes=entry.attributes,
                    structure=entry.structure,
                    group_id=entry.group_id,
                    dedup_id=entry.dedup_id,
                    trace_header=trace_header,
                )
            except LambdaError as exc:
                results[entry.id] = exc

        if topic.fifo:  # a FIFO topic keeps the batch's order
            for entry in entries:
                await one(entry)
        else:
            async with asyncio.TaskGroup() as publishing:
                for entry in entries:
                    publishing.create_task(one(entry))
        return [(entry.id, results[entry.id]) for entry in entries]

    async def _fan_out(self, message: Message) -> None:
        # Every delivery at once: the intake and the queues commit them together.
        async with asyncio.TaskGroup() as deliveries:
            for subscription in list(self._subscriptions.values()):
                if subscription.topic_arn != message.topic_arn:
                    continue
                matcher = self._filters.get(subscription.arn)
                if matcher is not None:
                    document = messages.filter_document(message, subscription.body_scope)
                    if document is None or not matcher.matches(document):
                        continue
                deliveries.create_task(self._deliver_logged(subscription, message))

    async def _deliver_logged(self, subscription: Subscription, message: Message) -> None:
        try:
            await self._deliver(subscription, message)
        except LambdaError as exc:
            log.warning(
                "topic %s: subscription %s (%s) refused message %s: %s",
                message.topic_arn, subscription.arn, subscription.endpoint,
                message.message_id, exc.message,
            )  # fmt: skip

    async def _deliver(self, subscription: Subscription, message: Message) -> None:
        region = self._settings.region
        if subscription.protocol == "lambda":
            match = _FUNCTION_ARN.fullmatch(subscription.endpoint)
            assert match is not None  # checked at Subscribe
            function = match.group(1)
            request_id = str(uuid.uuid4())
            if self._recursion is not None:
                # Lambda stops a function -> topic -> function chain at its 16th hop.
                started = self._recursion.start(function, [message.trace_header])
                if started is None:
                    return
                request_id = started
            payload = messages.lambda_event(message, subscription.arn, region)
            await self._intake.accept(function, match.group(2), payload, request_id=request_id)
            return
        if self._queues is None:
            log.warning("topic %s: no queue service to deliver to %s", message.topic_arn,
                        subscription.endpoint)  # fmt: skip
            return
        if subscription.raw:
            body = message.text_for("sqs")
            attributes = messages.queue_attributes(message.attributes) or None
        else:
            body = messages.queue_envelope(message, subscription.arn, region)
            attributes = None
        fifo = subscription.endpoint.endswith(".fifo")  # only FIFO queues take these
        # The chain goes on through the queue: SQS keeps the header as AWSTraceHeader.
        trace = None
        if message.trace_header:
            trace = {"AWSTraceHeader": {"DataType": "String", "StringValue": message.trace_header}}
        await self._queues.send(
            subscription.endpoint,
            body,
            message_attributes=attributes,
            system_attributes=trace,
            group_id=message.group_id if fifo else None,
            dedup_id=message.dedup_id if fifo else None,
        )


_DELIVERY_POLICY = {
    "http": {
        "defaultHealthyRetryPolicy": {
            "minDelayTarget": 20,
            "maxDelayTarget": 20,
            "numRetries": 3,
            "numMaxDelayRetries": 0,
            "numNoDelayRetries": 0,
            "numMinDelayRetries": 0,
            "backoffFunction": "linear",
        },
        "disableSubscriptionOverrides": False,
        "defaultRequestPolicy": {"headerContentType": "text/plain; charset=UTF-8"},
    }
}


def _compile_policy(policy: str, body_scope: bool) -> patterns.Matcher:
    """A filter policy, checked as SNS does: EventBridge's pattern syntax; flat (and at
    most five keys) when it applies to message attributes."""
    try:
        matcher = patterns.compile(policy)
    except patterns.InvalidEventPatternError as exc:
        raise InvalidParameterError(f"FilterPolicy: {exc.reason}") from None
    if not body_scope:
        for key, value in matcher.pattern.items():
            if key != "$or" and not isinstance(value, list):
                raise InvalidParameterError(
                    "Filter policy scope MessageAttributes does not support nested filter policy"
                )
        if len(matcher.pattern) > MAX_FILTER_KEYS:
            raise InvalidParameterError("FilterPolicy: Filter policy can not have more than 5 keys")
    return matcher
