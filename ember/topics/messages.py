"""A published message and what each kind of subscriber receives: the Lambda event
(Records[0].Sns), the JSON envelope a queue gets (or the raw message), and the document a
filter policy is matched against.

Message attributes travel in SNS's request shape, `{name: {"DataType", "StringValue" |
"BinaryValue"}}`, and are shown to subscribers as `{name: {"Type", "Value"}}`.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import hashlib
from typing import Any

import orjson

from ember.topics.errors import InvalidParameterError, ParameterValueInvalidError

Attributes = dict[str, dict[str, str]]
MAX_MESSAGE_BYTES = 256 * 1024
_TYPES = ("String", "Number", "Binary")


@dataclasses.dataclass(frozen=True, slots=True)
class Message:
    message_id: str
    topic_arn: str
    message: str  # as published (a JSON map of protocol -> text with MessageStructure=json)
    subject: str | None
    attributes: Attributes
    timestamp: float
    structure_json: bool = False
    group_id: str | None = None
    dedup_id: str | None = None
    # The publisher's X-Ray trace header (carries the hop count of function -> topic ->
    # function chains, see invoke/recursion.py).
    trace_header: str | None = None

    def text_for(self, protocol: str) -> str:
        """The message a subscriber of `protocol` gets (MessageStructure=json picks its key,
        else `default`)."""
        if not self.structure_json:
            return self.message
        chosen = orjson.loads(self.message)
        value = chosen.get(protocol, chosen["default"])
        return value if isinstance(value, str) else orjson.dumps(value).decode()


def iso_millis(wall: float) -> str:
    moment = datetime.datetime.fromtimestamp(wall, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def check_message(message: str | None, structure: str | None) -> bool:
    """Check a Publish's Message (and MessageStructure); True when it is structured."""
    if message is None or message == "":
        raise InvalidParameterError("Empty message")
    if len(message.encode()) > MAX_MESSAGE_BYTES:
        raise InvalidParameterError("Message too long")
    if structure is None or structure == "":
        return False
    if structure != "json":
        raise InvalidParameterError("MessageStructure")
    try:
        chosen = orjson.loads(message)
    except orjson.JSONDecodeError:
        raise InvalidParameterError(
            "Message Structure - JSON message body failed to parse"
        ) from None
    if not isinstance(chosen, dict) or "default" not in chosen:
        raise InvalidParameterError("Message Structure - No default entry in JSON message body")
    return True


def check_attributes(attributes: Attributes) -> None:
    """SNS's checks on MessageAttributes: a known data type (custom suffixes allowed), a
    value, numbers that parse."""
    for name, value in attributes.items():
        data_type = value.get("DataType", "")
        base = data_type.split(".", 1)[0]
        if data_type.startswith("String.Array"):
            base = "String.Array"
        if base not in (*_TYPES, "String.Array"):
            raise ParameterValueInvalidError(
                f"The message attribute '{name}' has an invalid message attribute type, the "
                "set of supported type prefixes is Binary, Number, and String."
            )
        text = value.get("BinaryValue") if base == "Binary" else value.get("StringValue")
        if text is None or text == "":
            raise ParameterValueInvalidError(
                f"The message attribute '{name}' must contain non-empty message attribute "
                f"value for message attribute type '{base}'."
            )
        if base == "Number" and _number(text) is None:
            raise ParameterValueInvalidError(
                f"Could not cast message attribute '{name}' value to number."
            )
        if base == "String.Array":
            try:
                parsed = orjson.loads(text)
            except orjson.JSONDecodeError:
                parsed = None
            if not isinstance(parsed, list):
                raise ParameterValueInvalidError(
                    f"The message attribute '{name}' with type 'String.Array' has an invalid value."
                )


def _number(text: str) -> int | float | None:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return None


def shown(attributes: Attributes) -> dict[str, dict[str, str]]:
    """Attributes as subscribers see them: `{"Type": …, "Value": …}` (binary in base64)."""
    return {
        name: {
            "Type": value["DataType"],
            "Value": value.get("StringValue") or value.get("BinaryValue", ""),
        }
        for name, value in attributes.items()
    }


