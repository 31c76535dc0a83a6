"""SQS-compatible queues, driven by boto3's `sqs` client and the AWS CLI against a real
`ember serve`: every operation, AWS's errors, FIFO order and deduplication, long polling,
redrive, and durability across a SIGKILL."""

from __future__ import annotations

import base64
import hashlib
import json
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.harness import Server, aws_cli, create_function, run_server

# AWS's documented example (aws-md5-of-message-attributes, from the SQS developer guide's
# algorithm): these three attributes digest to this MD5.
DOC_ATTRIBUTES: dict[str, dict[str, Any]] = {
    "attribName1": {"DataType": "String", "StringValue": "attribValue 1"},
    "customNumberTypeAttrib": {
        "DataType": "Number.float",
        "StringValue": "4563442423554324324264524243.32543234",
    },
    "binaryAttribute": {"DataType": "Binary", "BinaryValue": b"Hello binary world!"},
}
DOC_MD5 = "c932db14a896c663f83c260297d594ff"


@pytest.fixture(scope="module")
def qserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with run_server(tmp_path_factory.mktemp("queues") / "data", "--isolation", "none") as srv:
        yield srv


@pytest.fixture(scope="module")
def sqs(qserver: Server) -> Any:
    return qserver.client("sqs")


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def _count(sqs: Any, url: str, name: str = "ApproximateNumberOfMessages") -> int:
    return int(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[name])["Attributes"][name])


def test_queue_lifecycle(sqs: Any, qserver: Server) -> None:
    url = sqs.create_queue(QueueName="life", Attributes={"VisibilityTimeout": "20"},
                           tags={"team": "a"})["QueueUrl"]  # fmt: skip
    assert url == f"{qserver.endpoint}/000000000000/life"
    # Idempotent with the same attributes (or none); QueueNameExists with different ones.
    assert (
        sqs.create_queue(QueueName="life", Attributes={"VisibilityTimeout": "20"})["QueueUrl"]
        == url
    )
    assert sqs.create_queue(QueueName="life")["QueueUrl"] == url
    with pytest.raises(sqs.exceptions.QueueNameExists) as exc:
        sqs.create_queue(QueueName="life", Attributes={"VisibilityTimeout": "21"})
    assert _code(exc) == "QueueAlreadyExists"
    assert "different value for attribute VisibilityTimeout" in str(exc.value)
    assert sqs.get_queue_url(QueueName="life")["QueueUrl"] == url
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["QueueArn"] == "arn:aws:sqs:us-east-1:000000000000:life"
    assert attributes["VisibilityTimeout"] == "20"
    assert attributes["MessageRetentionPeriod"] == "345600"
    assert attributes["ApproximateNumberOfMessages"] == "0"
    assert int(attributes["CreatedTimestamp"]) <= int(attributes["LastModifiedTimestamp"])
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"DelaySeconds": "5",
                                                         "MaximumMessageSize": "2048"})  # fmt: skip
    only = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["DelaySeconds", "QueueArn"])
    assert only["Attributes"] == {"DelaySeconds": "5", "QueueArn": attributes["QueueArn"]}
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"team": "a"}
    sqs.tag_queue(QueueUrl=url, Tags={"env": "dev"})
    sqs.untag_queue(QueueUrl=url, TagKeys=["team"])
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"env": "dev"}
    sqs.delete_queue(QueueUrl=url)
    with pytest.raises(sqs.exceptions.QueueDoesNotExist) as exc:
        sqs.get_queue_url(QueueName="life")
    assert _code(exc) == "AWS.SimpleQueueService.NonExistentQueue"
    assert exc.value.response["Error"]["Message"] == "The specified queue does not exist."
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.send_message(QueueUrl=url, MessageBody="x")


def test_list_queues_prefix_and_paging(sqs: Any) -> None:
    urls = [sqs.create_queue(QueueName=f"page-{i}")["QueueUrl"] for i in range(5)]
    assert sqs.list_queues(QueueNamePrefix="page-")["QueueUrls"] == urls
    first = sqs.list_queues(QueueNamePrefix="page-", MaxResults=2)
    assert first["QueueUrls"] == urls[:2]
    second = sqs.list_queues(QueueNamePrefix="page-", MaxResults=2, NextToken=first["NextToken"])
    third = sqs.list_queues(QueueNamePrefix="page-", MaxResults=2, NextToken=second["NextToken"])
    assert second["QueueUrls"] + third["QueueUrls"] == urls[2:]
    assert "NextToken" not in third
    assert "QueueUrls" not in sqs.list_queues(QueueNamePrefix="nothing-like-this")


