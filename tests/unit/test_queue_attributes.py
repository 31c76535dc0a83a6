"""Queue names and attributes: AWS's ranges, defaults and wording."""

from __future__ import annotations

import pytest

from ember.queues.attributes import check_name, normalise, parse_redrive, redrive_allows
from ember.queues.errors import (
    InvalidAttributeNameError,
    InvalidAttributeValueError,
    QueueInvalidParameterError,
)


@pytest.mark.parametrize("name", ["a", "A-b_9", "x" * 80])
def test_good_standard_names(name: str) -> None:
    check_name(name, fifo=False)


@pytest.mark.parametrize("name", ["", "x" * 81, "sp ace", "dot.ted", "q.fifo", "ü"])
def test_bad_standard_names(name: str) -> None:
    with pytest.raises(QueueInvalidParameterError, match="Can only include alphanumeric"):
        check_name(name, fifo=False)


def test_fifo_names_count_the_suffix() -> None:
    check_name("x" * 75 + ".fifo", fifo=True)
    for bad in ("x" * 76 + ".fifo", "nosuffix", ".fifo", "a b.fifo"):
        with pytest.raises(QueueInvalidParameterError, match=r"must end with \.fifo"):
            check_name(bad, fifo=True)


@pytest.mark.parametrize(
    ("name", "value"),
    [("DelaySeconds", "901"), ("VisibilityTimeout", "-1"), ("MaximumMessageSize", "1048577"),
     ("MessageRetentionPeriod", "1209601"), ("ReceiveMessageWaitTimeSeconds", "x"),
     ("SqsManagedSseEnabled", "maybe")],
)  # fmt: skip
def test_values_out_of_range(name: str, value: str) -> None:
    with pytest.raises(InvalidAttributeValueError) as exc:
        normalise({name: value}, fifo=False, creating=True)
    assert exc.value.message == f"Invalid value for the parameter {name}."


def test_values_are_shown_as_aws_shows_them() -> None:
    assert normalise({"DelaySeconds": "007", "VisibilityTimeout": 5}, fifo=False,
                     creating=True) == {"DelaySeconds": "7", "VisibilityTimeout": "5"}  # fmt: skip


def test_fifo_only_attributes_and_queue_type() -> None:
    with pytest.raises(InvalidAttributeNameError, match="Unknown Attribute ContentBasedDed"):
        normalise({"ContentBasedDeduplication": "true"}, fifo=False, creating=True)
    assert normalise({"FifoQueue": "true", "ContentBasedDeduplication": "true"}, fifo=True,
                     creating=True)["FifoQueue"] == "true"  # fmt: skip
    with pytest.raises(InvalidAttributeValueError, match="Modifying queue type"):
        normalise({"FifoQueue": "false"}, fifo=True, creating=False)
    with pytest.raises(InvalidAttributeNameError, match=r"Unknown Attribute FifoQueue\."):
        normalise({"FifoQueue": "true"}, fifo=False, creating=False)
    with pytest.raises(InvalidAttributeNameError, match=r"Unknown Attribute FifoQueue\."):
        normalise({"FifoQueue": "false"}, fifo=False, creating=True)  # AWS refuses "false" too


def test_redrive_policy_checks() -> None:
    arn = "arn:aws:sqs:us-east-1:000000000000:dlq"
    assert (
        parse_redrive(f'{{"deadLetterTargetArn": "{arn}", "maxReceiveCount": "3"}}').max_receives
        == 3
    )
    with pytest.raises(QueueInvalidParameterError) as exc:
        parse_redrive('{"deadLetterTargetArn": "dummy", "maxReceiveCount": 42}')
    assert exc.value.message == (  # AWS's answer, recorded
        'Value {"deadLetterTargetArn": "dummy", "maxReceiveCount": 42} for parameter '
        "RedrivePolicy is invalid. Reason: Invalid value for deadLetterTargetArn."
    )
    with pytest.raises(QueueInvalidParameterError, match="valid values are from 1 to 1000"):
        parse_redrive(f'{{"deadLetterTargetArn": "{arn}", "maxReceiveCount": 1001}}')


def test_redrive_allow_policy() -> None:
    source = "arn:aws:sqs:us-east-1:000000000000:src"
    assert redrive_allows(None, source)
    assert not redrive_allows('{"redrivePermission": "denyAll"}', source)
    by_queue = f'{{"redrivePermission": "byQueue", "sourceQueueArns": ["{source}"]}}'
    assert redrive_allows(by_queue, source)
    assert not redrive_allows(by_queue, source + "2")
