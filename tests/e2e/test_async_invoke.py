"""Asynchronous invocation through boto3 and the AWS CLI: 202s, Lambda's retry schedule and
maximum event age (on a server whose async delays are scaled by 0.01), dead letters,
destination records, the legacy InvokeAsync API, and `ember queue` / `ember metrics`."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ember.invoke.retry import FUNCTION_ERROR_JITTER
from tests.e2e.apicalls import expect_error, outcome_of, wait_settled
from tests.e2e.harness import Server, aws_cli, create_function, run_server, wait_until
from tests.e2e.recorder import Collector, create_recorder

pytestmark = pytest.mark.e2e

SCALE = 0.01  # Lambda's 1 min / 2 min retry delays become 0.6 s / 1.2 s
FIRST_RETRY, SECOND_RETRY = 60 * SCALE, 120 * SCALE
SLACK = 0.5  # seconds a retry may run late (a cold start, a busy CI machine)
ISO_MS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
NOOP = "def handler(event, context):\n    return None\n"


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory, collector: Collector) -> Iterator[Server]:
    """Sandboxed like users' functions; stopped (its environments gone) before `collector`."""
    root = tmp_path_factory.mktemp("ember-async")
    scale = ("--async-delay-scale", str(SCALE))
    with run_server(root / "data", *scale, *collector.access, "--idle-timeout", "60") as server:
        yield server


@pytest.fixture(scope="module")
def lam(srv: Server) -> Any:
    return srv.client()


def recorder(lam: Any, collector: Collector, prefix: str, **kwargs: Any) -> tuple[str, str]:
    name = _name(prefix)
    return name, create_recorder(lam, name, collector, **kwargs)


def send(lam: Any, name: str, event: Any) -> str:
    """InvocationType=Event; returns the request id the 202 carried."""
    answer = lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps(event))
    assert answer["StatusCode"] == 202
    assert answer["Payload"].read() == b""
    request_id: str = answer["ResponseMetadata"]["RequestId"]
    return request_id


def runs_of(collector: Collector, name: str, request_id: str) -> list[dict[str, Any]]:
    return [r for r in collector.records(name) if r["request_id"] == request_id]


def wait_record(collector: Collector, name: str, match: Any, limit: float = 20) -> dict[str, Any]:
    """The first record of `name` for which `match(record)` holds, polling."""

    def found() -> dict[str, Any] | None:
        return next((r for r in collector.records(name) if match(r)), None)

    record: dict[str, Any] = wait_until(found, limit=limit)
    return record