@pytest.mark.parametrize(
    ("name", "attributes", "code"),
    [
        ("x" * 81, {}, "InvalidParameterValue"),
        ("bad name", {}, "InvalidParameterValue"),
        ("bad.fifo", {}, "InvalidParameterValue"),  # a .fifo name needs FifoQueue=true
        ("nofifo", {"FifoQueue": "true"}, "InvalidParameterValue"),
        ("bad-vis", {"VisibilityTimeout": "43201"}, "InvalidAttributeValue"),
        ("bad-ret", {"MessageRetentionPeriod": "59"}, "InvalidAttributeValue"),
        ("bad-size", {"MaximumMessageSize": "1023"}, "InvalidAttributeValue"),
        ("bad-wait", {"ReceiveMessageWaitTimeSeconds": "21"}, "InvalidAttributeValue"),
        ("bad-delay", {"DelaySeconds": "abc"}, "InvalidAttributeValue"),
        ("bad-attr", {"Colour": "red"}, "InvalidAttributeName"),
        ("std-cbd", {"ContentBasedDeduplication": "true"}, "InvalidAttributeName"),
        ("std-false", {"FifoQueue": "false"}, "InvalidAttributeName"),  # as AWS answers
        ("bad-policy", {"Policy": "{not json"}, "InvalidAttributeValue"),
        ("bad-redrive", {"RedrivePolicy": '{"deadLetterTargetArn": "dummy", '
                                          '"maxReceiveCount": 3}'}, "InvalidParameterValue"),
        ("no-dlq", {"RedrivePolicy": json.dumps({
            "deadLetterTargetArn": "arn:aws:sqs:us-east-1:000000000000:missing",
            "maxReceiveCount": 3})}, "InvalidParameterValue"),
    ],
)  # fmt: skip
def test_bad_queues_are_refused_and_not_created(
    sqs: Any, name: str, attributes: dict[str, str], code: str
) -> None:
    with pytest.raises(ClientError) as exc:
        sqs.create_queue(QueueName=name, Attributes=attributes)
    assert _code(exc) == code
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "QueueUrls" not in sqs.list_queues(QueueNamePrefix=name)


def test_the_80_character_limit_counts_the_fifo_suffix(sqs: Any) -> None:
    longest = "f" * 75 + ".fifo"
    url = sqs.create_queue(QueueName=longest, Attributes={"FifoQueue": "true"})["QueueUrl"]
    assert url.endswith(longest)
    with pytest.raises(ClientError) as exc:
        sqs.create_queue(QueueName="f" * 76 + ".fifo", Attributes={"FifoQueue": "true"})
    assert _code(exc) == "InvalidParameterValue"


def test_set_attributes_refusals_change_nothing(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="set-refused")["QueueUrl"]
    with pytest.raises(ClientError) as exc:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "10",
                                                             "DelaySeconds": "901"})  # fmt: skip
    assert _code(exc) == "InvalidAttributeValue"
    with pytest.raises(ClientError) as exc:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"FifoQueue": "true"})
    assert _code(exc) == "InvalidAttributeName"
    with pytest.raises(ClientError) as exc:
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Colour"])
    assert _code(exc) == "InvalidAttributeName"
    assert _count(sqs, url, "VisibilityTimeout") == 30


def test_send_receive_delete_with_md5s(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="md5s")["QueueUrl"]
    body = "héllo wörld"
    sent = sqs.send_message(
        QueueUrl=url, MessageBody=body, MessageAttributes=DOC_ATTRIBUTES,
        MessageSystemAttributes={"AWSTraceHeader": {"DataType": "String",
                                                    "StringValue": "Root=1-abc"}},
    )  # fmt: skip
    assert sent["MD5OfMessageBody"] == hashlib.md5(body.encode()).hexdigest()
    assert sent["MD5OfMessageAttributes"] == DOC_MD5
    assert len(sent["MD5OfMessageSystemAttributes"]) == 32
    got = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"],
                              MessageSystemAttributeNames=["All"])["Messages"]  # fmt: skip
    assert len(got) == 1
    message = got[0]
    assert message["MessageId"] == sent["MessageId"]
    assert message["Body"] == body
    assert message["MD5OfBody"] == sent["MD5OfMessageBody"]
    assert message["MD5OfMessageAttributes"] == DOC_MD5
    assert message["MessageAttributes"]["binaryAttribute"]["BinaryValue"] == b"Hello binary world!"
    attributes = message["Attributes"]
    assert attributes["ApproximateReceiveCount"] == "1"
    assert attributes["AWSTraceHeader"] == "Root=1-abc"
    assert {"SenderId", "SentTimestamp", "ApproximateFirstReceiveTimestamp"} <= set(attributes)
    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    assert _count(sqs, url) == 0
    assert _count(sqs, url, "ApproximateNumberOfMessagesNotVisible") == 0


