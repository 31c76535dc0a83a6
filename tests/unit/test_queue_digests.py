"""MD5 digests of message bodies and attributes, against AWS's documented examples and
answers recorded against SQS."""

from __future__ import annotations

import base64

import pytest

from ember.queues.digests import md5_of_attributes, md5_of_body


def string(value: str, data_type: str = "String") -> dict[str, str]:
    return {"DataType": data_type, "StringValue": value}


BINARY = {"DataType": "Binary", "BinaryValue": base64.b64encode(b"Hello binary world!").decode()}
NUMBER = string("4563442423554324324264524243.32543234", "Number.float")


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        # The examples published with AWS's algorithm (aws-md5-of-message-attributes).
        ({"attribName1": string("attribValue 1")}, "19e27d4e946b072f3f58da80d94fd778"),
        ({"customNumberTypeAttrib": NUMBER}, "9fe1b90bbd9965bdf77bac517c7d2495"),
        ({"binaryAttribute": BINARY}, "31a92b15d92f8db860eda32aceb656c3"),
        (
            {"attribName1": string("attribValue 1"), "customNumberTypeAttrib": NUMBER,
             "binaryAttribute": BINARY},
            "c932db14a896c663f83c260297d594ff",
        ),
        # SQS's answers, recorded (LocalStack's snapshot tests against AWS).
        ({"Foo": string("Bar")}, "ae7155c6026991b6d54b11589678bf9c"),
        (
            {"General": string("Kenobi"), "Hello": string("There"), "Help.Me": string("Me")},
            "4c360f3fdafd970e05fae2f149d997f5",
        ),
        ({"General": string("Kenobi"), "Hello": string("There")},
         "fca026605781cb4126a1e9044df24232"),
        ({"Hello": string("There")}, "a311262e065454b75da111d535b8dacd"),
        ({"Hello": string("There"), "Help.Me": string("Me")}, "83fee93c1bcd8b9a5a923ffacdc636c7"),
    ],
)  # fmt: skip
def test_attribute_digests(attributes: dict[str, dict[str, str]], expected: str) -> None:
    assert md5_of_attributes(attributes) == expected


def test_order_of_attributes_does_not_matter() -> None:
    forward = {"a": string("1"), "b": string("2")}
    assert md5_of_attributes(forward) == md5_of_attributes(dict(reversed(forward.items())))


def test_raw_bytes_and_base64_binary_values_agree() -> None:
    raw = {"binaryAttribute": {"DataType": "Binary", "BinaryValue": b"Hello binary world!"}}
    assert md5_of_attributes(raw) == "31a92b15d92f8db860eda32aceb656c3"


def test_no_attributes_no_digest() -> None:
    assert md5_of_attributes({}) is None


def test_body_digest() -> None:
    assert md5_of_body("msg") == "6e2baaf3b97dbeef01c0043275f9a0e7"  # recorded from SQS
    assert md5_of_body("message-body-1") == "19c9e282d65f9733bc6b35d50062c7ee"
