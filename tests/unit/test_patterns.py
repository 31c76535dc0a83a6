"""Event patterns, mostly AWS's documented examples (EventBridge content filtering,
SNS filter policies, Lambda event filtering)."""

from __future__ import annotations

from typing import Any

import pytest

from ember import patterns
from ember.patterns import InvalidEventPatternError

EC2_EVENT: dict[str, Any] = {
    "version": "0",
    "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
    "detail-type": "EC2 Instance State-change Notification",
    "source": "aws.ec2",
    "account": "111122223333",
    "time": "2017-12-22T18:43:48Z",
    "region": "us-west-1",
    "resources": ["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"],
    "detail": {"instance-id": "i-1234567890abcdef0", "state": "terminated"},
}


def matches(pattern: dict[str, Any] | str, event: dict[str, Any]) -> bool:
    return patterns.compile(pattern).matches(event)


def test_exact_values_and_arrays_as_or() -> None:
    assert matches({"source": ["aws.ec2"]}, EC2_EVENT)
    assert matches({"source": ["aws.s3", "aws.ec2"]}, EC2_EVENT)
    assert not matches({"source": ["aws.s3"]}, EC2_EVENT)
    assert matches({"detail": {"state": ["terminated", "stopped"]}}, EC2_EVENT)
    assert not matches({"detail": {"state": ["running"]}}, EC2_EVENT)
    # Every field must match (AND).
    assert not matches({"source": ["aws.ec2"], "detail-type": ["nope"]}, EC2_EVENT)


def test_pattern_as_json_text() -> None:
    assert matches('{"source": ["aws.ec2"], "detail": {"state": ["terminated"]}}', EC2_EVENT)


def test_event_arrays_match_when_any_element_does() -> None:
    arn = EC2_EVENT["resources"][0]
    assert matches({"resources": [arn]}, EC2_EVENT)
    assert matches({"resources": [{"prefix": "arn:aws:ec2:"}]}, EC2_EVENT)
    assert not matches({"resources": ["arn:aws:s3:::b"]}, EC2_EVENT)


def test_values_are_typed() -> None:
    event = {"detail": {"n": 5, "s": "5", "b": True, "z": None, "e": ""}}
    assert matches({"detail": {"n": [5]}}, event)
    assert matches({"detail": {"n": [5.0]}}, event)
    assert not matches({"detail": {"n": ["5"]}}, event)
    assert matches({"detail": {"s": ["5"]}}, event)
    assert not matches({"detail": {"s": [5]}}, event)
    assert matches({"detail": {"b": [True]}}, event)
    assert not matches({"detail": {"b": [1]}}, event)
    assert matches({"detail": {"z": [None]}}, event)
    assert not matches({"detail": {"e": [None]}}, event)
    assert matches({"detail": {"e": [""]}}, event)


def test_prefix_and_suffix_with_and_without_case() -> None:
    event = {
        "time": "2017-10-02T18:43:48Z",
        "detail": {"service": "EventBridge", "FileName": "a.PNG"},
    }
    assert matches({"time": [{"prefix": "2017-10-02"}]}, event)
    assert not matches({"time": [{"prefix": "2017-10-03"}]}, event)
    assert matches({"detail": {"service": [{"prefix": {"equals-ignore-case": "eventb"}}]}}, event)
    assert not matches({"detail": {"service": [{"prefix": "eventb"}]}}, event)
    assert matches({"detail": {"FileName": [{"suffix": {"equals-ignore-case": ".png"}}]}}, event)
    assert not matches({"detail": {"FileName": [{"suffix": ".png"}]}}, event)
    assert not matches({"detail": {"n": [{"prefix": "1"}]}}, {"detail": {"n": 12}})


def test_equals_ignore_case() -> None:
    assert matches(
        {"detail-type": [{"equals-ignore-case": "ec2 instance state-change notification"}]},
        EC2_EVENT,
    )
    assert not matches({"detail-type": [{"equals-ignore-case": "ec2"}]}, EC2_EVENT)