def test_message_attribute_name_filters(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="filters")["QueueUrl"]
    attrs = {
        name: {"DataType": "String", "StringValue": value}
        for name, value in (("General", "Kenobi"), ("Hello", "There"), ("Help.Me", "Me"))
    }
    sqs.send_message(QueueUrl=url, MessageBody="msg", MessageAttributes=attrs)

    def receive(names: list[str]) -> dict[str, Any]:
        (message,) = sqs.receive_message(QueueUrl=url, MessageAttributeNames=names,
                                         VisibilityTimeout=0)["Messages"]  # fmt: skip
        return dict(message)

    # AWS's answers (recorded against SQS): the MD5 covers only the attributes returned.
    assert receive(["All"])["MD5OfMessageAttributes"] == "4c360f3fdafd970e05fae2f149d997f5"
    assert receive([".*"])["MD5OfMessageAttributes"] == "4c360f3fdafd970e05fae2f149d997f5"
    assert receive(["General", "Hello"])["MD5OfMessageAttributes"] == (
        "fca026605781cb4126a1e9044df24232"
    )
    assert receive(["Hello", "Missing"])["MD5OfMessageAttributes"] == (
        "a311262e065454b75da111d535b8dacd"
    )
    assert receive(["He.*"])["MD5OfMessageAttributes"] == "83fee93c1bcd8b9a5a923ffacdc636c7"
    assert "MessageAttributes" not in receive(["Missing"])


def test_visibility_and_receive_counts(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="visibility")["QueueUrl"]
    for i in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=600,
                              AttributeNames=["ApproximateReceiveCount"])["Messages"]  # fmt: skip
    assert sorted(m["Body"] for m in got) == ["m0", "m1", "m2"]
    assert _count(sqs, url, "ApproximateNumberOfMessagesNotVisible") == 3
    assert not sqs.receive_message(QueueUrl=url).get("Messages")
    # Back to visible: one alone, two in a batch (with one bad handle that fails alone).
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"],
                                  VisibilityTimeout=0)  # fmt: skip
    result = sqs.change_message_visibility_batch(QueueUrl=url, Entries=[
        {"Id": "a", "ReceiptHandle": got[1]["ReceiptHandle"], "VisibilityTimeout": 0},
        {"Id": "b", "ReceiptHandle": "not-a-handle", "VisibilityTimeout": 0},
    ])  # fmt: skip
    assert [e["Id"] for e in result["Successful"]] == ["a"]
    assert result["Failed"][0]["Id"] == "b"
    assert result["Failed"][0]["Code"] == "ReceiptHandleIsInvalid"
    again = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                AttributeNames=["ApproximateReceiveCount"])["Messages"]  # fmt: skip
    assert sorted(m["Body"] for m in again) == ["m0", "m1"]
    assert {m["Attributes"]["ApproximateReceiveCount"] for m in again} == {"2"}
    # The old handle is stale now; the new ones delete.
    deleted = sqs.delete_message_batch(QueueUrl=url, Entries=[
        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(again)
    ])  # fmt: skip
    assert len(deleted["Successful"]) == 2
    with pytest.raises(ClientError) as exc:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=again[0]["ReceiptHandle"],
                                      VisibilityTimeout=10)  # fmt: skip
    assert _code(exc) == "AWS.SimpleQueueService.MessageNotInflight"
    with pytest.raises(ClientError) as exc:
        sqs.delete_message(QueueUrl=url, ReceiptHandle="garbage")
    assert _code(exc) == "ReceiptHandleIsInvalid"
    with pytest.raises(ClientError) as exc:
        sqs.delete_message_batch(QueueUrl=url, Entries=[])
    assert exc.value.response["Error"]["Message"] == (
        "There should be at least one DeleteMessageBatchRequestEntry in the request."
    )
    twice = [{"Id": "x", "ReceiptHandle": "h", "VisibilityTimeout": 0}] * 2
    with pytest.raises(ClientError) as exc:
        sqs.change_message_visibility_batch(QueueUrl=url, Entries=twice)
    assert _code(exc) == "AWS.SimpleQueueService.BatchEntryIdsNotDistinct"


