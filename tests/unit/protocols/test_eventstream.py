"""Event-stream frames as botocore's own parser reads them (the one boto3's
invoke_with_response_stream uses), fed in pieces as a socket would deliver them."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import botocore.session
import pytest
from botocore.eventstream import EventStream, EventStreamBuffer
from botocore.parsers import EventStreamJSONParser

from ember.api.streaming import error_details, invoke_complete, payload_chunk
from ember.protocols.eventstream import MAX_PAYLOAD, encode_event, encode_events, encode_message
from ember.scheduler import InvocationResult


class _Raw:
    """A response body that arrives `size` bytes at a time."""

    def __init__(self, data: bytes, size: int) -> None:
        self._data = data
        self._size = size

    def stream(self) -> Iterator[bytes]:
        for at in range(0, len(self._data), self._size):
            yield self._data[at : at + self._size]


def _events(body: bytes, size: int = 7) -> list[dict[str, Any]]:
    model = botocore.session.get_session().get_service_model("lambda")
    output = model.operation_model("InvokeWithResponseStream").output_shape
    shape = output.members["EventStream"]
    stream = EventStream(
        _Raw(body, size), shape, EventStreamJSONParser(), "InvokeWithResponseStream"
    )
    return list(stream)


def test_a_message_decodes_with_its_headers_and_payload() -> None:
    buffer = EventStreamBuffer()
    buffer.add_data(encode_message({":event-type": "X", "a": "é"}, b"\x00payload\xff"))
    (message,) = list(buffer)  # CRCs checked by the parser
    assert message.headers == {":event-type": "X", "a": "é"}
    assert message.payload == b"\x00payload\xff"


def test_an_empty_payload() -> None:
    buffer = EventStreamBuffer()
    buffer.add_data(encode_event("PayloadChunk", b"", "application/octet-stream"))
    (message,) = list(buffer)
    assert message.payload == b""
    assert message.headers[":message-type"] == "event"


@pytest.mark.parametrize("size", [1, 5, 64, 100_000])
def test_lambda_response_stream_as_boto3_reads_it(size: int) -> None:
    ok = InvocationResult(payload=b"", log_tail=b"START\nEND\n")
    body = payload_chunk(b"first ") + payload_chunk(b"second") + invoke_complete(ok, with_log=True)
    events = _events(body, size)
    assert events == [
        {"PayloadChunk": {"Payload": b"first "}},
        {"PayloadChunk": {"Payload": b"second"}},
        {"InvokeComplete": {"LogResult": base64.b64encode(b"START\nEND\n").decode()}},
    ]


def test_invoke_complete_carries_the_error() -> None:
    failed = InvocationResult(
        payload=json.dumps({"errorType": "Custom.Broken", "errorMessage": "it broke"}).encode(),
        function_error="Unhandled",
        error_type="Custom.Broken",
    )
    (event,) = _events(invoke_complete(failed, with_log=False))
    assert event == {"InvokeComplete": {"ErrorCode": "Custom.Broken", "ErrorDetails": "it broke"}}


def test_error_details_of_a_document_without_a_message_is_the_document() -> None:
    assert error_details(b"plain words") == "plain words"
    assert error_details(b'{"other": 1}') == '{"other": 1}'


def test_a_payload_over_the_frame_limit_is_split() -> None:
    data = bytes(range(256)) * (MAX_PAYLOAD // 256 + 10)
    buffer = EventStreamBuffer()
    buffer.add_data(encode_events("PayloadChunk", data, "application/octet-stream"))
    messages = list(buffer)
    assert len(messages) == 2
    assert b"".join(m.payload for m in messages) == data
    with pytest.raises(ValueError, match="at most"):
        encode_event("PayloadChunk", data, "application/octet-stream")
