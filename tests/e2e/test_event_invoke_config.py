"""EventInvokeConfig through boto3 and the AWS CLI: Put, Get, Update, Delete, List, bad
input, and AWS's recorded answers (shared/conformance) for the rows Ember can replay."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.apicalls import ARN_PREFIX, deploy, expect_error, outcome_of, unique
from tests.e2e.aws_answers import aws_row
from tests.e2e.harness import Server, aws_cli

pytestmark = pytest.mark.e2e

SCENARIO = "TestLambdaEventInvokeConfig::test_lambda_eventinvokeconfig_exceptions"
EMPTY_DESTINATIONS: dict[str, dict[str, str]] = {"OnSuccess": {}, "OnFailure": {}}


@pytest.fixture(scope="module")
def fn(server: Server) -> str:
    """An Active function these tests configure (each test cleans its config up)."""
    name = unique("eic")
    deploy(server.client(), name)
    return name


@pytest.fixture(scope="module")
def other(server: Server) -> str:
    name = unique("eic-target")
    deploy(server.client(), name)
    return name


@pytest.fixture
def lam(server: Server, fn: str) -> Any:
    client = server.client()
    yield client
    for config in client.list_function_event_invoke_configs(FunctionName=fn)[
        "FunctionEventInvokeConfigs"
    ]:
        qualifier = config["FunctionArn"].rsplit(":", 1)[1]
        client.delete_function_event_invoke_config(FunctionName=fn, Qualifier=qualifier)


def body(answer: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in answer.items() if k != "ResponseMetadata"}


# -- the resource's life --------------------------------------------------------------------


def test_put_get_update_delete_list(lam: Any, fn: str, other: str) -> None:
    put = body(lam.put_function_event_invoke_config(FunctionName=fn, MaximumRetryAttempts=1))
    assert isinstance(put.pop("LastModified"), datetime.datetime)
    assert put == {
        "FunctionArn": f"{ARN_PREFIX}{fn}:$LATEST",
        "MaximumRetryAttempts": 1,
        "DestinationConfig": EMPTY_DESTINATIONS,
    }
    got = body(lam.get_function_event_invoke_config(FunctionName=fn))
    got.pop("LastModified")
    assert got == put

    # Put replaces the whole config: what it does not name is unset again.
    lam.put_function_event_invoke_config(
        FunctionName=fn, MaximumRetryAttempts=2, MaximumEventAgeInSeconds=60
    )
    replaced = lam.put_function_event_invoke_config(FunctionName=fn, MaximumRetryAttempts=0)
    assert "MaximumEventAgeInSeconds" not in replaced

    # Update changes only what it names.
    lam.put_function_event_invoke_config(
        FunctionName=fn, MaximumRetryAttempts=2, MaximumEventAgeInSeconds=60
    )
    target = ARN_PREFIX + other
    updated = lam.update_function_event_invoke_config(
        FunctionName=fn,
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": target}},
    )
    assert (updated["MaximumRetryAttempts"], updated["MaximumEventAgeInSeconds"]) == (0, 60)
    assert updated["DestinationConfig"] == {"OnSuccess": {}, "OnFailure": {"Destination": target}}

    listed = lam.list_function_event_invoke_configs(FunctionName=fn)
    assert [c["FunctionArn"] for c in listed["FunctionEventInvokeConfigs"]] == [
        f"{ARN_PREFIX}{fn}:$LATEST"
    ]
    assert "NextMarker" not in listed

    assert (
        lam.delete_function_event_invoke_config(FunctionName=fn)["ResponseMetadata"][
            "HTTPStatusCode"
        ]
        == 204
    )
    assert (
        lam.list_function_event_invoke_configs(FunctionName=fn)["FunctionEventInvokeConfigs"] == []
    )


def test_configs_per_version_and_alias_are_listed_paged_and_go_with_the_alias(
    server: Server,
) -> None:
    lam = server.client()
    name = unique("eic-quals")
    deploy(lam, name)
    version = lam.publish_version(FunctionName=name)["Version"]
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
    for qualifier in ("$LATEST", version, "live"):
        put = lam.put_function_event_invoke_config(
            FunctionName=name, Qualifier=qualifier, MaximumRetryAttempts=1
        )
        assert put["FunctionArn"] == f"{ARN_PREFIX}{name}:{qualifier}"
    by_arn = lam.put_function_event_invoke_config(
        FunctionName=f"{ARN_PREFIX}{name}:live", MaximumRetryAttempts=0
    )
    assert by_arn["FunctionArn"] == f"{ARN_PREFIX}{name}:live"

    first = lam.list_function_event_invoke_configs(FunctionName=name, MaxItems=2)
    rest = lam.list_function_event_invoke_configs(
        FunctionName=name, MaxItems=2, Marker=first["NextMarker"]
    )
    assert "NextMarker" not in rest
    arns = [c["FunctionArn"] for page in (first, rest) for c in page["FunctionEventInvokeConfigs"]]
    assert arns == [f"{ARN_PREFIX}{name}:{q}" for q in ("$LATEST", version, "live")]

    lam.delete_alias(FunctionName=name, Name="live")
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
    expect_error(
        lambda: lam.get_function_event_invoke_config(FunctionName=name, Qualifier="live"),
        "ResourceNotFoundException",
        404,
        f"The function {ARN_PREFIX}{name}:live doesn't have an EventInvokeConfig",
    )


def test_the_config_goes_with_its_function(server: Server) -> None:
    lam = server.client()
    name = unique("eic-gone")
    deploy(lam, name)
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
    lam.delete_function(FunctionName=name)
    deploy(lam, name)  # a new function of the same name starts without one
    expect_error(
        lambda: lam.get_function_event_invoke_config(FunctionName=name),
        "ResourceNotFoundException",
        404,
        f"The function {ARN_PREFIX}{name}:$LATEST doesn't have an EventInvokeConfig",
    )


def test_the_config_survives_a_restart(tmp_path: Path) -> None:
    from tests.e2e.harness import run_server

    for round_ in range(2):
        with run_server(tmp_path / "data") as srv:
            lam = srv.client()
            if round_ == 0:
                deploy(lam, "keeper")
                lam.put_function_event_invoke_config(
                    FunctionName="keeper", MaximumEventAgeInSeconds=120
                )
            else:
                got = lam.get_function_event_invoke_config(FunctionName="keeper")
                assert got["MaximumEventAgeInSeconds"] == 120


def test_aws_cli_round_trip(server: Server, lam: Any, fn: str) -> None:
    put = aws_cli(
        server.endpoint, "lambda", "put-function-event-invoke-config", "--function-name", fn,
        "--maximum-retry-attempts", "0", "--maximum-event-age-in-seconds", "3600",
    )  # fmt: skip
    doc = json.loads(put.stdout)
    assert (doc["MaximumRetryAttempts"], doc["MaximumEventAgeInSeconds"]) == (0, 3600)
    got = aws_cli(
        server.endpoint, "lambda", "get-function-event-invoke-config", "--function-name", fn
    )
    assert json.loads(got.stdout)["FunctionArn"] == f"{ARN_PREFIX}{fn}:$LATEST"


# -- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("member", "value", "path", "constraint"),
    [
        ("MaximumRetryAttempts", 3, "maximumRetryAttempts", "less than or equal to 2"),
        ("MaximumRetryAttempts", -1, "maximumRetryAttempts", "greater than or equal to 0"),
        ("MaximumEventAgeInSeconds", 59, "maximumEventAgeInSeconds", "greater than or equal to 60"),
        (
            "MaximumEventAgeInSeconds",
            21601,
            "maximumEventAgeInSeconds",
            "less than or equal to 21600",
        ),
    ],
)
def test_ranges_are_the_models(
    server: Server, fn: str, member: str, value: int, path: str, constraint: str
) -> None:
    lax = server.client(parameter_validation=False)
    expect_error(
        lambda: lax.put_function_event_invoke_config(FunctionName=fn, **{member: value}),
        "ValidationException",
        400,
        f"1 validation error detected: Value '{value}' at '{path}' failed to satisfy "
        f"constraint: Member must have value {constraint}",
    )


@pytest.mark.parametrize(
    ("service", "what"),
    [
        ("events", "EventBridge event buses"),
        ("s3", "S3 buckets"),
    ],
)
def test_destinations_ember_cannot_deliver_to_are_refused(
    lam: Any, fn: str, service: str, what: str
) -> None:
    arn = f"arn:aws:{service}:us-east-1:000000000000:somewhere"
    expect_error(
        lambda: lam.put_function_event_invoke_config(
            FunctionName=fn, DestinationConfig={"OnFailure": {"Destination": arn}}
        ),
        "InvalidParameterValueException",
        400,
        f"Ember cannot deliver asynchronous invocation records to {what} yet ({arn}): use the "
        "ARN of an Ember function (arn:aws:lambda:REGION:ACCOUNT:function:NAME)",
    )


def test_a_destination_without_an_arn_is_accepted(lam: Any, fn: str) -> None:
    answer = lam.put_function_event_invoke_config(
        FunctionName=fn, DestinationConfig={"OnSuccess": {}}
    )
    assert answer["DestinationConfig"] == EMPTY_DESTINATIONS


# -- AWS's recorded answers -------------------------------------------------------------------


def scenarios(lam: Any, fn: str) -> dict[str, Any]:
    """Snapshot key -> (the call, names to put in the message for its placeholders)."""
    fn_arn = ARN_PREFIX + fn
    alias_arn = f"{fn_arn}:eventinvokealias"
    return {
        "put_functionname_name_notfound": lambda: lam.put_function_event_invoke_config(
            FunctionName="doesnotexist", MaximumRetryAttempts=1
        ),
        "put_functionname_arn_notfound": lambda: lam.put_function_event_invoke_config(
            FunctionName=ARN_PREFIX + "doesnotexist", MaximumRetryAttempts=1
        ),
        "put_functionname_nootherargs": lambda: lam.put_function_event_invoke_config(
            FunctionName="doesnotexist"
        ),
        "put_destination_lambda_doesntexist": lambda: lam.put_function_event_invoke_config(
            FunctionName=fn,
            DestinationConfig={"OnSuccess": {"Destination": ARN_PREFIX + "doesnotexist"}},
        ),
        "put_destination_recursive": lambda: lam.put_function_event_invoke_config(
            FunctionName=fn, DestinationConfig={"OnSuccess": {"Destination": fn_arn}}
        ),
        "put_destination_invalid_service_arn": lambda: lam.put_function_event_invoke_config(
            FunctionName=fn,
            DestinationConfig={"OnSuccess": {"Destination": fn_arn.replace(":lambda:", ":iam:")}},
        ),
        "put_destination_invalid_arn_pattern": lambda: lam.put_function_event_invoke_config(
            FunctionName=fn,
            DestinationConfig={
                "OnFailure": {"Destination": fn_arn.replace(":lambda:", ":_-/!lambda:")}
            },
        ),
        "put_alias_doesnotexist": lambda: lam.put_function_event_invoke_config(
            FunctionName=fn, Qualifier="eventinvokealiasdoesnotexist", MaximumRetryAttempts=1
        ),
        "put_alias_qualifiedarn_qualifierconflict": lambda: lam.put_function_event_invoke_config(
            FunctionName=alias_arn,
            Qualifier="eventinvokealiasdoesnotexist",
            MaximumRetryAttempts=1,
        ),
        "put_alias_shorthand_qualifierconflict": lambda: lam.put_function_event_invoke_config(
            FunctionName=f"{fn}:eventinvokealias",
            Qualifier="eventinvokealiasdoesnotexist",
            MaximumRetryAttempts=1,
        ),
        "put_shorthand_qualifier_mismatch_1": lambda: lam.put_function_event_invoke_config(
            FunctionName=f"{fn}:1", Qualifier="$LATEST", MaximumRetryAttempts=1
        ),
        "put_shorthand_qualifier_mismatch_2": lambda: lam.put_function_event_invoke_config(
            FunctionName=f"{fn}:$LATEST", Qualifier="1", MaximumRetryAttempts=1
        ),
        "put_shorthand_qualifier_mismatch_3": lambda: lam.put_function_event_invoke_config(
            FunctionName=f"{fn}:1", Qualifier="eventinvokealias", MaximumRetryAttempts=1
        ),
        "delete_function_not_found": lambda: lam.delete_function_event_invoke_config(
            FunctionName=fn
        ),
        "delete_function_doesnotexist": lambda: lam.delete_function_event_invoke_config(
            FunctionName="doesnotexist"
        ),
        "list_function_doesnotexist": lambda: lam.list_function_event_invoke_configs(
            FunctionName="doesnotexist"
        ),
        "get_function_doesnotexist": lambda: lam.get_function_event_invoke_config(
            FunctionName="doesnotexist"
        ),
        "get_qualifier_doesnotexist": lambda: lam.get_function_event_invoke_config(
            FunctionName=fn, Qualifier="doesnotexist"
        ),
        "update_eventinvokeconfig_function_doesnotexist": (
            lambda: lam.update_function_event_invoke_config(
                FunctionName="doesnotexist", MaximumRetryAttempts=0
            )
        ),
        "get_eventinvokeconfig_doesnotexist": lambda: lam.get_function_event_invoke_config(
            FunctionName=alias_arn
        ),
        "update_eventinvokeconfig_config_doesnotexist_without_qualifier": (
            lambda: lam.update_function_event_invoke_config(
                FunctionName=fn_arn, MaximumRetryAttempts=0
            )
        ),
    }


KEYS = [
    "put_functionname_name_notfound",
    "put_functionname_arn_notfound",
    "put_functionname_nootherargs",
    "put_destination_lambda_doesntexist",
    "put_destination_recursive",
    "put_destination_invalid_service_arn",
    "put_destination_invalid_arn_pattern",
    "put_alias_doesnotexist",
    "put_alias_qualifiedarn_qualifierconflict",
    "put_alias_shorthand_qualifierconflict",
    "put_shorthand_qualifier_mismatch_1",
    "put_shorthand_qualifier_mismatch_2",
    "put_shorthand_qualifier_mismatch_3",
    "delete_function_not_found",
    "delete_function_doesnotexist",
    "list_function_doesnotexist",
    "get_function_doesnotexist",
    "get_qualifier_doesnotexist",
    "update_eventinvokeconfig_function_doesnotexist",
    "get_eventinvokeconfig_doesnotexist",
    "update_eventinvokeconfig_config_doesnotexist_without_qualifier",
]


@pytest.mark.parametrize("key", KEYS)
def test_recorded_aws_answers(server: Server, fn: str, key: str) -> None:
    lam = server.client(parameter_validation=False)
    code, status, message = aws_row(SCENARIO, key)
    got = outcome_of(scenarios(lam, fn)[key])
    assert (got.code, got.status) == (code, status)
    assert got.message == message.replace("<function-name:1>", fn)


def test_recorded_answers_that_need_a_version_and_an_alias(server: Server) -> None:
    """The recording's set-up: a version and the alias `eventinvokealias`, no configs."""
    lam = server.client()
    name = unique("eic-rec")
    deploy(lam, name)
    version = lam.publish_version(FunctionName=name)["Version"]
    lam.create_alias(FunctionName=name, Name="eventinvokealias", FunctionVersion=version)
    alias_arn = f"{ARN_PREFIX}{name}:eventinvokealias"
    code, status, message = aws_row(
        SCENARIO, "update_eventinvokeconfig_config_doesnotexist_with_qualifier"
    )
    got = outcome_of(
        lambda: lam.update_function_event_invoke_config(
            FunctionName=alias_arn, MaximumRetryAttempts=0
        )
    )
    assert (got.code, got.status, got.message) == (
        code,
        status,
        message.replace("<function-name:1>", name),
    )

    lifecycle = "TestLambdaEventInvokeConfig::test_lambda_eventinvokeconfig_lifecycle"
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=1)
    code, status, message = aws_row(lifecycle, "get_invokeconfig_postpublish")
    got = outcome_of(
        lambda: lam.get_function_event_invoke_config(FunctionName=name, Qualifier=version)
    )
    assert (got.code, got.status) == (code, status)
    assert got.message == message.replace("<function-name:1>", name).replace(":1 ", f":{version} ")


@pytest.mark.parametrize(
    ("test", "key", "qualifier"),
    [
        (
            "TestLambdaFunction::test_ops_on_nonexisting_fn[get_function_event_invoke_config]",
            "not_found_exception",
            None,
        ),
        (
            "TestLambdaFunction::test_ops_on_nonexisting_version[get_function_event_invoke_config]",
            "version_not_found_exception",
            "1221",
        ),
    ],
)
def test_recorded_answers_for_missing_functions_and_versions(
    server: Server, fn: str, test: str, key: str, qualifier: str | None
) -> None:
    lam = server.client()
    code, status, message = aws_row(test, key)
    name = "nonexisting-fn" if qualifier is None else fn
    kwargs = {"Qualifier": qualifier} if qualifier else {}
    got = outcome_of(lambda: lam.get_function_event_invoke_config(FunctionName=name, **kwargs))
    assert (got.code, got.status) == (code, status)
    expected = message.replace("<nonexisting-fn-name>", name).replace("<fn-name>", name)
    assert got.message == expected