def test_receive_parameter_ranges(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="ranges")["QueueUrl"]
    for params, message in (
        ({"MaxNumberOfMessages": 11}, "Value 11 for parameter MaxNumberOfMessages is invalid. "
                                      "Reason: Must be between 1 and 10, if provided."),
        ({"WaitTimeSeconds": 21}, "Value 21 for parameter WaitTimeSeconds is invalid. "
                                  "Reason: Must be >= 0 and <= 20, if provided."),
    ):  # fmt: skip
        with pytest.raises(ClientError) as exc:
            sqs.receive_message(QueueUrl=url, **params)
        assert _code(exc) == "InvalidParameterValue"
        assert exc.value.response["Error"]["Message"] == message


def test_batches_and_bad_messages(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="batches", Attributes={"MaximumMessageSize": "1024"})[
        "QueueUrl"
    ]
    result = sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": "ok", "MessageBody": "fine", "DelaySeconds": 0},
        {"Id": "big", "MessageBody": "x" * 1025},
    ])  # fmt: skip
    assert [e["Id"] for e in result["Successful"]] == ["ok"]
    assert result["Successful"][0]["MD5OfMessageBody"] == hashlib.md5(b"fine").hexdigest()
    assert result["Failed"][0]["Id"] == "big"
    assert result["Failed"][0]["SenderFault"] is True
    for entries, code in (
        ([], "AWS.SimpleQueueService.EmptyBatchRequest"),
        ([{"Id": str(i), "MessageBody": "m"} for i in range(11)],
         "AWS.SimpleQueueService.TooManyEntriesInBatchRequest"),
        ([{"Id": "same", "MessageBody": "a"}, {"Id": "same", "MessageBody": "b"}],
         "AWS.SimpleQueueService.BatchEntryIdsNotDistinct"),
        ([{"Id": "bad:id", "MessageBody": "a"}], "AWS.SimpleQueueService.InvalidBatchEntryId"),
        ([{"Id": str(i), "MessageBody": "x" * 200_000} for i in range(6)],
         "AWS.SimpleQueueService.BatchRequestTooLong"),
    ):  # fmt: skip
        with pytest.raises(ClientError) as exc:
            sqs.send_message_batch(QueueUrl=url, Entries=entries)
        assert _code(exc) == code
    with pytest.raises(ClientError) as exc:
        sqs.send_message(QueueUrl=url, MessageBody="x" * 1025)
    assert _code(exc) == "InvalidParameterValue"
    assert exc.value.response["Error"]["Message"] == (
        "One or more parameters are invalid. Reason: Message must be shorter than 1024 bytes."
    )
    with pytest.raises(ClientError) as exc:
        sqs.send_message(QueueUrl=url, MessageBody="bad \x00 char")
    assert _code(exc) == "InvalidMessageContents"
    with pytest.raises(ClientError) as exc:
        sqs.send_message(QueueUrl=url, MessageBody="m", MessageAttributes={
            "e": {"DataType": "String", "StringValue": ""}})  # fmt: skip
    assert exc.value.response["Error"]["Message"] == (
        "Message (user) attribute 'e' must contain a non-empty value of type 'String'."
    )
    with pytest.raises(ClientError) as exc:
        sqs.send_message(QueueUrl=url, MessageBody="m", DelaySeconds=901)
    assert _code(exc) == "InvalidParameterValue"
    assert _count(sqs, url) == 1  # only "ok" was stored


def test_delay_seconds(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="delayed")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=600)
    assert _count(sqs, url, "ApproximateNumberOfMessagesDelayed") == 1
    assert _count(sqs, url) == 0
    assert not sqs.receive_message(QueueUrl=url).get("Messages")


