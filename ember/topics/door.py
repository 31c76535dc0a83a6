"""SNS's front door: the query protocol (form-encoded `POST /` with `Action=…`), XML in
SNS's namespace. Each action parses its form, calls one `Topics` method and renders."""

from __future__ import annotations

import base64
import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from ember.errors import LambdaError
from ember.protocols.asgi import Receive, Send, read_body, respond
from ember.protocols.query import query_error
from ember.topics import wire
from ember.topics.errors import (
    BatchEntryIdsNotDistinctError,
    EmptyBatchRequestError,
    InternalError,
    InvalidActionError,
    InvalidBatchEntryIdError,
    InvalidParameterError,
    TooManyEntriesInBatchRequestError,
)
from ember.topics.service import BatchEntry, Topics
from ember.topics.wire import Element, Form

log = logging.getLogger("ember.topics")
Action = Callable[[Topics, Form, str | None], Awaitable[list[Element] | None]]
PAGE = 100  # ListTopics and ListSubscriptions answer 100 at a time, as SNS
_BATCH_ID = re.compile(r"[A-Za-z0-9_-]{1,80}")


def _page(form: Form, items: list[Any]) -> tuple[list[Any], str | None]:
    token = form.get("NextToken")
    start = 0
    if token:
        try:
            start = int(base64.urlsafe_b64decode(token).decode())
        except ValueError:
            raise InvalidParameterError("NextToken") from None
    more = start + PAGE < len(items)
    next_token = base64.urlsafe_b64encode(str(start + PAGE).encode()).decode() if more else None
    return items[start : start + PAGE], next_token


async def create_topic(topics: Topics, form: Form, trace: str | None) -> list[Element]:
    topic = await topics.create(form.get("Name"), wire.string_map(form, "Attributes"))
    return [("TopicArn", topic.arn)]


async def list_topics(topics: Topics, form: Form, trace: str | None) -> list[Element]:
    page, token = _page(form, topics.topics())
    return [
        ("Topics", [("member", [("TopicArn", t.arn)]) for t in page]),
        ("NextToken", token),
    ]


async def delete_topic(topics: Topics, form: Form, trace: str | None) -> None:
    await topics.delete(form.get("TopicArn"))


async def get_topic_attributes(topics: Topics, form: Form, trace: str | None) -> list[Element]:
    return [("Attributes", wire.entries(topics.topic_attributes(form.get("TopicArn"))))]


async def set_topic_attributes(topics: Topics, form: Form, trace: str | None) -> None:
    await topics.set_topic_attribute(
        form.get("TopicArn"), form.get("AttributeName"), form.get("AttributeValue", "")
    )


async def subscribe(topics: Topics, form: Form, trace: str | None) -> list[Element]:
    subscription = await topics.subscribe(
        form.get("TopicArn"),
        form.get("Protocol"),
        form.get("Endpoint"),
        wire.string_map(form, "Attributes"),
    )
    return [("SubscriptionArn", subscription.arn)]


async def unsubscribe(topics: Topics, form: Form, trace: str | None) -> None:
    await topics.unsubscribe(form.get("SubscriptionArn"))


def _subscription_members(topics: Topics, topic_arn: str | None, form: Form) -> list[Element]:
    page, token = _page(form, topics.subscriptions(topic_arn))
    owner = topics.account
    return [
        (
            "Subscriptions",
            [
                (
                    "member",
                    [
                        ("SubscriptionArn", s.arn),
                        ("Owner", owner),
                        ("Protocol", s.protocol),
                        ("Endpoint", s.endpoint),
                        ("TopicArn", s.topic_arn),
                    ],
                )
                for s in page
            ],
        ),
        ("NextToken", token),
    ]


async def list_subscriptions(topics: Topics, form: Form, trace: str | None) -> list[Element]:
    return _subscription_members(topics, None, form)


async def list_subscriptions_by_topic(
    topics: Topics, form: Form, trace: str | None
) -> list[Element]:
    arn = form.get("TopicArn")
    if not arn:
        raise InvalidParameterError("TopicArn")
    return _subscription_members(topics, arn, form)


async def get_subscription_attributes(
    topics: Topics, form: Form, trace: str | None
) -> list[Element]:
    attributes = topics.subscription_attributes(form.get("SubscriptionArn"))
    return [("Attributes", wire.entries(attributes))]


async def set_subscription_attributes(topics: Topics, form: Form, trace: str | None) -> None:
    await topics.set_subscription_attribute(
        form.get("SubscriptionArn"), form.get("AttributeName", ""), form.get("AttributeValue", "")
    )