def test_anything_but() -> None:
    assert matches({"detail": {"state": [{"anything-but": "initializing"}]}}, EC2_EVENT)
    assert not matches({"detail": {"state": [{"anything-but": "terminated"}]}}, EC2_EVENT)
    assert not matches(
        {"detail": {"state": [{"anything-but": ["stopped", "terminated"]}]}}, EC2_EVENT
    )
    assert matches({"detail": {"x-limit": [{"anything-but": 123}]}}, {"detail": {"x-limit": 5}})
    assert not matches(
        {"detail": {"x-limit": [{"anything-but": [100, 123]}]}}, {"detail": {"x-limit": 123}}
    )
    # A missing field is not "anything but".
    assert not matches({"detail": {"missing": [{"anything-but": "x"}]}}, EC2_EVENT)


def test_anything_but_prefix_suffix_ignore_case_wildcard() -> None:
    event = {
        "Region": "us-east-1",
        "FileName": "a.png",
        "state": "INITIALIZING",
        "FilePath": "/usr/lib/x",
    }
    assert not matches({"Region": [{"anything-but": {"prefix": "us-"}}]}, event)
    assert matches({"Region": [{"anything-but": {"prefix": "eu-"}}]}, event)
    assert not matches({"FileName": [{"anything-but": {"suffix": ".png"}}]}, event)
    assert not matches({"state": [{"anything-but": {"equals-ignore-case": "initializing"}}]}, event)
    assert matches({"state": [{"anything-but": {"equals-ignore-case": ["a", "b"]}}]}, event)
    assert not matches({"FilePath": [{"anything-but": {"wildcard": "*/lib/*"}}]}, event)
    assert matches({"FilePath": [{"anything-but": {"wildcard": "*/bin/*"}}]}, event)


def test_numeric_ranges() -> None:
    event = {"detail": {"c-count": 5, "d-count": 0, "x-limit": 3.018e2, "s": "5"}}
    pattern = {
        "detail": {
            "c-count": [{"numeric": [">", 0, "<=", 5]}],
            "d-count": [{"numeric": ["<", 10]}],
            "x-limit": [{"numeric": ["=", 301.8]}],
        }
    }
    assert matches(pattern, event)
    assert not matches({"detail": {"c-count": [{"numeric": [">", 5]}]}}, event)
    assert matches({"detail": {"c-count": [{"numeric": [">=", 5]}]}}, event)
    assert not matches({"detail": {"d-count": [{"numeric": [">", 0]}]}}, event)
    assert not matches({"detail": {"s": [{"numeric": ["=", 5]}]}}, event)
    assert not matches({"detail": {"absent": [{"numeric": [">", 0]}]}}, event)


def test_exists() -> None:
    assert matches({"detail": {"state": [{"exists": True}]}}, EC2_EVENT)
    assert not matches({"detail": {"state": [{"exists": False}]}}, EC2_EVENT)
    assert matches({"detail": {"nope": [{"exists": False}]}}, EC2_EVENT)
    assert not matches({"detail": {"nope": [{"exists": True}]}}, EC2_EVENT)
    # Only leaves exist: an object in that place does not.
    assert not matches({"detail": [{"exists": True}]}, EC2_EVENT)
    # A missing parent: its fields do not exist either.
    assert matches({"other": {"x": [{"exists": False}]}}, EC2_EVENT)
    assert not matches({"other": {"x": [{"exists": True}]}}, EC2_EVENT)
    # null is a value.
    assert matches({"z": [{"exists": True}]}, {"z": None})


def test_cidr() -> None:
    event = {"detail": {"source-ip": "10.0.0.123"}}
    assert matches({"detail": {"source-ip": [{"cidr": "10.0.0.0/24"}]}}, event)
    assert not matches({"detail": {"source-ip": [{"cidr": "10.0.1.0/24"}]}}, event)
    assert not matches(
        {"detail": {"source-ip": [{"cidr": "10.0.0.0/24"}]}}, {"detail": {"source-ip": "host"}}
    )
    assert matches({"ip": [{"cidr": "2001:db8::/32"}]}, {"ip": "2001:db8::1"})


def test_wildcard() -> None:
    event = {"EventBusArn": "arn:aws:events:us-east-1:123456789012:event-bus/my-bus", "p": "a*b"}
    assert matches({"EventBusArn": [{"wildcard": "arn:aws:events:us-east-1:*:event-bus/*"}]}, event)
    assert not matches({"EventBusArn": [{"wildcard": "arn:aws:events:eu-*"}]}, event)
    assert matches({"p": [{"wildcard": "a\\*b"}]}, event)
    assert not matches({"p": [{"wildcard": "a\\*b"}]}, {"p": "axb"})