def ember_cli(srv: Server, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "ember", "--endpoint", srv.endpoint, *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


# -- accepting events ------------------------------------------------------------------


def test_event_answers_202_and_runs_as_its_request_id(lam: Any, collector: Collector) -> None:
    name, arn = recorder(lam, collector, "accept")
    request_id = send(lam, name, {"hello": "async"})
    run = wait_record(collector, name, lambda r: r["request_id"] == request_id)
    assert run["event"] == {"hello": "async"}
    assert run["invoked_arn"] == arn


def test_aws_cli_invocation_type_event(
    srv: Server, lam: Any, collector: Collector, tmp_path: Path
) -> None:
    name, _ = recorder(lam, collector, "cli")
    out = tmp_path / "out.json"
    done = aws_cli(
        srv.endpoint, "lambda", "invoke", "--function-name", name, "--invocation-type", "Event",
        "--payload", '{"via": "cli"}', str(out),
    )  # fmt: skip
    assert json.loads(done.stdout) == {"StatusCode": 202}
    assert out.read_bytes() == b""
    wait_record(collector, name, lambda r: r["event"] == {"via": "cli"})


def test_event_payload_limit_is_one_megabyte(lam: Any) -> None:
    name = _name("big")
    create_function(lam, name, NOOP)
    limit = 1_048_576
    exactly = b'{"pad": "' + b"x" * (limit - 11) + b'"}'
    assert len(exactly) == limit
    assert (
        lam.invoke(FunctionName=name, InvocationType="Event", Payload=exactly)["StatusCode"] == 202
    )
    over = b'{"pad": "' + b"x" * (limit - 10) + b'"}'
    expect_error(
        lambda: lam.invoke(FunctionName=name, InvocationType="Event", Payload=over),
        "RequestEntityTooLargeException",
        413,
        f"{limit + 1} byte payload is too large for the Event invocation type "
        f"(limit {limit} bytes)",
    )


def test_event_refusals_match_the_sync_path(lam: Any) -> None:
    name = _name("refuse")
    create_function(lam, name, NOOP)
    expect_error(
        lambda: lam.invoke(FunctionName="no-such-fn", InvocationType="Event", Payload=b"{}"),
        "ResourceNotFoundException",
        404,
        "Function not found: arn:aws:lambda:us-east-1:000000000000:function:no-such-fn",
    )
    got = outcome_of(
        lambda: lam.invoke(FunctionName=name, InvocationType="Event", Payload=b"{not json")
    )
    assert (got.code, got.status) == ("InvalidRequestContentException", 400)
    assert got.message.startswith(
        "Could not parse request body into json: Could not parse payload into json: "
    )


def test_legacy_invoke_async(lam: Any, collector: Collector) -> None:
    name, _ = recorder(lam, collector, "legacy")
    answer = lam.invoke_async(FunctionName=name, InvokeArgs=b'{"legacy": true}')
    assert answer["Status"] == 202
    request_id = answer["ResponseMetadata"]["RequestId"]
    run = wait_record(collector, name, lambda r: r["request_id"] == request_id)
    assert run["event"] == {"legacy": True}
    over = b'"' + b"x" * (256 * 1024 - 1) + b'"'
    expect_error(
        lambda: lam.invoke_async(FunctionName=name, InvokeArgs=over),
        "RequestEntityTooLargeException",
        413,
        f"{len(over)} byte payload is too large for the InvokeAsync operation (limit 262144 bytes)",
    )


# -- retries, maximum age, dead letters ----------------------------------------------------


def test_function_errors_retry_on_lambdas_schedule_with_one_request_id(
    lam: Any, collector: Collector
) -> None:
    name, _ = recorder(lam, collector, "retry")
    sink, sink_arn = recorder(lam, collector, "retry-sink", sink=True)
    lam.put_function_event_invoke_config(
        FunctionName=name, DestinationConfig={"OnFailure": {"Destination": sink_arn}}
    )  # default: 2 retries
    request_id = send(lam, name, {"fail": True, "id": "r"})
    record = wait_record(
        collector, sink, lambda r: r["event"]["requestContext"]["requestId"] == request_id
    )
    runs = runs_of(collector, name, request_id)
    assert len(runs) == 3
    first, second = runs[1]["t"] - runs[0]["t"], runs[2]["t"] - runs[1]["t"]
    # Lambda's one and two minutes, plus up to the retry jitter (ember/invoke/retry.py).
    late = 1 + FUNCTION_ERROR_JITTER
    assert FIRST_RETRY <= first < FIRST_RETRY * late + SLACK, first
    assert SECOND_RETRY <= second < SECOND_RETRY * late + SLACK, second
    assert record["event"]["requestContext"]["condition"] == "RetriesExhausted"
    assert record["event"]["requestContext"]["approximateInvokeCount"] == 3


@pytest.mark.parametrize("retries", [0, 1, 2])
def test_a_poison_event_reaches_the_dead_letter_function_after_exactly_its_attempts(
    lam: Any, collector: Collector, retries: int
) -> None:
    dlq, dlq_arn = recorder(lam, collector, "dlq", sink=True)
    name, _ = recorder(lam, collector, "poison", DeadLetterConfig={"TargetArn": dlq_arn})
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=retries)
    event = {"fail": True, "id": f"poison-{retries}"}
    request_id = send(lam, name, event)
    letter = wait_record(
        collector, dlq, lambda r: (r["custom"] or {}).get("RequestID") == request_id
    )
    assert len(runs_of(collector, name, request_id)) == retries + 1
    assert letter["event"] == event  # a dead letter carries the original event
    assert letter["custom"] == {
        "RequestID": request_id,
        "ErrorCode": "200",
        "ErrorMessage": f"poison poison-{retries}",
    }


@pytest.mark.parametrize(("age", "runs"), [(60, 1), (100, 2)])
def test_an_event_older_than_its_maximum_age_fails_as_event_age_exceeded(
    lam: Any, collector: Collector, age: int, runs: int
) -> None:
    """Scaled: age 60 -> 0.6 s, which the first retry (at 0.6 s) does not beat; 100 ->
    1.0 s: the first retry runs, the second (at 1.8 s) would be too old."""
    name, _ = recorder(lam, collector, "aged")
    sink, sink_arn = recorder(lam, collector, "aged-sink", sink=True)
    lam.put_function_event_invoke_config(
        FunctionName=name,
        MaximumEventAgeInSeconds=age,
        DestinationConfig={"OnFailure": {"Destination": sink_arn}},
    )
    request_id = send(lam, name, {"fail": True, "id": "aged"})
    record = wait_record(
        collector, sink, lambda r: r["event"]["requestContext"]["requestId"] == request_id
    )
    context = record["event"]["requestContext"]
    assert (context["condition"], context["approximateInvokeCount"]) == (
        "EventAgeExceeded",
        runs,
    )
    attempts = runs_of(collector, name, request_id)
    assert len(attempts) == runs
    # The failure is handed over when the event expires, not a whole retry delay later.
    assert record["t"] - attempts[0]["t"] < age * SCALE + SLACK