def test_fifo_order_groups_and_deduplication(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="orders.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    sequence = []
    for i in range(4):
        for group in ("a", "b"):
            sent = sqs.send_message(QueueUrl=url, MessageBody=f"{group}{i}", MessageGroupId=group,
                                    MessageDeduplicationId=f"{group}-{i}")  # fmt: skip
            sequence.append(int(sent["SequenceNumber"]))
    assert sequence == sorted(sequence)
    # A duplicate within the window is accepted and dropped: the first message's id.
    first = sqs.send_message(QueueUrl=url, MessageBody="dup", MessageGroupId="a",
                             MessageDeduplicationId="a-0")  # fmt: skip
    assert _count(sqs, url) == 8
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=3,
                              AttributeNames=["All"])["Messages"]  # fmt: skip
    assert [m["Body"] for m in got] == ["a0", "a1", "a2"]
    assert got[0]["MessageId"] == first["MessageId"]
    assert got[0]["Attributes"]["MessageGroupId"] == "a"
    assert got[0]["Attributes"]["MessageDeduplicationId"] == "a-0"
    # Group a has messages in flight: only b's come now, in order.
    more = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in more] == ["b0", "b1", "b2", "b3"]
    assert not sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages")
    sqs.delete_message_batch(QueueUrl=url, Entries=[
        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)
    ])  # fmt: skip
    (last,) = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert last["Body"] == "a3"
    # Once the message is visible again, its handle has expired (FIFO).
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=last["ReceiptHandle"],
                                  VisibilityTimeout=0)  # fmt: skip
    with pytest.raises(ClientError) as exc:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=last["ReceiptHandle"])
    assert _code(exc) == "InvalidParameterValue"
    assert "The receipt handle has expired." in exc.value.response["Error"]["Message"]


def test_fifo_refusals(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="strict.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    with pytest.raises(ClientError) as exc:
        sqs.send_message(QueueUrl=url, MessageBody="m", MessageDeduplicationId="d")
    assert _code(exc) == "MissingParameter"
    assert exc.value.response["Error"]["Message"] == (
        "The request must contain the parameter MessageGroupId."
    )
    with pytest.raises(ClientError) as exc:
        sqs.send_message(QueueUrl=url, MessageBody="m", MessageGroupId="g")
    assert _code(exc) == "InvalidParameterValue"
    with pytest.raises(ClientError) as exc:
        sqs.send_message(QueueUrl=url, MessageBody="m", MessageGroupId="g",
                         MessageDeduplicationId="d", DelaySeconds=2)  # fmt: skip
    assert _code(exc) == "InvalidParameterValue"
    with pytest.raises(ClientError) as exc:
        sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": "1", "MessageBody": "m", "MessageGroupId": "g", "MessageDeduplicationId": "1"},
            {"Id": "2", "MessageBody": "m", "MessageDeduplicationId": "2"},
        ])  # fmt: skip
    assert _code(exc) == "InvalidParameterValue"
    assert _count(sqs, url) == 0


def test_fifo_content_based_deduplication(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="content.fifo", Attributes={
        "FifoQueue": "true", "ContentBasedDeduplication": "true"})["QueueUrl"]  # fmt: skip
    one = sqs.send_message(QueueUrl=url, MessageBody="same", MessageGroupId="g")
    two = sqs.send_message(QueueUrl=url, MessageBody="same", MessageGroupId="g")
    three = sqs.send_message(QueueUrl=url, MessageBody="other", MessageGroupId="g")
    assert one["MessageId"] == two["MessageId"] != three["MessageId"]
    assert _count(sqs, url) == 2
    with pytest.raises(sqs.exceptions.QueueNameExists):
        sqs.create_queue(QueueName="content.fifo", Attributes={
            "FifoQueue": "true", "ContentBasedDeduplication": "false"})  # fmt: skip


def test_long_poll_returns_when_a_message_arrives(sqs: Any, qserver: Server) -> None:
    url = sqs.create_queue(QueueName="long-poll")["QueueUrl"]
    idle = sqs.create_queue(QueueName="long-poll-idle")["QueueUrl"]
    got: list[Any] = []
    poller = qserver.client("sqs")
    thread = threading.Thread(target=lambda: got.append(
        poller.receive_message(QueueUrl=url, WaitTimeSeconds=20)))  # fmt: skip
    thread.start()
    sqs.send_message(QueueUrl=url, MessageBody="wake up")
    # A 3-second poll of another queue ends after the send's poll had its message: the
    # first poll did not wait out its 20 seconds.
    assert not sqs.receive_message(QueueUrl=idle, WaitTimeSeconds=3).get("Messages")
    thread.join(timeout=0)
    assert not thread.is_alive()
    assert [m["Body"] for m in got[0]["Messages"]] == ["wake up"]