async def publish(topics: Topics, form: Form, trace: str | None) -> list[Element]:
    arn = form.get("TopicArn") or form.get("TargetArn")
    if form.get("PhoneNumber") is not None or not arn:
        raise InvalidParameterError("TopicArn or TargetArn Reason: no value for required parameter")
    message_id = await topics.publish(
        arn,
        form.get("Message", ""),
        subject=form.get("Subject"),
        message_attributes=wire.message_attributes(form, "MessageAttributes"),
        structure=form.get("MessageStructure"),
        group_id=form.get("MessageGroupId"),
        dedup_id=form.get("MessageDeduplicationId"),
        trace_header=trace,
    )
    return [("MessageId", message_id)]


async def publish_batch(topics: Topics, form: Form, trace: str | None) -> list[Element]:
    arn = form.get("TopicArn")
    topics.get(arn)
    shapes = wire.members(form, "PublishBatchRequestEntries.member")
    if not shapes:
        raise EmptyBatchRequestError("The batch request doesn't contain any entries")
    if len(shapes) > 10:
        raise TooManyEntriesInBatchRequestError(
            "The batch request contains more entries than permissible."
        )
    ids = [s.get("Id", "") for s in shapes]
    if len(set(ids)) != len(ids):
        raise BatchEntryIdsNotDistinctError(
            "Two or more batch entries in the request have the same Id."
        )
    if not all(_BATCH_ID.fullmatch(i) for i in ids):
        raise InvalidBatchEntryIdError(
            "A batch entry id can only contain alphanumeric characters, hyphens and "
            "underscores. It can be at most 80 letters long."
        )
    entries = [
        BatchEntry(
            id=shape["Id"],
            message=shape.get("Message"),
            subject=shape.get("Subject"),
            structure=shape.get("MessageStructure"),
            attributes=wire.message_attributes(shape, "MessageAttributes"),
            group_id=shape.get("MessageGroupId"),
            dedup_id=shape.get("MessageDeduplicationId"),
        )
        for shape in shapes
    ]
    successful: list[Element] = []
    failed: list[Element] = []
    for entry_id, outcome in await topics.publish_batch(arn, entries, trace):
        if isinstance(outcome, str):
            successful.append(("member", [("Id", entry_id), ("MessageId", outcome)]))
        else:
            failed.append(
                (
                    "member",
                    [
                        ("Id", entry_id),
                        ("Code", outcome.code),
                        ("Message", outcome.message),
                        ("SenderFault", "true" if outcome.fault == "User" else "false"),
                    ],
                )
            )
    return [("Successful", successful), ("Failed", failed)]


ACTIONS: dict[str, Action] = {
    "CreateTopic": create_topic,
    "ListTopics": list_topics,
    "DeleteTopic": delete_topic,
    "GetTopicAttributes": get_topic_attributes,
    "SetTopicAttributes": set_topic_attributes,
    "Subscribe": subscribe,
    "Unsubscribe": unsubscribe,
    "ListSubscriptions": list_subscriptions,
    "ListSubscriptionsByTopic": list_subscriptions_by_topic,
    "GetSubscriptionAttributes": get_subscription_attributes,
    "SetSubscriptionAttributes": set_subscription_attributes,
    "Publish": publish,
    "PublishBatch": publish_batch,
}


class TopicsDoor:
    def __init__(self, topics: Topics) -> None:
        self._topics = topics

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        request_id = str(uuid.uuid4())
        form = wire.parse_form(await read_body(receive))
        trace = None  # the caller's X-Ray header: loop detection counts hops with it
        for header, value in scope["headers"]:
            if header.lower() == b"x-amzn-trace-id":
                trace = value.decode("latin-1")
        name = form.get("Action", "")
        try:
            action = ACTIONS.get(name)
            if action is None:
                raise InvalidActionError(f"The action {name} is not valid for this endpoint.")
            result = await action(self._topics, form, trace)
        except LambdaError as exc:
            status, headers, payload = query_error(exc, request_id, wire.NAMESPACE)
        except Exception:
            log.exception("SNS %s failed (request %s)", name, request_id)
            error = InternalError("The request processing has failed because of an unknown error")
            status, headers, payload = query_error(error, request_id, wire.NAMESPACE)
        else:
            status, payload = 200, wire.answer(name, result, request_id)
            headers = [(b"content-type", b"text/xml"), (b"x-amzn-requestid", request_id.encode())]
        await respond(send, status, headers, payload)
