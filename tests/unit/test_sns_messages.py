"""SNS message shapes and the documents filter policies see."""

from __future__ import annotations

import json

import pytest

from ember import patterns
from ember.topics import messages
from ember.topics.errors import InvalidParameterError, ParameterValueInvalidError
from ember.topics.messages import Message


def message(text: str = "hi", **attributes: dict[str, str]) -> Message:
    return Message("m1", "arn:aws:sns:us-east-1:000000000000:t", text, None, attributes, 0.0)


def test_attribute_document_types_values() -> None:
    m = message(
        store={"DataType": "String", "StringValue": "example_corp"},
        price={"DataType": "Number", "StringValue": "210.75"},
        count={"DataType": "Number", "StringValue": "3"},
        colors={"DataType": "String.Array", "StringValue": '["red", "blue"]'},
        blob={"DataType": "Binary", "BinaryValue": "AAE="},
    )
    assert messages.filter_document(m, body_scope=False) == {
        "store": "example_corp",
        "price": 210.75,
        "count": 3,
        "colors": ["red", "blue"],
    }


def test_sns_documented_policy_on_attributes() -> None:
    policy = patterns.compile(
        {
            "store": ["example_corp"],
            "event": [{"anything-but": "order_cancelled"}],
            "customer_interests": ["rugby", "football", "baseball"],
            "price_usd": [{"numeric": [">=", 100]}],
        }
    )
    m = message(
        store={"DataType": "String", "StringValue": "example_corp"},
        event={"DataType": "String", "StringValue": "order_placed"},
        customer_interests={"DataType": "String.Array", "StringValue": '["soccer", "rugby"]'},
        price_usd={"DataType": "Number", "StringValue": "210.75"},
    )
    assert policy.matches(messages.filter_document(m, body_scope=False) or {})
    cheap = message(
        "hi", **{**m.attributes, "price_usd": {"DataType": "Number", "StringValue": "5"}}
    )
    assert not policy.matches(messages.filter_document(cheap, body_scope=False) or {})


def test_no_attributes_matches_no_attribute_policy() -> None:
    assert messages.filter_document(message(), body_scope=False) is None


def test_body_document_only_for_json_objects() -> None:
    assert messages.filter_document(message('{"a": 1}'), body_scope=True) == {"a": 1}
    assert messages.filter_document(message("plain"), body_scope=True) is None
    assert messages.filter_document(message("[1]"), body_scope=True) is None


@pytest.mark.parametrize(
    ("attribute", "words"),
    [
        ({"DataType": "Number", "StringValue": "x"}, "Could not cast message attribute"),
        ({"DataType": "String", "StringValue": ""}, "must contain non-empty"),
        ({"DataType": "Int", "StringValue": "1"}, "invalid message attribute type"),
        ({"DataType": "String.Array", "StringValue": "nope"}, "invalid value"),
    ],
)
def test_bad_attributes_are_refused(attribute: dict[str, str], words: str) -> None:
    with pytest.raises(ParameterValueInvalidError, match=words):
        messages.check_attributes({"a": attribute})


def test_message_structure() -> None:
    assert messages.check_message('{"default": "d", "sqs": "q"}', "json") is True
    m = Message("m", "t", '{"default": "d", "sqs": "q"}', None, {}, 0.0, structure_json=True)
    assert (m.text_for("sqs"), m.text_for("lambda")) == ("q", "d")
    with pytest.raises(InvalidParameterError, match="No default entry"):
        messages.check_message('{"sqs": "q"}', "json")
    with pytest.raises(InvalidParameterError, match="Empty message"):
        messages.check_message("", None)


def test_envelope_leaves_out_what_sns_leaves_out() -> None:
    envelope = json.loads(messages.queue_envelope(message(), "arn:sub", "us-east-1"))
    assert "Subject" not in envelope
    assert "MessageAttributes" not in envelope
    assert envelope["Type"] == "Notification"
    event = json.loads(messages.lambda_event(message(), "arn:sub", "us-east-1"))
    assert event["Records"][0]["Sns"]["Subject"] is None
    assert event["Records"][0]["Sns"]["MessageAttributes"] == {}
