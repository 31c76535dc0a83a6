"""SNS topics through boto3 and the AWS CLI: topics and subscriptions, Publish and
PublishBatch delivered to functions (the SNS event shape) and to queues (the envelope, or
the raw message), filter policies on attributes and on the body, errors as SNS answers
them, and durability across a restart. Functions report to a collector on the host."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.apicalls import deploy
from tests.e2e.harness import Server, aws_cli, run_server, wait_until
from tests.e2e.recorder import TOPIC_LOOPER, Collector, create_recorder

pytestmark = pytest.mark.e2e


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory, collector: Collector) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("ember-topics")
    with run_server(root / "data", *collector.access, "--idle-timeout", "60") as server:
        yield server


@pytest.fixture(scope="module")
def sns(srv: Server) -> Any:
    return srv.client("sns")


@pytest.fixture(scope="module")
def sqs(srv: Server) -> Any:
    return srv.client("sqs")


@pytest.fixture(scope="module")
def sink(srv: Server, collector: Collector) -> tuple[str, str]:
    name = _name("sink")
    return name, create_recorder(srv.client(), name, collector, sink=True)


def notifications(collector: Collector, name: str, topic_arn: str) -> list[dict[str, Any]]:
    """The Sns records `name` received from `topic_arn`."""
    return [
        record["Sns"] | {"_subscription": record["EventSubscriptionArn"], "_record": record}
        for r in collector.records(name)
        if isinstance(r["event"], dict)
        for record in r["event"].get("Records", [])
        if record.get("Sns", {}).get("TopicArn") == topic_arn
    ]


def queue(sqs: Any, prefix: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=_name(prefix))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return url, arn


def receive_all(sqs: Any, url: str, count: int) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []

    def enough() -> bool:
        answer = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, MessageAttributeNames=["All"]
        )
        got.extend(answer.get("Messages", []))
        return len(got) >= count

    wait_until(enough, limit=15)
    return got


def test_topic_lifecycle_and_errors(sns: Any) -> None:
    name = _name("life")
    arn = sns.create_topic(Name=name)["TopicArn"]
    assert arn == f"arn:aws:sns:us-east-1:000000000000:{name}"
    assert sns.create_topic(Name=name)["TopicArn"] == arn  # idempotent
    listed = [t["TopicArn"] for t in sns.list_topics()["Topics"]]
    assert arn in listed
    sns.set_topic_attributes(TopicArn=arn, AttributeName="DisplayName", AttributeValue="Hi")
    attributes = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert attributes["TopicArn"] == arn
    assert attributes["DisplayName"] == "Hi"
    assert attributes["Owner"] == "000000000000"
    assert attributes["SubscriptionsConfirmed"] == "0"
    sns.delete_topic(TopicArn=arn)
    with pytest.raises(sns.exceptions.NotFoundException) as missing:
        sns.get_topic_attributes(TopicArn=arn)
    error = missing.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert error["Error"] == {
        "Type": "Sender",
        "Code": "NotFound",
        "Message": "Topic does not exist",
    }
    with pytest.raises(sns.exceptions.InvalidParameterException) as bad:
        sns.create_topic(Name="no spaces allowed")
    assert bad.value.response["Error"]["Message"] == "Invalid parameter: Topic Name"
    with pytest.raises(sns.exceptions.NotFoundException):
        sns.publish(TopicArn=arn, Message="x")


def test_publish_reaches_a_function_with_the_sns_event_shape(
    sns: Any, collector: Collector, sink: tuple[str, str]
) -> None:
    arn = sns.create_topic(Name=_name("fn"))["TopicArn"]
    subscription = sns.subscribe(TopicArn=arn, Protocol="lambda", Endpoint=sink[1])[
        "SubscriptionArn"
    ]
    assert subscription.startswith(arn + ":")
    listed = sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]
    assert listed == [
        {
            "SubscriptionArn": subscription,
            "Owner": "000000000000",
            "Protocol": "lambda",
            "Endpoint": sink[1],
            "TopicArn": arn,
        }
    ]
    message_id = sns.publish(
        TopicArn=arn,
        Message="hello",
        Subject="greeting",
        MessageAttributes={
            "color": {"DataType": "String", "StringValue": "red"},
            "size": {"DataType": "Number", "StringValue": "3"},
        },
    )["MessageId"]
    (got,) = wait_until(lambda: notifications(collector, sink[0], arn))
    record = got["_record"]
    assert record["EventSource"] == "aws:sns"
    assert record["EventVersion"] == "1.0"
    assert record["EventSubscriptionArn"] == subscription
    sns_part = record["Sns"]
    assert sns_part["Type"] == "Notification"
    assert sns_part["MessageId"] == message_id
    assert sns_part["TopicArn"] == arn
    assert sns_part["Subject"] == "greeting"
    assert sns_part["Message"] == "hello"
    assert sns_part["SignatureVersion"] == "1"
    assert sns_part["Timestamp"].endswith("Z")
    assert sns_part["MessageAttributes"] == {
        "color": {"Type": "String", "Value": "red"},
        "size": {"Type": "Number", "Value": "3"},
    }
    assert {"Signature", "SigningCertUrl", "UnsubscribeUrl"} <= set(sns_part)


def test_filter_policies_on_attributes_and_on_the_body(
    sns: Any, collector: Collector, sink: tuple[str, str]
) -> None:
    arn = sns.create_topic(Name=_name("filter"))["TopicArn"]
    by_attribute = sns.subscribe(
        TopicArn=arn,
        Protocol="lambda",
        Endpoint=sink[1],
        Attributes={"FilterPolicy": json.dumps({"price": [{"numeric": [">=", 100]}]})},
    )["SubscriptionArn"]
    attributes = sns.get_subscription_attributes(SubscriptionArn=by_attribute)["Attributes"]
    assert attributes["FilterPolicyScope"] == "MessageAttributes"
    with pytest.raises(sns.exceptions.InvalidParameterException) as bad:
        sns.set_subscription_attributes(
            SubscriptionArn=by_attribute, AttributeName="FilterPolicy", AttributeValue='{"a": 1}'
        )
    assert bad.value.response["Error"]["Message"].startswith("Invalid parameter: FilterPolicy: ")

    def price(value: str) -> dict[str, Any]:
        return {"price": {"DataType": "Number", "StringValue": value}}

    sns.publish(TopicArn=arn, Message="cheap", MessageAttributes=price("5"))
    sns.publish(TopicArn=arn, Message="none")
    sns.publish(TopicArn=arn, Message="dear", MessageAttributes=price("150"))
    wait_until(lambda: notifications(collector, sink[0], arn))
    assert [n["Message"] for n in notifications(collector, sink[0], arn)] == ["dear"]

    # The same subscription, now filtering on the body.
    sns.set_subscription_attributes(
        SubscriptionArn=by_attribute,
        AttributeName="FilterPolicyScope",
        AttributeValue="MessageBody",
    )
    sns.set_subscription_attributes(
        SubscriptionArn=by_attribute,
        AttributeName="FilterPolicy",
        AttributeValue=json.dumps({"order": {"kind": [{"prefix": "gift"}]}}),
    )
    sns.publish(TopicArn=arn, Message=json.dumps({"order": {"kind": "plain"}}))
    sns.publish(TopicArn=arn, Message="not json")
    sns.publish(TopicArn=arn, Message=json.dumps({"order": {"kind": "gift-wrap"}}))
    wait_until(lambda: len(notifications(collector, sink[0], arn)) == 2)
    assert json.loads(notifications(collector, sink[0], arn)[1]["Message"]) == {
        "order": {"kind": "gift-wrap"}
    }


def test_queue_subscribers_get_the_envelope_or_the_raw_message(sns: Any, sqs: Any) -> None:
    arn = sns.create_topic(Name=_name("q"))["TopicArn"]
    wrapped_url, wrapped_arn = queue(sqs, "wrapped")
    raw_url, raw_arn = queue(sqs, "raw")
    wrapped = sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=wrapped_arn)["SubscriptionArn"]
    sns.subscribe(
        TopicArn=arn,
        Protocol="sqs",
        Endpoint=raw_arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    message_id = sns.publish(
        TopicArn=arn,
        Message="payload",
        MessageAttributes={"k": {"DataType": "String", "StringValue": "v"}},
    )["MessageId"]
    (envelope_message,) = receive_all(sqs, wrapped_url, 1)
    envelope = json.loads(envelope_message["Body"])
    assert envelope["Type"] == "Notification"
    assert envelope["MessageId"] == message_id
    assert envelope["TopicArn"] == arn
    assert envelope["Message"] == "payload"
    assert "Subject" not in envelope
    assert envelope["MessageAttributes"] == {"k": {"Type": "String", "Value": "v"}}
    assert {"Timestamp", "SignatureVersion", "Signature", "SigningCertURL", "UnsubscribeURL"} <= (
        set(envelope)
    )
    assert envelope["UnsubscribeURL"].endswith(wrapped)
    (raw_message,) = receive_all(sqs, raw_url, 1)
    assert raw_message["Body"] == "payload"
    assert raw_message["MessageAttributes"] == {"k": {"DataType": "String", "StringValue": "v"}}


def test_message_structure_json_picks_each_protocols_text(sns: Any, sqs: Any) -> None:
    arn = sns.create_topic(Name=_name("structured"))["TopicArn"]
    url, queue_arn = queue(sqs, "structured")
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn)
    sns.publish(
        TopicArn=arn,
        MessageStructure="json",
        Message=json.dumps({"default": "for all", "sqs": "for queues"}),
    )
    (got,) = receive_all(sqs, url, 1)
    assert json.loads(got["Body"])["Message"] == "for queues"
    with pytest.raises(sns.exceptions.InvalidParameterException) as bad:
        sns.publish(TopicArn=arn, MessageStructure="json", Message=json.dumps({"sqs": "x"}))
    assert bad.value.response["Error"]["Message"] == (
        "Invalid parameter: Message Structure - No default entry in JSON message body"
    )


def test_publish_batch(sns: Any, sqs: Any) -> None:
    arn = sns.create_topic(Name=_name("batch"))["TopicArn"]
    url, queue_arn = queue(sqs, "batch")
    sns.subscribe(
        TopicArn=arn, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"}
    )
    answer = sns.publish_batch(
        TopicArn=arn,
        PublishBatchRequestEntries=[
            {"Id": "a", "Message": "one"},
            {"Id": "b", "Message": "two"},
            {
                "Id": "c",
                "Message": "three",
                "MessageAttributes": {"n": {"DataType": "Number", "StringValue": "x"}},
            },
        ],
    )
    assert [s["Id"] for s in answer["Successful"]] == ["a", "b"]
    (failed,) = answer["Failed"]
    assert failed["Id"] == "c"
    assert failed["Code"] == "ParameterValueInvalid"
    assert failed["SenderFault"] is True
    assert sorted(m["Body"] for m in receive_all(sqs, url, 2)) == ["one", "two"]
    with pytest.raises(sns.exceptions.BatchEntryIdsNotDistinctException):
        sns.publish_batch(
            TopicArn=arn,
            PublishBatchRequestEntries=[{"Id": "a", "Message": "1"}, {"Id": "a", "Message": "2"}],
        )


def test_subscriptions_and_errors(sns: Any, sink: tuple[str, str]) -> None:
    arn = sns.create_topic(Name=_name("subs"))["TopicArn"]
    first = sns.subscribe(TopicArn=arn, Protocol="lambda", Endpoint=sink[1])["SubscriptionArn"]
    again = sns.subscribe(TopicArn=arn, Protocol="lambda", Endpoint=sink[1])["SubscriptionArn"]
    assert first == again
    assert first in [s["SubscriptionArn"] for s in sns.list_subscriptions()["Subscriptions"]]
    with pytest.raises(sns.exceptions.InvalidParameterException) as bad:
        sns.subscribe(TopicArn=arn, Protocol="lambda", Endpoint="not-an-arn")
    assert bad.value.response["Error"]["Message"] == "Invalid parameter: Lambda endpoint ARN"
    with pytest.raises(sns.exceptions.InvalidParameterException):
        sns.subscribe(TopicArn=arn, Protocol="smoke-signal", Endpoint="x")
    sns.unsubscribe(SubscriptionArn=first)
    assert sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"] == []
    with pytest.raises(sns.exceptions.NotFoundException):
        sns.get_subscription_attributes(SubscriptionArn=first)


def test_aws_cli_create_and_publish(srv: Server, sqs: Any) -> None:
    name = _name("cli")
    created = json.loads(aws_cli(srv.endpoint, "sns", "create-topic", "--name", name).stdout)
    arn = created["TopicArn"]
    url, queue_arn = queue(sqs, "cli")
    subscribe = ("sns", "subscribe", "--topic-arn", arn, "--protocol", "sqs")
    aws_cli(srv.endpoint, *subscribe, "--notification-endpoint", queue_arn,
            "--attributes", "RawMessageDelivery=true")  # fmt: skip
    published = aws_cli(srv.endpoint, "sns", "publish", "--topic-arn", arn, "--message", "hi")
    assert json.loads(published.stdout)["MessageId"]
    (got,) = receive_all(sqs, url, 1)
    assert got["Body"] == "hi"


def test_topics_and_subscriptions_survive_a_restart(tmp_path: Path, collector: Collector) -> None:
    data = tmp_path / "data"
    name = _name("durable")
    with run_server(data, *collector.access, "--idle-timeout", "60") as first:
        function_arn = create_recorder(first.client(), name, collector, sink=True)
        sns = first.client("sns")
        arn = sns.create_topic(Name=name)["TopicArn"]
        sns.subscribe(
            TopicArn=arn,
            Protocol="lambda",
            Endpoint=function_arn,
            Attributes={"FilterPolicy": json.dumps({"go": ["yes"]})},
        )
    with run_server(data, *collector.access, "--idle-timeout", "60") as second:
        sns = second.client("sns")
        assert arn in [t["TopicArn"] for t in sns.list_topics()["Topics"]]
        sns.publish(TopicArn=arn, Message="filtered out")
        sns.publish(
            TopicArn=arn,
            Message="after restart",
            MessageAttributes={"go": {"DataType": "String", "StringValue": "yes"}},
        )
        wait_until(lambda: notifications(collector, name, arn))
        assert [n["Message"] for n in notifications(collector, name, arn)] == ["after restart"]


def test_fifo_topic_to_fifo_queue(sns: Any, sqs: Any) -> None:
    name = _name("ordered")
    arn = sns.create_topic(
        Name=f"{name}.fifo",
        Attributes={"FifoTopic": "true", "ContentBasedDeduplication": "true"},
    )["TopicArn"]
    url = sqs.create_queue(
        QueueName=f"{name}.fifo",
        Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"},
    )["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(
        TopicArn=arn, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"}
    )
    with pytest.raises(sns.exceptions.InvalidParameterException) as no_group:
        sns.publish(TopicArn=arn, Message="lost")
    assert "MessageGroupId" in no_group.value.response["Error"]["Message"]
    for body in ("one", "two", "two", "three"):  # the second "two" is a duplicate
        sns.publish(TopicArn=arn, Message=body, MessageGroupId="g")
    got = receive_all(sqs, url, 3)
    assert [m["Body"] for m in got] == ["one", "two", "three"]
    # A FIFO queue may not follow a standard topic.
    standard = sns.create_topic(Name=_name("standard"))["TopicArn"]
    with pytest.raises(sns.exceptions.InvalidParameterException):
        sns.subscribe(TopicArn=standard, Protocol="sqs", Endpoint=queue_arn)


def test_a_function_topic_loop_is_stopped_at_the_sixteenth_hop(
    srv: Server, sns: Any, collector: Collector
) -> None:
    name = _name("loop")
    arn = sns.create_topic(Name=name)["TopicArn"]
    variables = {
        **collector.address(),
        "TOPIC_ARN": arn,
        "LIMIT": "40",
    }
    lam = srv.client()
    function_arn = deploy(
        lam, name, {"app.py": TOPIC_LOOPER}, Environment={"Variables": variables}, Timeout=30
    )["FunctionArn"]
    sns.subscribe(TopicArn=arn, Protocol="lambda", Endpoint=function_arn)
    sns.publish(TopicArn=arn, Message=json.dumps({"n": 0}))
    wait_until(lambda: "recursive loop: " + name in srv.output(), limit=120)
    assert sorted(r["n"] for r in collector.records(name)) == list(range(16))
