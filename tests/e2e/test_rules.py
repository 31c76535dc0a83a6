"""EventBridge rules and schedules through boto3 and the AWS CLI: rules and targets,
PutEvents delivered to functions with EventBridge's event shape, Input / InputPath /
InputTransformer, a schedule firing (rate periods scaled by --schedule-scale), and rules
surviving a restart. Functions report to a collector on the host."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import Server, aws_cli, run_server, wait_until
from tests.e2e.recorder import Collector, create_recorder

pytestmark = pytest.mark.e2e

SCALE = "0.02"  # rate(1 minute) fires every 1.2 s


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory, collector: Collector) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("ember-rules")
    with run_server(
        root / "data", "--schedule-scale", SCALE, *collector.access, "--idle-timeout", "60"
    ) as server:
        yield server


@pytest.fixture(scope="module")
def lam(srv: Server) -> Any:
    return srv.client()


@pytest.fixture(scope="module")
def events(srv: Server) -> Any:
    return srv.client("events")


@pytest.fixture(scope="module")
def sink(lam: Any, collector: Collector) -> tuple[str, str]:
    """One recording function the tests share (each test uses its own rule and source)."""
    name = _name("sink")
    return name, create_recorder(lam, name, collector, sink=True)


def received(collector: Collector, name: str, source: str) -> list[dict[str, Any]]:
    return [
        r["event"]
        for r in collector.records(name)
        if isinstance(r["event"], dict) and source in json.dumps(r["event"])
    ]


def test_rule_lifecycle_and_errors(events: Any, sink: tuple[str, str]) -> None:
    name = _name("life")
    pattern = json.dumps({"source": ["my.app"]})
    arn = events.put_rule(Name=name, EventPattern=pattern, Description="d")["RuleArn"]
    assert arn == f"arn:aws:events:us-east-1:000000000000:rule/{name}"
    described = events.describe_rule(Name=name)
    assert described["Name"] == name
    assert described["Arn"] == arn
    assert described["EventPattern"] == pattern
    assert described["State"] == "ENABLED"
    assert described["EventBusName"] == "default"
    assert described["Description"] == "d"

    events.disable_rule(Name=name)
    assert events.describe_rule(Name=name)["State"] == "DISABLED"
    events.enable_rule(Name=name)
    assert events.describe_rule(Name=name)["State"] == "ENABLED"

    answer = events.put_targets(Rule=name, Targets=[{"Id": "t1", "Arn": sink[1]}])
    assert answer["FailedEntryCount"] == 0
    assert answer["FailedEntries"] == []
    assert events.list_targets_by_rule(Rule=name)["Targets"] == [{"Id": "t1", "Arn": sink[1]}]
    assert name in events.list_rule_names_by_target(TargetArn=sink[1])["RuleNames"]

    with pytest.raises(events.exceptions.ClientError) as refused:
        events.delete_rule(Name=name)
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "has targets" in refused.value.response["Error"]["Message"]

    removed = events.remove_targets(Rule=name, Ids=["t1", "nope"])
    assert removed["FailedEntryCount"] == 1
    assert removed["FailedEntries"][0]["TargetId"] == "nope"
    events.delete_rule(Name=name)
    with pytest.raises(events.exceptions.ResourceNotFoundException) as missing:
        events.describe_rule(Name=name)
    assert missing.value.response["Error"]["Message"] == (
        f"Rule {name} does not exist on EventBus default."
    )


def test_bad_patterns_and_schedules_are_refused(events: Any) -> None:
    with pytest.raises(events.exceptions.InvalidEventPatternException) as bad:
        events.put_rule(Name=_name("bad"), EventPattern='{"source": "not-an-array"}')
    assert bad.value.response["Error"]["Message"].startswith("Event pattern is not valid.")
    for expression in ("rate(1 minutes)", "rate(0 minutes)", "cron(0 12 * * * *)", "daily"):
        with pytest.raises(events.exceptions.ClientError) as refused:
            events.put_rule(Name=_name("bad"), ScheduleExpression=expression)
        error = refused.value.response["Error"]
        assert (error["Code"], error["Message"]) == (
            "ValidationException",
            "Parameter ScheduleExpression is not valid.",
        ), expression
    with pytest.raises(events.exceptions.ClientError) as neither:
        events.put_rule(Name=_name("bad"))
    assert neither.value.response["Error"]["Code"] == "ValidationException"
    event = json.dumps({"source": "a", "detail": {"n": 5}})
    pattern = json.dumps({"detail": {"n": [{"numeric": [">", 3]}]}})
    assert events.test_event_pattern(EventPattern=pattern, Event=event)["Result"] is True
    assert (
        events.test_event_pattern(EventPattern='{"source": ["b"]}', Event=event)["Result"] is False
    )


def test_list_rules_by_prefix_with_paging(events: Any) -> None:
    prefix = _name("page")
    names = [f"{prefix}-{i}" for i in range(5)]
    for name in names:
        events.put_rule(Name=name, ScheduleExpression="cron(0 12 * * ? *)", State="DISABLED")
    seen: list[str] = []
    token = None
    while True:
        page = events.list_rules(
            NamePrefix=prefix, Limit=2, **({"NextToken": token} if token else {})
        )
        assert len(page["Rules"]) <= 2
        seen += [r["Name"] for r in page["Rules"]]
        token = page.get("NextToken")
        if not token:
            break
    assert seen == names
    for name in names:
        events.delete_rule(Name=name)


def test_put_events_reach_matching_rules_targets(
    events: Any, collector: Collector, sink: tuple[str, str]
) -> None:
    source = _name("orders")
    rule = _name("match")
    events.put_rule(
        Name=rule,
        EventPattern=json.dumps(
            {"source": [source], "detail": {"amount": [{"numeric": [">", 100]}]}}
        ),
    )
    events.put_targets(Rule=rule, Targets=[{"Id": "fn", "Arn": sink[1]}])
    answer = events.put_events(
        Entries=[
            {"Source": source, "DetailType": "small", "Detail": json.dumps({"amount": 5})},
            {
                "Source": source,
                "DetailType": "big",
                "Detail": json.dumps({"amount": 500}),
                "Resources": ["arn:aws:s3:::b"],
            },
            {"Source": source, "DetailType": "broken", "Detail": "{not json"},
        ]
    )
    assert answer["FailedEntryCount"] == 1
    first, second, third = answer["Entries"]
    assert set(first) == {"EventId"}
    assert set(second) == {"EventId"}
    assert third["ErrorCode"] == "InvalidArgument"
    got = wait_until(lambda: received(collector, sink[0], source))
    assert len(got) == 1
    event = got[0]
    assert event["id"] == second["EventId"]
    assert event["version"] == "0"
    assert event["detail-type"] == "big"
    assert event["source"] == source
    assert event["account"] == "000000000000"
    assert event["region"] == "us-east-1"
    assert event["resources"] == ["arn:aws:s3:::b"]
    assert event["detail"] == {"amount": 500}
    assert set(event) == {
        "version", "id", "detail-type", "source", "account", "time", "region", "resources",
        "detail",
    }  # fmt: skip

    # Disabled, the rule lets events pass by.
    events.disable_rule(Name=rule)
    events.put_events(
        Entries=[{"Source": source, "DetailType": "big", "Detail": json.dumps({"amount": 501})}]
    )
    events.enable_rule(Name=rule)
    events.put_events(
        Entries=[{"Source": source, "DetailType": "big", "Detail": json.dumps({"amount": 502})}]
    )
    wait_until(
        lambda: any(e["detail"]["amount"] == 502 for e in received(collector, sink[0], source))
    )
    amounts = sorted(e["detail"]["amount"] for e in received(collector, sink[0], source))
    assert amounts == [500, 502]


def test_input_input_path_and_transformer(
    events: Any, collector: Collector, sink: tuple[str, str], lam: Any
) -> None:
    source = _name("shape")
    rule = _name("inputs")
    lam.publish_version(FunctionName=sink[0])
    alias = lam.create_alias(FunctionName=sink[0], Name=_name("live"), FunctionVersion="1")
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": [source]}))
    targets = [
        {"Id": "const", "Arn": sink[1], "Input": json.dumps({"const": source})},
        {"Id": "path", "Arn": sink[1], "InputPath": "$.detail"},
        {
            "Id": "tpl",
            "Arn": alias["AliasArn"],
            "InputTransformer": {
                "InputPathsMap": {"who": "$.detail.who", "n": "$.detail.n"},
                "InputTemplate": (
                    '{"greeting": "hi <who>", "n": <n>, "rule": "<aws.events.rule-name>"}'
                ),
            },
        },
    ]
    assert events.put_targets(Rule=rule, Targets=targets)["FailedEntryCount"] == 0
    events.put_events(
        Entries=[
            {"Source": source, "DetailType": "x", "Detail": json.dumps({"who": source, "n": 3})}
        ]
    )

    def three() -> list[dict[str, Any]] | None:
        records = [r for r in collector.records(sink[0]) if source in json.dumps(r["event"])]
        return records if len(records) == 3 else None

    records = wait_until(three)
    by_shape = {tuple(sorted(r["event"])): r for r in records}
    assert by_shape[("const",)]["event"] == {"const": source}
    assert by_shape[("n", "who")]["event"] == {"who": source, "n": 3}
    templated = by_shape[("greeting", "n", "rule")]
    assert templated["event"] == {"greeting": f"hi {source}", "n": 3, "rule": rule}
    assert templated["invoked_arn"] == alias["AliasArn"]


def test_a_schedule_fires_with_the_scheduled_event_shape(
    events: Any, collector: Collector, sink: tuple[str, str]
) -> None:
    rule = _name("tick")
    arn = events.put_rule(Name=rule, ScheduleExpression="rate(1 minute)")["RuleArn"]
    events.put_targets(Rule=rule, Targets=[{"Id": "fn", "Arn": sink[1]}])

    def ticks() -> list[dict[str, Any]] | None:
        got = [e for e in received(collector, sink[0], arn) if e["resources"] == [arn]]
        return got if len(got) >= 2 else None

    got = wait_until(ticks, limit=20)
    events.remove_targets(Rule=rule, Ids=["fn"])
    events.delete_rule(Name=rule)
    event = got[0]
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
    assert event["detail"] == {}
    assert event["version"] == "0"
    assert event["account"] == "000000000000"
    assert event["region"] == "us-east-1"
    assert got[0]["id"] != got[1]["id"]


def test_aws_cli_put_rule_and_list(srv: Server) -> None:
    name = _name("cli")
    put = aws_cli(srv.endpoint, "events", "put-rule", "--name", name,
                  "--schedule-expression", "cron(0 12 ? * MON-FRI *)")  # fmt: skip
    assert json.loads(put.stdout)["RuleArn"].endswith(f":rule/{name}")
    listed = json.loads(aws_cli(srv.endpoint, "events", "list-rules", "--name-prefix", name).stdout)
    assert [r["ScheduleExpression"] for r in listed["Rules"]] == ["cron(0 12 ? * MON-FRI *)"]
    aws_cli(srv.endpoint, "events", "delete-rule", "--name", name)


def test_rules_and_targets_survive_a_restart(tmp_path: Path, collector: Collector) -> None:
    data = tmp_path / "data"
    args = ("--schedule-scale", SCALE, *collector.access, "--idle-timeout", "60")
    name = _name("durable")
    with run_server(data, *args) as first:
        lam, events = first.client(), first.client("events")
        arn = create_recorder(lam, name, collector, sink=True)
        rule_arn = events.put_rule(Name=name, ScheduleExpression="rate(1 minute)")["RuleArn"]
        events.put_targets(Rule=name, Targets=[{"Id": "fn", "Arn": arn, "Input": '{"tick": 1}'}])
    with run_server(data, *args) as second:
        events = second.client("events")
        assert events.describe_rule(Name=name)["Arn"] == rule_arn
        assert events.list_targets_by_rule(Rule=name)["Targets"][0]["Input"] == '{"tick": 1}'
        before = collector.count(name)
        wait_until(lambda: collector.count(name) > before, limit=20)
        assert collector.records(name)[-1]["event"] == {"tick": 1}


def test_queue_and_topic_targets(srv: Server) -> None:
    events, sqs, sns = srv.client("events"), srv.client("sqs"), srv.client("sns")
    source = _name("fanout")
    url = sqs.create_queue(QueueName=_name("rule-q"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    topic_arn = sns.create_topic(Name=_name("rule-t"))["TopicArn"]
    topic_url = sqs.create_queue(QueueName=_name("rule-tq"))["QueueUrl"]
    topic_queue_arn = sqs.get_queue_attributes(QueueUrl=topic_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=topic_queue_arn)
    rule = _name("fanout")
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": [source]}))
    answer = events.put_targets(
        Rule=rule,
        Targets=[
            {"Id": "q", "Arn": queue_arn},
            {"Id": "t", "Arn": topic_arn, "InputPath": "$.detail"},
        ],
    )
    assert answer["FailedEntryCount"] == 0
    events.put_events(Entries=[{"Source": source, "DetailType": "d", "Detail": '{"k": 1}'}])

    def one(queue_url: str) -> dict[str, Any]:
        got = wait_until(
            lambda: sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1).get("Messages")
        )
        body: dict[str, Any] = json.loads(got[0]["Body"])
        return body

    event = one(url)
    assert event["source"] == source
    assert event["detail"] == {"k": 1}
    assert json.loads(one(topic_url)["Message"]) == {"k": 1}