def test_an_event_for_an_alias_follows_the_aliases_config(lam: Any, collector: Collector) -> None:
    name, arn = recorder(lam, collector, "aliased")
    sink, sink_arn = recorder(lam, collector, "aliased-sink", sink=True)
    version = lam.publish_version(FunctionName=name)["Version"]
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
    lam.put_function_event_invoke_config(
        FunctionName=name,
        Qualifier="live",
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": sink_arn}},
    )  # $LATEST keeps the default of two retries
    request_id = send(lam, f"{name}:live", {"fail": True, "id": "alias"})
    record = wait_record(
        collector, sink, lambda r: r["event"]["requestContext"]["requestId"] == request_id
    )
    context = record["event"]["requestContext"]
    assert (context["functionArn"], context["approximateInvokeCount"]) == (f"{arn}:live", 1)
    assert record["event"]["responseContext"]["executedVersion"] == version
    (run,) = runs_of(collector, name, request_id)
    assert run["invoked_arn"] == f"{arn}:live"


def test_an_event_for_a_missing_alias_is_refused(lam: Any) -> None:
    name = _name("no-alias")
    create_function(lam, name, NOOP)
    expect_error(
        lambda: lam.invoke(FunctionName=name, Qualifier="nope", InvocationType="Event"),
        "ResourceNotFoundException",
        404,
        f"Function not found: arn:aws:lambda:us-east-1:000000000000:function:{name}:nope",
    )


def test_throttled_events_back_off_without_using_attempts_then_run(
    lam: Any, collector: Collector
) -> None:
    """Reserved concurrency 0 throttles every attempt: the event backs off (1 s doubling,
    scaled) until its maximum age and fails with no invocation counted; once the function
    may run again, new events run."""
    name, arn = recorder(lam, collector, "throttled")
    sink, sink_arn = recorder(lam, collector, "throttled-sink", sink=True)
    lam.put_function_event_invoke_config(
        FunctionName=name,
        MaximumEventAgeInSeconds=60,  # 0.6 s: about six backoffs
        DestinationConfig={"OnFailure": {"Destination": sink_arn}},
    )
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    request_id = send(lam, name, {"n": "throttled"})
    record = wait_record(
        collector, sink, lambda r: r["event"]["requestContext"]["requestId"] == request_id
    )["event"]
    assert record["requestContext"] == {
        "requestId": request_id,
        "functionArn": f"{arn}:$LATEST",
        "condition": "EventAgeExceeded",
        "approximateInvokeCount": 0,
    }
    assert record["responseContext"] == {"statusCode": 429}
    assert record["responsePayload"]["errorType"] == "TooManyRequestsException"
    assert runs_of(collector, name, request_id) == []

    lam.delete_function_concurrency(FunctionName=name)
    again = send(lam, name, {"n": "free"})
    wait_record(collector, name, lambda r: r["request_id"] == again)


# -- destinations ---------------------------------------------------------------------------


def test_destinations_receive_lambdas_invocation_record(lam: Any, collector: Collector) -> None:
    name, arn = recorder(lam, collector, "dest")
    ok, ok_arn = recorder(lam, collector, "dest-ok", sink=True)
    bad, bad_arn = recorder(lam, collector, "dest-bad", sink=True)
    lam.put_function_event_invoke_config(
        FunctionName=name,
        MaximumRetryAttempts=0,
        DestinationConfig={
            "OnSuccess": {"Destination": ok_arn},
            "OnFailure": {"Destination": bad_arn},
        },
    )
    good_id = send(lam, name, {"n": 1})
    bad_id = send(lam, name, {"fail": True, "id": "d"})
    success = wait_record(collector, ok, lambda r: True)["event"]
    failure = wait_record(collector, bad, lambda r: True)["event"]

    assert ISO_MS.fullmatch(success.pop("timestamp"))
    assert success == {
        "version": "1.0",
        "requestContext": {
            "requestId": good_id,
            "functionArn": f"{arn}:$LATEST",
            "condition": "Success",
            "approximateInvokeCount": 1,
        },
        "requestPayload": {"n": 1},
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST"},
        "responsePayload": {"seen": {"n": 1}},
    }
    assert ISO_MS.fullmatch(failure.pop("timestamp"))
    stack = failure["responsePayload"].pop("stackTrace")
    assert isinstance(stack, list)
    assert stack
    assert failure == {
        "version": "1.0",
        "requestContext": {
            "requestId": bad_id,
            "functionArn": f"{arn}:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": 1,
        },
        "requestPayload": {"fail": True, "id": "d"},
        "responseContext": {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": "Unhandled",
        },
        "responsePayload": {
            "errorMessage": "poison d",
            "errorType": "RuntimeError",
            "requestId": bad_id,
        },
    }


