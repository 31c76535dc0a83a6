"""Asynchronous invocation records and dead letters delivered to Ember's queues and topics,
as Lambda delivers them to SQS and SNS, read back with boto3's sqs client."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.apicalls import deploy, wait_settled
from tests.e2e.harness import Server, run_server, wait_until

pytestmark = pytest.mark.e2e

FAILING = "def handler(event, context):\n    raise ValueError('broken ' + str(event['id']))\n"
WORKING = "def handler(event, context):\n    return {'echo': event}\n"


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("ember-destinations")
    with run_server(root / "data", "--async-delay-scale", "0.01") as server:
        yield server


@pytest.fixture(scope="module")
def lam(srv: Server) -> Any:
    return srv.client()


@pytest.fixture(scope="module")
def sqs(srv: Server) -> Any:
    return srv.client("sqs")


def queue(sqs: Any) -> tuple[str, str]:
    """A new queue: (URL, ARN)."""
    url: str = sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn: str = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return url, arn


def function(lam: Any, code: str, **kwargs: Any) -> str:
    name = f"dest-{uuid.uuid4().hex[:8]}"
    deploy(lam, name, {"app.py": code}, **kwargs)
    return name


def send(lam: Any, name: str, event: Any) -> str:
    answer = lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps(event))
    assert answer["StatusCode"] == 202
    request_id: str = answer["ResponseMetadata"]["RequestId"]
    return request_id


def receive_one(sqs: Any, url: str) -> dict[str, Any]:
    def got() -> dict[str, Any] | None:
        answer = sqs.receive_message(
            QueueUrl=url, WaitTimeSeconds=2, MessageAttributeNames=["All"], AttributeNames=["All"]
        )
        messages = answer.get("Messages", [])
        return messages[0] if messages else None

    message: dict[str, Any] = wait_until(got, limit=30)
    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return message


def test_dead_letters_reach_a_queue_with_lambdas_attributes(lam: Any, sqs: Any) -> None:
    url, arn = queue(sqs)
    name = function(lam, FAILING, DeadLetterConfig={"TargetArn": arn})
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
    request_id = send(lam, name, {"id": 7})
    message = receive_one(sqs, url)
    assert json.loads(message["Body"]) == {"id": 7}  # the original event
    attributes = message["MessageAttributes"]
    assert attributes["RequestID"] == {"DataType": "String", "StringValue": request_id}
    assert attributes["ErrorCode"] == {"DataType": "Number", "StringValue": "200"}
    assert attributes["ErrorMessage"] == {"DataType": "String", "StringValue": "broken 7"}
    assert "AWSTraceHeader" in message["Attributes"]  # the chain's lineage goes along


def test_destination_records_reach_queues(lam: Any, sqs: Any) -> None:
    ok_url, ok_arn = queue(sqs)
    bad_url, bad_arn = queue(sqs)
    good = function(lam, WORKING)
    lam.put_function_event_invoke_config(
        FunctionName=good, DestinationConfig={"OnSuccess": {"Destination": ok_arn}}
    )
    bad = function(lam, FAILING)
    lam.put_function_event_invoke_config(
        FunctionName=bad,
        MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": bad_arn}},
    )
    ok_id = send(lam, good, {"id": 1})
    bad_id = send(lam, bad, {"id": 2})
    record = json.loads(receive_one(sqs, ok_url)["Body"])
    assert record["version"] == "1.0"
    assert record["requestContext"]["requestId"] == ok_id
    assert record["requestContext"]["condition"] == "Success"
    assert record["requestPayload"] == {"id": 1}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert record["responsePayload"] == {"echo": {"id": 1}}
    failed = json.loads(receive_one(sqs, bad_url)["Body"])
    assert failed["requestContext"]["requestId"] == bad_id
    assert failed["requestContext"]["condition"] == "RetriesExhausted"
    assert failed["requestContext"]["approximateInvokeCount"] == 2
    assert failed["responseContext"]["functionError"] == "Unhandled"
    assert failed["responsePayload"]["errorMessage"] == "broken 2"


def test_records_reach_topics_and_their_subscribers(srv: Server, lam: Any, sqs: Any) -> None:
    sns = srv.client("sns")
    topic = sns.create_topic(Name=f"t-{uuid.uuid4().hex[:8]}")["TopicArn"]
    url, arn = queue(sqs)
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    name = function(lam, FAILING)
    lam.put_function_event_invoke_config(
        FunctionName=name,
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": topic}},
    )
    request_id = send(lam, name, {"id": 3})
    envelope = json.loads(receive_one(sqs, url)["Body"])
    assert envelope["Type"] == "Notification"
    assert envelope["TopicArn"] == topic
    record = json.loads(envelope["Message"])
    assert record["requestContext"]["requestId"] == request_id
    assert record["requestContext"]["condition"] == "RetriesExhausted"


def test_a_missing_queue_is_accepted_and_fails_at_delivery(srv: Server, lam: Any) -> None:
    missing = "arn:aws:sqs:us-east-1:000000000000:never-created"
    name = function(lam, FAILING, DeadLetterConfig={"TargetArn": missing})
    lam.put_function_event_invoke_config(
        FunctionName=name,
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": missing}},
    )
    config = lam.get_function_event_invoke_config(FunctionName=name)
    assert config["DestinationConfig"]["OnFailure"] == {"Destination": missing}
    request_id = send(lam, name, {"id": 4})
    lines = wait_until(
        lambda: (
            [
                line
                for line in srv.output().splitlines()
                if request_id in line and f"cannot deliver to {missing}" in line
            ]
            if srv.output().count(f"{request_id}: cannot deliver to {missing}") >= 2
            else None
        ),
        limit=30,
    )
    assert len(lines) == 2  # the record and the dead letter, each logged


def test_bad_queue_arns_are_refused(lam: Any) -> None:
    name = function(lam, WORKING)
    bad = "arn:aws:sqs:us-east-1:000000000000:"
    got = lam.exceptions.InvalidParameterValueException
    with pytest.raises(got):
        lam.put_function_event_invoke_config(
            FunctionName=name, DestinationConfig={"OnSuccess": {"Destination": bad}}
        )
    with pytest.raises(got):
        lam.update_function_configuration(FunctionName=name, DeadLetterConfig={"TargetArn": bad})
    wait_settled(lam, name)
    assert "DeadLetterConfig" not in lam.get_function_configuration(FunctionName=name)
