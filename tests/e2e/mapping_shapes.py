"""Replays of AWS's recorded event source mapping answers (tests/e2e/test_response_shapes.py):
an SQS queue, Kinesis stream or DynamoDB table stream, a function (with the recorded
qualifier) and a mapping configured as the answer shows, then the recorded call. Kafka
sources (self-managed or MSK) are not served: their answers are skipped, with the reason."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from tests.e2e.apicalls import HANDLER_CODE, RUNTIME, unique, wait_settled
from tests.e2e.harness import ROLE, make_zip, wait_until
from tests.e2e.recorded_shapes import Recorded

if TYPE_CHECKING:  # shape_replays imports this module
    from tests.e2e.shape_replays import Ctx

# Members a create or update takes as the recording shows them.
_SETTINGS = (
    "BatchSize",
    "MaximumBatchingWindowInSeconds",
    "FunctionResponseTypes",
    "ScalingConfig",
)
# What a stream mapping (Kinesis, DynamoDB) takes besides, with Lambda's defaults: the
# replay gives only what differs from them, so that Ember's defaults are compared too.
_STREAM_DEFAULTS: dict[str, Any] = {
    "BatchSize": 100,
    "MaximumBatchingWindowInSeconds": 0,
    "StartingPosition": None,  # required for streams: always given
    "ParallelizationFactor": 1,
    "BisectBatchOnFunctionError": False,
    "MaximumRetryAttempts": -1,
    "MaximumRecordAgeInSeconds": -1,
    "TumblingWindowInSeconds": 0,
    "FunctionResponseTypes": [],
}
_SERVED = (":sqs:", ":kinesis:", ":dynamodb:")


def _function(ctx: Ctx, function_arn: str) -> str:
    """A function named as the recording's FunctionArn, with its qualifier made to exist."""
    name = unique("esm-shape")
    ctx.lam.create_function(
        FunctionName=name, Runtime=RUNTIME, Role=ROLE, Handler="index.handler",
        Code={"ZipFile": make_zip({"index.py": HANDLER_CODE})},
    )  # fmt: skip
    wait_settled(ctx.lam, name)
    plain = re.sub(r"<[^<>]+>", "name", function_arn)  # the recorded name is a placeholder
    qualifier = plain.split(":function:", 1)[1].partition(":")[2]
    if not qualifier:
        return name
    if qualifier != "$LATEST":
        version = ctx.lam.publish_version(FunctionName=name)["Version"]
        if not qualifier.isdigit():
            ctx.lam.create_alias(FunctionName=name, Name=qualifier, FunctionVersion=version)
            return f"{name}:{qualifier}"
        return f"{name}:{version}"
    return f"{name}:$LATEST"


def _pattern(pattern: Any) -> str:
    """A recorded pattern, with a placeholder value (a recorded timestamp) made a list."""
    if isinstance(pattern, dict):
        return json.dumps({k: json.loads(_pattern(v)) for k, v in pattern.items()})
    return json.dumps([0] if isinstance(pattern, str) else pattern)


def _settings(doc: dict[str, Any]) -> dict[str, Any]:
    args = {k: doc[k] for k in _SETTINGS if k in doc and isinstance(doc[k], int | list | dict)}
    if "FilterCriteria" in doc:
        filters = doc["FilterCriteria"]["Filters"]
        args["FilterCriteria"] = {"Filters": [{"Pattern": _pattern(f["Pattern"])} for f in filters]}
    if isinstance(doc.get("MaximumBatchingWindowInSeconds"), str):  # the recording hid it
        args["MaximumBatchingWindowInSeconds"] = 1
    return args


def _as_recorded(answer: dict[str, Any]) -> dict[str, Any]:
    """FilterCriteria patterns parsed, as the recording shows them."""
    for item in answer.get("FilterCriteria", {}).get("Filters", []):
        item["Pattern"] = json.loads(item["Pattern"])
    return answer


def _wait_state(ctx: Ctx, uuid: str, state: str) -> None:
    wait_until(lambda: ctx.lam.get_event_source_mapping(UUID=uuid)["State"] == state, limit=15)


def _queue(ctx: Ctx) -> str:
    sqs = ctx.server.client("sqs")
    url = sqs.create_queue(QueueName=unique("esm-shape"))["QueueUrl"]
    arn: str = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return arn


