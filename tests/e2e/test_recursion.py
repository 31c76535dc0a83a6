"""PutFunctionRecursionConfig / GetFunctionRecursionConfig, and Lambda's recursive loop
detection: a function that feeds the queue it is mapped to (or the topic it is subscribed
to) is stopped at the 16th hop unless its RecursiveLoop is Allow. The function reports each
invocation to a collector on the host (tests/e2e/recorder.py's), so the count is seen from
outside."""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.apicalls import ARN_PREFIX, deploy, expect_error, outcome_of
from tests.e2e.harness import Server, aws_cli, run_server, wait_until
from tests.e2e.recorder import QUEUE_LOOPER, TOPIC_LOOPER, Collector
from tests.e2e.test_conformance import expected_message, load_rows

pytestmark = pytest.mark.e2e

ROW = "TestLambdaRecursion::test_put_function_recursion_config_invalid_value/"
REPLAYED = frozenset({ROW + "put_recursion_invalid_value_error"})  # test_conformance counts it


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory, collector: Collector) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("ember-recursion")
    with run_server(root / "data", *collector.access, "--idle-timeout", "60") as server:
        yield server


@pytest.fixture(scope="module")
def lam(srv: Server) -> Any:
    return srv.client()


def fresh(lam: Any) -> str:
    name = f"rec-{uuid.uuid4().hex[:8]}"
    deploy(lam, name)
    return name


def test_default_put_get_and_deletion(lam: Any) -> None:
    name = fresh(lam)
    assert lam.get_function_recursion_config(FunctionName=name)["RecursiveLoop"] == "Terminate"
    put = lam.put_function_recursion_config(FunctionName=name, RecursiveLoop="Allow")
    assert put["RecursiveLoop"] == "Allow"
    assert lam.get_function_recursion_config(FunctionName=ARN_PREFIX + name)["RecursiveLoop"] == (
        "Allow"
    )
    lam.delete_function(FunctionName=name)
    expect_error(
        lambda: lam.get_function_recursion_config(FunctionName=name),
        "ResourceNotFoundException", 404, f"Function not found: {ARN_PREFIX}{name}",
    )  # fmt: skip
    deploy(lam, name)  # the same name again starts from the default
    assert lam.get_function_recursion_config(FunctionName=name)["RecursiveLoop"] == "Terminate"


def test_recorded_error_and_bad_input(srv: Server, lam: Any) -> None:
    name = fresh(lam)
    lax = srv.client(parameter_validation=False)
    row = load_rows()[ROW + "put_recursion_invalid_value_error"]
    got = expect_error(
        lambda: lax.put_function_recursion_config(FunctionName=name, RecursiveLoop="InvalidValue"),
        row.code, row.status, expected_message(row, {}),
    )  # fmt: skip
    assert got.fields == {}
    expect_error(
        lambda: lam.put_function_recursion_config(FunctionName="nope", RecursiveLoop="Allow"),
        "ResourceNotFoundException", 404, f"Function not found: {ARN_PREFIX}nope",
    )  # fmt: skip
    for bad in (f"{name}:1", "a:b:c:d:e:f:g:h"):
        got = outcome_of(functools.partial(
            lax.put_function_recursion_config, FunctionName=bad, RecursiveLoop="Allow"
        ))  # fmt: skip
        assert got.code == "ValidationException", bad
    got = outcome_of(lambda: lax.put_function_recursion_config(FunctionName=name, RecursiveLoop=1))
    assert got.code == "ValidationException"
    assert lam.get_function_recursion_config(FunctionName=name)["RecursiveLoop"] == "Terminate"


def test_aws_cli(srv: Server, lam: Any) -> None:
    name = fresh(lam)
    out = aws_cli(srv.endpoint, "lambda", "put-function-recursion-config", "--function-name",
                  name, "--recursive-loop", "Allow")  # fmt: skip
    assert json.loads(out.stdout) == {"RecursiveLoop": "Allow"}
    out = aws_cli(srv.endpoint, "lambda", "get-function-recursion-config", "--function-name", name)
    assert json.loads(out.stdout) == {"RecursiveLoop": "Allow"}


def looping(srv: Server, lam: Any, collector: Collector, limit: int, loop: str) -> str:
    """A function mapped to its own queue, which it feeds; started with one message."""
    sqs = srv.client("sqs")
    name = f"loop-{uuid.uuid4().hex[:8]}"
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    variables = {
        **collector.address(),
        "QUEUE_URL": url,
        "LIMIT": str(limit),
    }
    deploy(lam, name, {"app.py": QUEUE_LOOPER}, Environment={"Variables": variables}, Timeout=30)
    lam.put_function_recursion_config(FunctionName=name, RecursiveLoop=loop)
    lam.create_event_source_mapping(FunctionName=name, EventSourceArn=arn, BatchSize=1)
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"n": 0}))
    return name


def test_a_loop_is_stopped_at_the_sixteenth_hop(
    srv: Server, lam: Any, collector: Collector
) -> None:
    name = looping(srv, lam, collector, limit=40, loop="Terminate")
    wait_until(lambda: "recursive loop: " + name in srv.output(), limit=120)
    assert sorted(r["n"] for r in collector.records(name)) == list(range(16))


def test_allow_lets_a_loop_run(srv: Server, lam: Any, collector: Collector) -> None:
    name = looping(srv, lam, collector, limit=20, loop="Allow")
    wait_until(lambda: collector.count(name) >= 20, limit=120)
    assert sorted(r["n"] for r in collector.records(name)) == list(range(20))
    assert "recursive loop: " + name not in srv.output()


def test_a_loop_through_a_topic_is_stopped(srv: Server, lam: Any, collector: Collector) -> None:
    sns = srv.client("sns")
    name = f"topic-loop-{uuid.uuid4().hex[:8]}"
    topic = sns.create_topic(Name=name)["TopicArn"]
    variables = {
        **collector.address(),
        "TOPIC_ARN": topic,
        "LIMIT": "40",
    }
    created = deploy(lam, name, {"app.py": TOPIC_LOOPER}, Environment={"Variables": variables})
    lam.add_permission(FunctionName=name, StatementId="sns", Action="lambda:InvokeFunction",
                       Principal="sns.amazonaws.com", SourceArn=topic)  # fmt: skip
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=created["FunctionArn"])
    sns.publish(TopicArn=topic, Message=json.dumps({"n": 0}))
    wait_until(lambda: "recursive loop: " + name in srv.output(), limit=120)
    assert sorted(r["n"] for r in collector.records(name)) == list(range(16))