def test_redrive_to_the_dead_letter_queue(sqs: Any) -> None:
    dlq = sqs.create_queue(QueueName="dead")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2})
    src = sqs.create_queue(QueueName="source", Attributes={"RedrivePolicy": policy})["QueueUrl"]
    assert sqs.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"] == [src]
    sent = sqs.send_message(QueueUrl=src, MessageBody="poison")
    for _ in range(2):
        (message,) = sqs.receive_message(QueueUrl=src)["Messages"]
        sqs.change_message_visibility(QueueUrl=src, ReceiptHandle=message["ReceiptHandle"],
                                      VisibilityTimeout=0)  # fmt: skip
    # The third receive would exceed maxReceiveCount: the message moves instead.
    assert not sqs.receive_message(QueueUrl=src).get("Messages")
    (dead,) = sqs.receive_message(QueueUrl=dlq, AttributeNames=["All"])["Messages"]
    assert dead["MessageId"] == sent["MessageId"]
    assert dead["Body"] == "poison"
    assert dead["Attributes"]["DeadLetterQueueSourceArn"] == (
        "arn:aws:sqs:us-east-1:000000000000:source"
    )
    assert _count(sqs, src) == 0


def test_purge_queue(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="purged")["QueueUrl"]
    for i in range(5):
        sqs.send_message(QueueUrl=url, MessageBody=str(i))
    sqs.purge_queue(QueueUrl=url)
    assert _count(sqs, url) == 0
    with pytest.raises(ClientError) as exc:
        sqs.purge_queue(QueueUrl=url)
    assert _code(exc) == "AWS.SimpleQueueService.PurgeQueueInProgress"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_aws_cli(qserver: Server) -> None:
    def cli(*args: str) -> dict[str, Any]:
        out = aws_cli(qserver.endpoint, "sqs", *args).stdout
        return dict(json.loads(out)) if out.strip() else {}

    url = cli("create-queue", "--queue-name", "cli-q")["QueueUrl"]
    assert cli("get-queue-url", "--queue-name", "cli-q")["QueueUrl"] == url
    sent = cli("send-message", "--queue-url", url, "--message-body", "from the cli")
    assert sent["MD5OfMessageBody"] == hashlib.md5(b"from the cli").hexdigest()
    (message,) = cli("receive-message", "--queue-url", url, "--attribute-names", "All")["Messages"]
    assert message["Body"] == "from the cli"
    cli("delete-message", "--queue-url", url, "--receipt-handle", message["ReceiptHandle"])
    attributes = cli("get-queue-attributes", "--queue-url", url, "--attribute-names", "All")
    assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "0"
    assert url in cli("list-queues", "--queue-name-prefix", "cli-")["QueueUrls"]
    cli("delete-queue", "--queue-url", url)
    failed = aws_cli(qserver.endpoint, "sqs", "get-queue-url", "--queue-name", "cli-q",
                     check=False)  # fmt: skip
    assert failed.returncode != 0
    assert "AWS.SimpleQueueService.NonExistentQueue" in failed.stderr


