"""The invocation record destinations receive, and the dead-letter attributes."""

from __future__ import annotations

import orjson

from ember.invoke.records import (
    Outcome,
    dead_letter_context,
    error_message,
    invocation_record,
)
from ember.invoke.retry import Condition

ARN = "arn:aws:lambda:us-east-1:000000000000:function:src:$LATEST"
WALL = 1_700_000_000.25


def test_success_record_has_lambdas_shape() -> None:
    outcome = Outcome(200, "$LATEST", None, b'{"ok": 1}')
    record = orjson.loads(
        invocation_record(
            request_id="r-1",
            function_arn=ARN,
            condition=Condition.SUCCESS,
            invoke_count=1,
            request_payload=b'{"in": 2}',
            outcome=outcome,
            wall=WALL,
        )
    )
    assert record == {
        "version": "1.0",
        "timestamp": "2023-11-14T22:13:20.250Z",
        "requestContext": {
            "requestId": "r-1",
            "functionArn": ARN,
            "condition": "Success",
            "approximateInvokeCount": 1,
        },
        "requestPayload": {"in": 2},
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST"},
        "responsePayload": {"ok": 1},
    }


def test_failure_record_names_the_function_error() -> None:
    error = b'{"errorMessage": "boom", "errorType": "ValueError"}'
    outcome = Outcome(200, "$LATEST", "Unhandled", error, error_message(error))
    record = orjson.loads(
        invocation_record(
            request_id="r-2",
            function_arn=ARN,
            condition=Condition.RETRIES_EXHAUSTED,
            invoke_count=3,
            request_payload=b"{}",
            outcome=outcome,
            wall=WALL,
        )
    )
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": "Unhandled",
    }
    assert record["responsePayload"]["errorMessage"] == "boom"


def test_an_event_that_never_ran_has_no_response() -> None:
    record = orjson.loads(
        invocation_record(
            request_id="r-3",
            function_arn=ARN,
            condition=Condition.EVENT_AGE_EXCEEDED,
            invoke_count=0,
            request_payload=b"[1]",
            outcome=None,
            wall=WALL,
        )
    )
    assert record["responseContext"] == {}
    assert "responsePayload" not in record
    assert record["requestPayload"] == [1]


def test_a_response_that_is_not_json_is_kept_as_text() -> None:
    outcome = Outcome(200, "$LATEST", None, b"plain \xff")
    record = orjson.loads(
        invocation_record(
            request_id="r",
            function_arn=ARN,
            condition=Condition.SUCCESS,
            invoke_count=1,
            request_payload=b"{}",
            outcome=outcome,
            wall=WALL,
        )
    )
    assert record["responsePayload"] == "plain \ufffd"


def test_outcome_survives_the_queue_round_trip() -> None:
    outcome = Outcome(429, None, None, b'{"errorType": "TooManyRequestsException"}', "Rate")
    assert Outcome.from_json(outcome.to_json()) == outcome


def test_dead_letter_context_carries_lambdas_message_attributes() -> None:
    outcome = Outcome(200, "$LATEST", "Unhandled", b"{}", "boom")
    assert orjson.loads(dead_letter_context("r-9", outcome)) == {
        "custom": {"RequestID": "r-9", "ErrorCode": "200", "ErrorMessage": "boom"}
    }