def _source(ctx: Ctx, recorded: str) -> tuple[str, Callable[[], None]]:
    """A source of the recorded kind, and how to put one record into it."""
    if ":kinesis:" in recorded:
        kinesis = ctx.server.client("kinesis")
        name = unique("esm-shape")
        kinesis.create_stream(StreamName=name, ShardCount=1)
        arn: str = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"][
            "StreamARN"
        ]
        return arn, lambda: kinesis.put_record(StreamARN=arn, Data=b"{}", PartitionKey="k")
    if ":dynamodb:" in recorded:
        ddb = ctx.server.client("dynamodb")
        name = unique("esm-shape")
        table = ddb.create_table(
            TableName=name, BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )  # fmt: skip
        ddb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1})
        stream: str = table["TableDescription"]["LatestStreamArn"]
        return stream, lambda: ddb.put_item(TableName=name, Item={"pk": {"S": "k"}})
    return _queue(ctx), lambda: None


def _stream_settings(ctx: Ctx, doc: dict[str, Any]) -> dict[str, Any]:
    given = {**_settings(doc), **{k: doc[k] for k in _STREAM_DEFAULTS if k in doc}}
    args = {k: v for k, v in given.items() if _STREAM_DEFAULTS.get(k, ...) != v}
    destination = doc.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination", "")
    if ":sqs:" in destination:
        args["DestinationConfig"] = {"OnFailure": {"Destination": _queue(ctx)}}
    elif ":sns:" in destination:
        topic = ctx.server.client("sns").create_topic(Name=unique("esm-shape"))["TopicArn"]
        args["DestinationConfig"] = {"OnFailure": {"Destination": topic}}
    return args  # S3 destinations are not served: none (test_response_shapes.DIFFERENCES)


def event_source_mapping(ctx: Ctx, row: Recorded) -> Any:
    docs = row.body.get("EventSourceMappings", [row.body])
    if not docs or any(
        not any(kind in d.get("EventSourceArn", "") for kind in _SERVED) for d in docs
    ):
        pytest.skip(
            "Ember serves SQS queues, Kinesis streams and DynamoDB table streams as event "
            "sources; Kafka (self-managed or MSK), Amazon MQ and DocumentDB are not served"
        )
    doc = docs[0]
    arn, put = _source(ctx, doc["EventSourceArn"])
    function = _function(ctx, doc["FunctionArn"])
    # A mapping the recording shows Disabled (created so) or Enabling (enabled by the update).
    disabled = doc.get("State") in ("Disabled", "Enabling")
    settings = _stream_settings(ctx, doc) if ":sqs:" not in arn else _settings(doc)
    created = ctx.lam.create_event_source_mapping(
        FunctionName=function, EventSourceArn=arn, **settings, Enabled=not disabled
    )
    if row.operation == "CreateEventSourceMapping":
        return _as_recorded(created)
    uuid = created["UUID"]
    _wait_state(ctx, uuid, "Disabled" if disabled else "Enabled")
    if doc.get("LastProcessingResult") == "OK":  # recorded once a batch went through
        put()
        wait_until(
            lambda: ctx.lam.get_event_source_mapping(UUID=uuid)["LastProcessingResult"] == "OK",
            limit=30,
        )
    if row.operation == "GetEventSourceMapping":
        return _as_recorded(ctx.lam.get_event_source_mapping(UUID=uuid))
    if row.operation == "UpdateEventSourceMapping" and doc.get("State") == "Enabling":
        return _as_recorded(ctx.lam.update_event_source_mapping(UUID=uuid, Enabled=True))
    if row.operation == "UpdateEventSourceMapping" and doc.get("State") == "Disabling":
        return _as_recorded(ctx.lam.update_event_source_mapping(UUID=uuid, Enabled=False))
    if row.operation == "UpdateEventSourceMapping":
        other = _function(ctx, doc["FunctionArn"])
        return _as_recorded(ctx.lam.update_event_source_mapping(UUID=uuid, FunctionName=other))
    if row.operation == "DeleteEventSourceMapping":
        return _as_recorded(ctx.lam.delete_event_source_mapping(UUID=uuid))
    answer = ctx.lam.list_event_source_mappings(EventSourceArn=arn)
    for item in answer["EventSourceMappings"]:
        _as_recorded(item)
    return answer


MAPPING_REPLAYS = dict.fromkeys(
    (
        "CreateEventSourceMapping",
        "GetEventSourceMapping",
        "UpdateEventSourceMapping",
        "DeleteEventSourceMapping",
        "ListEventSourceMappings",
    ),
    event_source_mapping,
)