def filter_document(message: Message, body_scope: bool) -> dict[str, Any] | None:
    """What a filter policy is matched against: the message attributes by name (numbers as
    numbers, String.Array as its list, Binary left out), or the body when it is a JSON
    object; None when no policy can match (no attributes, or a body that is not a JSON
    object)."""
    if body_scope:
        try:
            body = orjson.loads(message.message)
        except orjson.JSONDecodeError:
            return None
        return body if isinstance(body, dict) else None
    if not message.attributes:
        return None  # SNS: even `exists: false` needs at least one attribute present
    document: dict[str, Any] = {}
    for name, value in message.attributes.items():
        data_type = value["DataType"]
        text = value.get("StringValue", "")
        if data_type.startswith("Number"):
            document[name] = _number(text)
        elif data_type.startswith("String.Array"):
            document[name] = orjson.loads(text)
        elif data_type.startswith("String"):
            document[name] = text
    return document


def _signature(message: Message) -> str:
    """A stand-in for SNS's signature: Ember signs nothing (there is no certificate to
    check it against), but the field is there, base64 as AWS's."""
    digest = hashlib.sha256(f"{message.message_id}{message.message}".encode()).digest()
    return base64.b64encode(digest * 8).decode()


def _urls(region: str, subscription_arn: str) -> tuple[str, str]:
    host = f"https://sns.{region}.amazonaws.com"
    return (
        f"{host}/SimpleNotificationService-0000000000000000000000.pem",
        f"{host}/?Action=Unsubscribe&SubscriptionArn={subscription_arn}",
    )


def lambda_event(message: Message, subscription_arn: str, region: str) -> bytes:
    """The event a function subscriber is invoked with, as Lambda's SNS trigger sends it."""
    cert, unsubscribe = _urls(region, subscription_arn)
    return orjson.dumps(
        {
            "Records": [
                {
                    "EventSource": "aws:sns",
                    "EventVersion": "1.0",
                    "EventSubscriptionArn": subscription_arn,
                    "Sns": {
                        "Type": "Notification",
                        "MessageId": message.message_id,
                        "TopicArn": message.topic_arn,
                        "Subject": message.subject,
                        "Message": message.text_for("lambda"),
                        "Timestamp": iso_millis(message.timestamp),
                        "SignatureVersion": "1",
                        "Signature": _signature(message),
                        "SigningCertUrl": cert,
                        "UnsubscribeUrl": unsubscribe,
                        "MessageAttributes": shown(message.attributes),
                    },
                }
            ]
        }
    )


def queue_envelope(message: Message, subscription_arn: str, region: str) -> str:
    """The JSON a queue subscriber receives as its message body (not raw delivery)."""
    cert, unsubscribe = _urls(region, subscription_arn)
    envelope: dict[str, Any] = {
        "Type": "Notification",
        "MessageId": message.message_id,
    }
    if message.group_id is not None:
        envelope["SequenceNumber"] = "10000000000000000000"
    envelope["TopicArn"] = message.topic_arn
    if message.subject is not None:
        envelope["Subject"] = message.subject
    envelope.update(
        {
            "Message": message.text_for("sqs"),
            "Timestamp": iso_millis(message.timestamp),
            "SignatureVersion": "1",
            "Signature": _signature(message),
            "SigningCertURL": cert,
            "UnsubscribeURL": unsubscribe,
        }
    )
    if message.attributes:
        envelope["MessageAttributes"] = shown(message.attributes)
    return orjson.dumps(envelope).decode()


def queue_attributes(attributes: Attributes) -> dict[str, dict[str, str]]:
    """Message attributes for raw delivery, in SQS's shape."""
    out: dict[str, dict[str, str]] = {}
    for name, value in attributes.items():
        if value["DataType"].startswith("Binary"):
            out[name] = {"DataType": value["DataType"], "BinaryValue": value["BinaryValue"]}
        else:
            out[name] = {"DataType": value["DataType"], "StringValue": value["StringValue"]}
    return out