def test_sigkill_keeps_messages_visibility_and_receive_counts(tmp_path: Path) -> None:
    data = tmp_path / "data"
    total = 120
    with run_server(data, "--isolation", "none") as srv:
        sqs = srv.client("sqs")
        url = sqs.create_queue(QueueName="durable")["QueueUrl"]
        for i in range(0, total, 10):  # batches and single sends, both acknowledged
            if i % 20:
                sqs.send_message_batch(QueueUrl=url, Entries=[
                    {"Id": str(j), "MessageBody": f"m{i + j}"} for j in range(10)])  # fmt: skip
            else:
                for j in range(10):
                    sqs.send_message(QueueUrl=url, MessageBody=f"m{i + j}")
        in_flight = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                        VisibilityTimeout=3600)["Messages"]  # fmt: skip
        srv.process.send_signal(signal.SIGKILL)
        srv.process.wait()
    with run_server(data, "--isolation", "none") as srv:
        sqs = srv.client("sqs")
        url = sqs.get_queue_url(QueueName="durable")["QueueUrl"]
        assert _count(sqs, url) == total - 10
        assert _count(sqs, url, "ApproximateNumberOfMessagesNotVisible") == 10
        # The handles from before the crash still work: back to visible, received again.
        for message in in_flight:
            sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"],
                                          VisibilityTimeout=0)  # fmt: skip
        bodies: dict[str, str] = {}
        while True:
            got = sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["ApproximateReceiveCount"]
            ).get("Messages")
            if not got:
                break
            for m in got:
                bodies[m["Body"]] = m["Attributes"]["ApproximateReceiveCount"]
        assert sorted(bodies) == sorted(f"m{i}" for i in range(total))
        again = {m["Body"] for m in in_flight}
        assert {b: c for b, c in bodies.items() if c == "2"}.keys() == again


def test_binary_md5_matches_the_documented_example() -> None:
    # The test's own reading of the documented encoding, independent of the server's code.
    def field(data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + data

    digest = hashlib.md5()
    for name in sorted(DOC_ATTRIBUTES):
        attribute = DOC_ATTRIBUTES[name]
        data_type = str(attribute["DataType"])
        digest.update(field(name.encode()) + field(data_type.encode()))
        if data_type == "Binary":
            value = attribute["BinaryValue"]
            assert isinstance(value, bytes)
            digest.update(b"\x02" + field(value))
        else:
            digest.update(b"\x01" + field(str(attribute["StringValue"]).encode()))
    assert digest.hexdigest() == DOC_MD5


FUNCTION = """
import boto3

def handler(event, context):
    sqs = boto3.client("sqs")  # AWS_ENDPOINT_URL and the role's credentials: Ember's
    url = sqs.get_queue_url(QueueName=event["queue"])["QueueUrl"]
    sent = sqs.send_message(QueueUrl=url, MessageBody=event["body"])
    try:
        sqs.create_queue(QueueName="not-for-functions")
        refused = None
    except Exception as exc:
        refused = type(exc).__name__
    return {"id": sent["MessageId"], "refused": refused}
"""


def test_a_function_sends_with_its_own_credentials(sqs: Any, qserver: Server) -> None:
    url = sqs.create_queue(QueueName="from-functions")["QueueUrl"]
    lam = qserver.client()
    create_function(lam, "queue-sender", FUNCTION, runtime="python3.12", Timeout=30)
    answer = lam.invoke(FunctionName="queue-sender",
                        Payload=json.dumps({"queue": "from-functions", "body": "hi"}))  # fmt: skip
    result = json.loads(answer["Payload"].read())
    assert "FunctionError" not in answer, result
    (message,) = sqs.receive_message(QueueUrl=url)["Messages"]
    assert (message["MessageId"], message["Body"]) == (result["id"], "hi")
    assert result["refused"] is not None  # managing queues stays the operator's
    assert "QueueUrls" not in sqs.list_queues(QueueNamePrefix="not-for-functions")


def test_receipt_handles_cannot_be_forged(sqs: Any) -> None:
    """A handle names its queue, message and receive, signed by the server: one made up from
    those (another consumer's message in flight) is refused, and the message stays hidden."""
    url = sqs.create_queue(QueueName="forgery")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="held")
    held = sqs.receive_message(QueueUrl=url, VisibilityTimeout=600)["Messages"][0]
    decoded = base64.urlsafe_b64decode(held["ReceiptHandle"]).decode()
    queue, seq, receives, _tag = decoded.split("/")
    forged = [
        base64.urlsafe_b64encode(f"{queue}/{seq}/{receives}".encode()).decode(),
        base64.urlsafe_b64encode(f"{queue}/{seq}/{receives}/{'0' * 32}".encode()).decode(),
    ]
    for handle in forged:
        with pytest.raises(ClientError) as exc:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=handle)
        assert _code(exc) == "ReceiptHandleIsInvalid"
        with pytest.raises(ClientError):
            sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=0)
    assert _count(sqs, url, "ApproximateNumberOfMessagesNotVisible") == 1
    sqs.delete_message(QueueUrl=url, ReceiptHandle=held["ReceiptHandle"])
    assert _count(sqs, url, "ApproximateNumberOfMessagesNotVisible") == 0