def test_or_across_fields() -> None:
    pattern = {
        "detail": {
            "$or": [
                {"c-count": [{"numeric": [">", 0, "<=", 5]}]},
                {"d-count": [{"numeric": ["<", 10]}]},
                {"x-limit": [{"numeric": ["=", 301.8]}]},
            ]
        }
    }
    assert matches(pattern, {"detail": {"c-count": 3}})
    assert matches(pattern, {"detail": {"d-count": 3}})
    assert not matches(pattern, {"detail": {"c-count": 30, "d-count": 30}})
    top = {
        "source": ["aws.ec2"],
        "$or": [{"detail-type": ["x"]}, {"detail": {"state": ["terminated"]}}],
    }
    assert matches(top, EC2_EVENT)
    assert not matches({**top, "source": ["aws.s3"]}, EC2_EVENT)


def test_nested_arrays_of_objects() -> None:
    event = {"detail": {"items": [{"name": "a", "size": 1}, {"name": "b", "size": 9}]}}
    assert matches({"detail": {"items": {"name": ["b"], "size": [{"numeric": [">", 5]}]}}}, event)
    # Both fields must hold in the same element.
    assert not matches(
        {"detail": {"items": {"name": ["a"], "size": [{"numeric": [">", 5]}]}}}, event
    )


def test_lambda_filter_on_a_decoded_sqs_body() -> None:
    record = {
        "body": {"RecordNumber": 12345, "TimeStamp": "yyyy-mm-ddThh:mm:ss", "RequestCode": "AAAA"}
    }
    assert matches({"body": {"RequestCode": ["AAAA"]}}, record)
    assert matches({"body": {"RecordNumber": [{"numeric": [">", 10000]}]}}, record)
    assert not matches({"body": {"RequestCode": ["BBBB"]}}, record)


def test_empty_pattern_matches_everything() -> None:
    assert matches({}, EC2_EVENT)


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("not json", "Filter is not valid JSON"),
        ("[1]", "Filter is not an object"),
        ({"source": "aws.ec2"}, '"source" must be an object or an array'),
        ({"source": []}, "Empty arrays are not allowed"),
        ({"source": [{"prefixx": "a"}]}, "Unrecognized match type prefixx"),
        ({"source": [{"prefix": 1}]}, '"prefix" match pattern must be a string'),
        ({"source": [{"prefix": "a", "suffix": "b"}]}, "Only one key allowed"),
        ({"n": [{"numeric": 5}]}, "Value of numeric must be an array."),
        ({"n": [{"numeric": [">", "a"]}]}, "Invalid member in numeric match"),
        ({"n": [{"numeric": [">", 5, "<", 1]}]}, "Bottom must be less than top"),
        ({"n": [{"numeric": [">", 1, ">", 2]}]}, "Invalid member in numeric match: >"),
        ({"n": [{"exists": "yes"}]}, "exists match pattern must be either true or false."),
        ({"n": [{"anything-but": [True]}]}, "start|null|boolean is not supported"),
        ({"n": [{"anything-but": ["a", 1]}]}, "start|null|boolean is not supported"),
        ({"n": [{"cidr": "10.0.0.0/99"}]}, "Malformed CIDR"),
        ({"n": [{"wildcard": "a**b"}]}, "Consecutive wildcard characters"),
        ({"$or": [{"a": ["x"]}]}, "at least 2 Objects in $or Array"),
        ({"$or": {"a": ["x"]}}, "Value of $or must be an array"),
        ({"n": [["nested"]]}, "Match value must be String, number, true, false, or null"),
    ],
)
def test_invalid_patterns_are_refused_with_a_reason(pattern: Any, reason: str) -> None:
    with pytest.raises(InvalidEventPatternError) as caught:
        patterns.compile(pattern)
    assert reason in caught.value.reason
    assert caught.value.message.startswith("Event pattern is not valid. Reason: ")
    assert caught.value.code == "InvalidEventPatternException"