def test_a_vanished_destination_is_counted_and_the_queue_is_shown(
    srv: Server, lam: Any, collector: Collector
) -> None:
    name, _ = recorder(lam, collector, "lost")
    gone = _name("gone")
    create_function(lam, gone, NOOP)
    lam.put_function_event_invoke_config(
        FunctionName=name,
        DestinationConfig={
            "OnSuccess": {"Destination": f"arn:aws:lambda:us-east-1:000000000000:function:{gone}"}
        },
    )
    lam.delete_function(FunctionName=gone)
    request_id = send(lam, name, {"n": 2})
    wait_record(collector, name, lambda r: r["request_id"] == request_id)

    def counted() -> str | None:
        text = ember_cli(srv, "metrics", name)
        return text if re.search(r"DestinationDeliveryFailures\s+1\b", text) else None

    text = wait_until(counted)
    assert re.search(r"AsyncEventsReceived\s+1\b", text)
    assert re.search(r"AsyncEventsDropped\s+0\b", text)
    assert re.search(r"AsyncEventAge\s+count 1, avg", text)
    queue = ember_cli(srv, "queue")
    assert queue.splitlines()[0].split() == [
        "FUNCTION",
        "DEPTH",
        "IN",
        "FLIGHT",
        "OLDEST",
        "DROPPED",
    ]
    (row,) = [line.split() for line in queue.splitlines() if line.startswith(name + " ")]
    assert row == [name, "0", "0", "-", "0"]


def test_dropped_events_show_in_the_queue_listing(
    srv: Server, lam: Any, collector: Collector
) -> None:
    name, _ = recorder(lam, collector, "drops")
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
    for n in range(3):
        send(lam, name, {"fail": True, "id": n})

    def dropped() -> list[str] | None:
        rows = [line.split() for line in ember_cli(srv, "queue").splitlines()]
        return next((r for r in rows if r[0] == name and r[4] == "3"), None)

    assert wait_until(dropped) == [name, "0", "0", "-", "3"]
    assert re.search(r"AsyncEventsDropped\s+3\b", ember_cli(srv, "metrics", name))


# -- DeadLetterConfig on the function -------------------------------------------------------


def test_dead_letter_config_is_kept_shown_and_checked(lam: Any, collector: Collector) -> None:
    _, dlq_arn = recorder(lam, collector, "dl-target", sink=True)
    name, _ = recorder(lam, collector, "dl-owner", DeadLetterConfig={"TargetArn": dlq_arn})
    assert lam.get_function_configuration(FunctionName=name)["DeadLetterConfig"] == {
        "TargetArn": dlq_arn
    }
    # A queue is taken unseen, as on AWS (tests/e2e/test_destination_queues.py delivers).
    sqs = "arn:aws:sqs:us-east-1:000000000000:my-queue"
    lam.update_function_configuration(FunctionName=name, DeadLetterConfig={"TargetArn": sqs})
    wait_settled(lam, name)
    assert lam.get_function_configuration(FunctionName=name)["DeadLetterConfig"] == {
        "TargetArn": sqs
    }
    lam.update_function_configuration(FunctionName=name, DeadLetterConfig={"TargetArn": dlq_arn})
    wait_settled(lam, name)
    missing = "arn:aws:lambda:us-east-1:000000000000:function:not-there"
    expect_error(
        lambda: lam.update_function_configuration(
            FunctionName=name, DeadLetterConfig={"TargetArn": missing}
        ),
        "InvalidParameterValueException",
        400,
        f"The dead-letter target {missing} is invalid: no such function exists",
    )
    lam.update_function_configuration(FunctionName=name, DeadLetterConfig={"TargetArn": ""})
    wait_until(lambda: "DeadLetterConfig" not in lam.get_function_configuration(FunctionName=name))
